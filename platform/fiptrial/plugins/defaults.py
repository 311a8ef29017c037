"""The platform's own hook implementations, registered before any installed plugin.

pluggy calls the most recently registered implementation first, so these defaults answer only
when no site plugin did -- the same interface for the core as for everyone else (Datasette's
``default_*.py`` pattern). They are also marked ``trylast`` so that the order survives a
plugin that registers late.
"""

from __future__ import annotations

from fiptrial.plugins.hookspecs import hookimpl
from fiptrial.plugins.mapping import MappedReason, ReasonMapping, map_with_table


@hookimpl(trylast=True)
def map_reason(
    local_code: str,
    new_municipality: str | None,
    site_municipalities: tuple[str, ...],
    mapping: ReasonMapping,
) -> MappedReason:
    """Apply the site's table with the platform's one transfer rule (see ``map_with_table``)."""
    return map_with_table(mapping, local_code, new_municipality, site_municipalities)
