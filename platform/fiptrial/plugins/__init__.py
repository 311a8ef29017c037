"""The plugin host: municipalities join the trial through plugins (see hookspecs.py).

What a plugin author imports lives here, so plugins depend on one stable module::

    from fiptrial.plugins import ExportRow, SitePluginInfo, hookimpl, load_mapping_csv

The manager (which needs Flask) is deliberately not imported here: importing this package must
stay cheap for a plugin's own module.
"""

from fiptrial.plugins.hookspecs import hookimpl
from fiptrial.plugins.info import SitePluginInfo, is_municipality_code
from fiptrial.plugins.mapping import (
    HISTORIC_2010_CODES,
    MappedReason,
    MappingFileError,
    ReasonEntry,
    ReasonMapping,
    load_mapping_csv,
    shared_codes,
)
from fiptrial.plugins.rows import ExportFormatError, ExportRow

__all__ = [
    "HISTORIC_2010_CODES",
    "ExportFormatError",
    "ExportRow",
    "MappedReason",
    "MappingFileError",
    "ReasonEntry",
    "ReasonMapping",
    "SitePluginInfo",
    "hookimpl",
    "is_municipality_code",
    "load_mapping_csv",
    "shared_codes",
]
