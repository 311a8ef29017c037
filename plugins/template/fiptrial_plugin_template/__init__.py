"""Template FIP trial site plugin: copy it to connect a municipality (see README.md).

It reads a generic BUS-coded CSV, which any municipality can produce because it reports the
same fields to CBS every month; its local reason codes *are* the BUS codes.
"""

from importlib.metadata import PackageNotFoundError, version

#: The plugin's name: must equal the entry-point name in pyproject.toml.
NAME = "template"
SITE_NAME = "Template municipality"
#: Member municipalities as CBS codes, e.g. ("GM0748",). Empty: the members come from the
#: site's settings in the platform, which suits a plugin that several sites can share.
MEMBERS: tuple[str, ...] = ()

try:
    __version__ = version("fiptrial-plugin-template")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"
