"""FIP trial site for ISD Brabantse Wal: Bergen op Zoom, Steenbergen and Woensdrecht.

A declarative site: the platform reads ``site.toml``, ``export.toml`` and ``data/mapping.csv``
in this package and needs no code of it (see the README for why no rule needs code). The
Python here is only the synthetic-export generator for the demo, the tests and the benchmarks.

The ISD (intergemeentelijke sociale dienst) pays the benefits of its three member
municipalities, so a client who moves between them stays with the same service: such a move is
a transfer within the site, not an exit (the pilot lost exactly these clients).
"""

from importlib.metadata import PackageNotFoundError, version

NAME = "brabantse_wal"
SITE_NAME = "ISD Brabantse Wal"
#: Bergen op Zoom, Steenbergen, Woensdrecht (CBS codes).
MEMBERS: tuple[str, ...] = ("GM0748", "GM0851", "GM0873")
#: The header the ISD's export has (export.toml says how each column is read); the synthetic
#: generator writes it, and a test checks that the layout names the same columns.
COLUMNS = (
    "Registratienummer",
    "BSN",
    "Geboortedatum",
    "Geslacht",
    "Gemeentecode",
    "Aanvangsdatum uitkering",
    "Einddatum uitkering",
    "Reden beëindiging",
    "Omschrijving reden",
    "Nieuwe gemeentecode",
)
#: Columns added in 2027 for benefit units and spells; older exports lack them.
OPTIONAL_COLUMNS = ("Uitkeringsnummer", "Statistiekcode")

try:
    __version__ = version("fiptrial-brabantse-wal")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"
