"""The hook implementations, registered under the entry point ``template``.

The platform calls these on this plugin only (interface 2.0): no hook is told which site it is
asked about, and none can answer for another site. The platform's default maps reasons from
the table, so this plugin does not implement ``map_reason``; see
fiptrial/plugins/plugin-hooks.md for every hook.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from typing import BinaryIO

from fiptrial.plugins import ExportRow, ReasonMapping, SitePluginInfo, hookimpl, load_mapping_csv
from fiptrial_plugin_template import MEMBERS, NAME, SITE_NAME, __version__, reader, synthetic

DATA = resources.files("fiptrial_plugin_template") / "data"


@cache
def mapping() -> ReasonMapping:
    """The shipped table, read once."""
    return load_mapping_csv(DATA / "mapping.csv")


@hookimpl
def site_plugin_info() -> SitePluginInfo:
    return SitePluginInfo(
        name=NAME,
        version=__version__,
        site_name=SITE_NAME,
        municipalities=MEMBERS,
        mapping_version=mapping().version,
        description="Generic BUS-coded CSV (';' or ',', UTF-8 or Windows-1252, jjjjmmdd)",
        api_version="2.0",  # the plugin interface this code was written for
    )


@hookimpl
def reason_mappings() -> Sequence[ReasonMapping]:
    # Every version the site ever had, oldest first (load_mapping_history reads a file of
    # several); this template has one.
    return (mapping(),)


@hookimpl
def read_export(source: BinaryIO) -> Iterator[ExportRow]:
    return reader.read_export(source)


@hookimpl
def sample_export() -> Traversable:
    return DATA / "sample_export.csv"


@hookimpl
def write_export(rows: Iterable[ExportRow], out: BinaryIO) -> int:
    return synthetic.write_rows(rows, out)
