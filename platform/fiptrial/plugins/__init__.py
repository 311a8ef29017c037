"""The plugin host: municipalities join the trial through plugins (see hookspecs.py).

What a plugin author imports lives here, so plugins depend on one stable module::

    from fiptrial.plugins import ExportRow, SitePluginInfo, hookimpl, load_mapping_csv

Neither this package nor the host imports Flask or the platform (a test checks it): a plugin's
own tests and ``fiptrial plugins check`` run in a small environment. The manager is not
imported here, so that importing a plugin's module stays cheap.
"""

from fiptrial.plugins.hookspecs import PLUGIN_API_VERSION, hookimpl
from fiptrial.plugins.info import SitePluginInfo, is_municipality_code
from fiptrial.plugins.mapping import (
    HISTORIC_2010_CODES,
    MappedReason,
    MappingFileError,
    ReasonEntry,
    ReasonMapping,
    load_mapping_csv,
    load_mapping_history,
    shared_codes,
)
from fiptrial.plugins.messages import row_error
from fiptrial.plugins.rows import ExportFormatError, ExportRow, RowError

__all__ = [
    "HISTORIC_2010_CODES",
    "PLUGIN_API_VERSION",
    "ExportFormatError",
    "ExportRow",
    "MappedReason",
    "MappingFileError",
    "ReasonEntry",
    "ReasonMapping",
    "RowError",
    "SitePluginInfo",
    "hookimpl",
    "is_municipality_code",
    "load_mapping_csv",
    "load_mapping_history",
    "row_error",
    "shared_codes",
]
