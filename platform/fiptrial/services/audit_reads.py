"""The audit trail as the research admin's page reads it: filtered, newest first, in pages.

Read only: entries are written by :func:`fiptrial.services.audit.record` alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from fiptrial.extensions import db
from fiptrial.models import AuditEntry
from fiptrial.services.paging import page_count, page_of

AUDIT_PAGE_SIZE = 50


@dataclass
class AuditFilters:
    actor: str = ""
    action: str = ""
    entity: str = ""
    entity_id: str = ""
    site: str = ""
    since: date | None = None
    until: date | None = None
    page: int = 1


@dataclass
class AuditPage:
    rows: list[AuditEntry]
    total: int
    page: int
    pages: int


def audit_page(filters: AuditFilters) -> AuditPage:
    """One page of the audit trail, newest first. ``recorded_at`` is an ISO text in UTC, so a
    period is a range of texts (its end day included)."""
    query = db.session.query(AuditEntry)
    if filters.actor:
        query = query.filter(AuditEntry.actor == filters.actor)
    if filters.action:
        query = query.filter(AuditEntry.action == filters.action)
    if filters.entity:
        query = query.filter(AuditEntry.entity == filters.entity)
    if filters.entity_id:
        query = query.filter(AuditEntry.entity_id == filters.entity_id)
    if filters.site:
        query = query.filter(AuditEntry.site == filters.site)
    if filters.since:
        query = query.filter(AuditEntry.recorded_at >= filters.since.isoformat())
    if filters.until:
        query = query.filter(
            AuditEntry.recorded_at < (filters.until + timedelta(days=1)).isoformat()
        )
    pagination = page_of(query.order_by(AuditEntry.id.desc()), filters.page, AUDIT_PAGE_SIZE)
    return AuditPage(
        list(pagination.items), pagination.total or 0, pagination.page, page_count(pagination)
    )


def audit_choices() -> dict[str, list[str]]:
    """The actors, actions and entities that occur, for the filter lists."""
    return {
        name: sorted(v for (v,) in db.session.query(column).distinct() if v)
        for name, column in (
            ("actors", AuditEntry.actor),
            ("actions", AuditEntry.action),
            ("entities", AuditEntry.entity),
            ("sites", AuditEntry.site),
        )
    }
