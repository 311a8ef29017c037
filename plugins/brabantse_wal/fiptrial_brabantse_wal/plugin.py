"""The hook implementations, registered under the entry point ``brabantse_wal``.

Each per-site hook answers only when asked for ``brabantse_wal`` (see fiptrial.plugins.hookspecs).
Mapping a reason is left to the platform's default: the table says VHG is 32, and the platform
turns 32 with a new municipality inside the site into a transfer.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from typing import BinaryIO

from fiptrial.plugins import ExportRow, ReasonMapping, SitePluginInfo, hookimpl, load_mapping_csv
from fiptrial_brabantse_wal import MEMBERS, NAME, SITE_NAME, __version__, reader, synthetic

DATA = resources.files("fiptrial_brabantse_wal") / "data"


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
        description="Monthly client export of the ISD (CSV, ';', Windows-1252 or UTF-8 + BOM)",
    )


@hookimpl
def reason_mapping(site_plugin: str) -> ReasonMapping | None:
    return mapping() if site_plugin == NAME else None


@hookimpl
def read_export(site_plugin: str, source: BinaryIO) -> Iterator[ExportRow] | None:
    return reader.read_export(source) if site_plugin == NAME else None


@hookimpl
def sample_export(site_plugin: str) -> Traversable | None:
    return DATA / "sample_export.csv" if site_plugin == NAME else None


@hookimpl
def write_export(site_plugin: str, rows: Iterable[ExportRow], out: BinaryIO) -> int | None:
    return synthetic.write_rows(rows, out) if site_plugin == NAME else None
