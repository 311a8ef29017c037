"""Hooks of the fixture plugins in tests/plugins/fixtures that read nothing.

Several fixtures differ from a working site in one mistake only (a name, a claimed
municipality, a mapping); their hooks otherwise answer as every minimal site does, so they take
them from here and the mistake is all a fixture module shows. The fixture modules import this
by name: pytest puts tests/plugins on the path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from fiptrial.plugins import ExportRow, ReasonMapping, SitePluginInfo, hookimpl


def minimal_site_hooks(
    name: str, title: str, municipalities: tuple[str, ...], mapping: ReasonMapping
) -> tuple[Callable[[], SitePluginInfo], Callable[[], tuple[ReasonMapping, ...]]]:
    """``site_plugin_info`` and ``reason_mappings`` of a site at version 0.1 of interface 2.0.

    The info is built when the host asks, as a plugin's own hook builds it, so a bad value in
    it is the host's to find and name."""

    @hookimpl
    def site_plugin_info() -> SitePluginInfo:
        return SitePluginInfo(
            name, "0.1", title, municipalities, mapping.version, api_version="2.0"
        )

    @hookimpl
    def reason_mappings() -> tuple[ReasonMapping, ...]:
        return (mapping,)

    return site_plugin_info, reason_mappings


@hookimpl
def read_nothing(source: Any) -> Iterator[ExportRow]:
    """``read_export`` of a site whose exports hold no rows."""
    return iter(())
