"""The hook implementations, registered under the entry point ``template``.

Every hook that takes ``site_plugin`` must return ``None`` unless the name is this plugin's:
several municipalities' plugins are installed side by side and the first answer wins. The
platform's default maps reasons from the table, so this plugin does not implement
``map_reason``; see fiptrial/plugins/plugin-hooks.md for every hook.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
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
    )


@hookimpl
def reason_mapping(site_plugin: str) -> ReasonMapping | None:
    return mapping() if site_plugin == NAME else None


@hookimpl
def read_export(site_plugin: str, source: BinaryIO) -> Iterator[ExportRow] | None:
    # A plain function returning the reader's generator: a generator function here would
    # answer for every site.
    return reader.read_export(source) if site_plugin == NAME else None


@hookimpl
def sample_export(site_plugin: str) -> Traversable | None:
    return DATA / "sample_export.csv" if site_plugin == NAME else None


@hookimpl
def write_export(site_plugin: str, rows: Iterable[ExportRow], out: BinaryIO) -> int | None:
    return synthetic.write_rows(rows, out) if site_plugin == NAME else None
