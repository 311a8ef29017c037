"""FIP trial site plugin for ISD Brabantse Wal: Bergen op Zoom, Steenbergen and Woensdrecht.

The ISD (intergemeentelijke sociale dienst) pays the benefits of its three member
municipalities, so a client who moves between them stays with the same service: such a move is
a transfer within the site, not an exit (the pilot lost exactly these clients).
"""

from importlib.metadata import PackageNotFoundError, version

NAME = "brabantse_wal"
SITE_NAME = "ISD Brabantse Wal"
#: Bergen op Zoom, Steenbergen, Woensdrecht (CBS codes).
MEMBERS: tuple[str, ...] = ("GM0748", "GM0851", "GM0873")

try:
    __version__ = version("fiptrial-brabantse-wal")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"
