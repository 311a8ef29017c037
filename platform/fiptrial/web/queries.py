"""Read-only queries behind the pages: lists with filters, monitoring figures, histories.

Nothing here changes data; every change goes through a service. Each function takes a site
that the caller already obtained through ``access.visible_site``, so scoping stays in one place.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select

from fiptrial.extensions import db
from fiptrial.models import (
    Agreement,
    Allocation,
    AuditEntry,
    CohortRandomisation,
    ConsentEvent,
    FollowupRound,
    ImportBatch,
    Participant,
    PlannedConversation,
    Site,
)
from fiptrial.models.conversations import OPEN_STATUSES
from fiptrial.services import conversations
from fiptrial.web.formatting import stratum_sort_key

PAGE_SIZE = 50


@dataclass
class ParticipantFilters:
    query: str = ""
    arm: str = ""  # "", "fip", "control", "none"
    eligible: str = ""  # "", "yes", "no"
    consent: str = ""  # "", "given", "declined", "withdrawn", "none"
    page: int = 1


@dataclass
class ParticipantRow:
    participant: Participant
    arm: str | None
    consent: str | None


@dataclass
class ParticipantPage:
    rows: list[ParticipantRow]
    total: int
    page: int
    pages: int


def _latest_consent_subquery() -> Any:
    """Each participant's latest consent status (events are append-only: highest id wins)."""
    latest_id = (
        select(ConsentEvent.participant_id, func.max(ConsentEvent.id).label("event_id"))
        .group_by(ConsentEvent.participant_id)
        .subquery()
    )
    return (
        select(ConsentEvent.participant_id, ConsentEvent.status)
        .join(latest_id, latest_id.c.event_id == ConsentEvent.id)
        .subquery()
    )


def list_participants(
    site: Site, filters: ParticipantFilters, *, pseudonym_for_bsn: str | None = None
) -> ParticipantPage:
    """One page of a site's participants; a BSN search matches on its pseudonym only."""
    consent = _latest_consent_subquery()
    query = (
        db.session.query(Participant, Allocation.arm, consent.c.status)
        .outerjoin(Allocation, Allocation.participant_id == Participant.id)
        .outerjoin(consent, consent.c.participant_id == Participant.id)
        .filter(Participant.site_id == site.id)
    )
    text = filters.query.strip()
    if pseudonym_for_bsn is not None:
        query = query.filter(Participant.pseudonym == pseudonym_for_bsn)
    elif text.isdigit() and len(text) < 8:
        query = query.filter(Participant.id == int(text))
    elif text:
        like = f"%{text.lower()}%"
        query = query.filter(
            func.lower(Participant.stratum).like(like)
            | func.lower(func.coalesce(Participant.municipality, "")).like(like)
            | Participant.pseudonym.like(f"{text.lower()}%")
        )
    if filters.arm in ("fip", "control"):
        query = query.filter(Allocation.arm == filters.arm)
    elif filters.arm == "none":
        query = query.filter(Allocation.id.is_(None))
    if filters.eligible == "yes":
        query = query.filter(Participant.eligible.is_(True))
    elif filters.eligible == "no":
        query = query.filter(Participant.eligible.is_(False))
    if filters.consent in ("given", "declined", "withdrawn"):
        query = query.filter(consent.c.status == filters.consent)
    elif filters.consent == "none":
        query = query.filter(consent.c.status.is_(None))
    total = query.count()
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(1, filters.page), pages)
    rows = query.order_by(Participant.id).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE).all()
    return ParticipantPage(
        rows=[ParticipantRow(p, arm, status) for p, arm, status in rows],
        total=total,
        page=page,
        pages=pages,
    )


def site_allocations(site: Site, *, page: int = 1) -> tuple[list[Allocation], int, int]:
    query = db.session.query(Allocation).filter(Allocation.site_id == site.id)
    total = query.count()
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(1, page), pages)
    rows = (
        query.order_by(Allocation.sequence.desc(), Allocation.id.desc())
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
        .all()
    )
    return rows, total, pages


@dataclass
class StratumBalance:
    """A stratum's allocations and the FIP count its allocation methods lead one to expect.

    ``expected`` and ``tolerance`` are in participants: a permuted block keeps a stratum within
    ``block size x p x (1 - p)`` of ``n x p``; a cohort lottery gives each stratum its quota
    rounded up or down (within 1 of ``n x fip / caseload``); minimisation balances the margins,
    not the strata, so a stratum may wander like simple randomisation (1.96 standard errors).
    A stratum outside that range is flagged: a fault, or a stratum to look at.
    """

    stratum: str
    fip: int
    control: int
    expected: float = 0.0
    tolerance: float = 0.0
    methods: tuple[str, ...] = ()

    @property
    def total(self) -> int:
        return self.fip + self.control

    @property
    def fip_share(self) -> float:
        return self.fip / self.total if self.total else 0.0

    @property
    def expected_share_range(self) -> tuple[float, float]:
        if not self.total:
            return (0.0, 0.0)
        low = max(0.0, self.expected - self.tolerance) / self.total
        high = min(float(self.total), self.expected + self.tolerance) / self.total
        return (low, high)

    @property
    def flagged(self) -> bool:
        return self.total > 0 and abs(self.fip - self.expected) > self.tolerance + 1e-9


@dataclass
class SiteMonitoring:
    site: Site
    registered: int
    eligible: int
    allocated: int
    arms: dict[str, int]
    expected_fip_share: float
    strata: list[StratumBalance]
    consent: dict[str, int]
    enrolment: list[tuple[date, int]] = field(default_factory=list)  # (month, cumulative)


def site_monitoring(site: Site) -> SiteMonitoring:
    """Enrolment over time, allocation balance per stratum and consent for one site."""
    registered = db.session.query(Participant).filter_by(site_id=site.id).count()
    eligible = db.session.query(Participant).filter_by(site_id=site.id, eligible=True).count()
    per_stratum: dict[str, Counter[str]] = defaultdict(Counter)
    arms: Counter[str] = Counter()
    # stratum -> (method, cohort id) -> participants allocated that way
    ways: dict[str, Counter[tuple[str, int | None]]] = defaultdict(Counter)
    for stratum, arm, method, cohort_id, count in (
        db.session.query(
            Allocation.stratum,
            Allocation.arm,
            Allocation.method,
            Allocation.cohort_id,
            func.count(),
        )
        .filter(Allocation.site_id == site.id, Allocation.status == "active")
        .group_by(Allocation.stratum, Allocation.arm, Allocation.method, Allocation.cohort_id)
    ):
        per_stratum[stratum][arm] += count
        arms[arm] += count
        ways[stratum][(method, cohort_id)] += count
    consent = _latest_consent_subquery()
    consent_counts: Counter[str] = Counter()
    for status, count in (
        db.session.query(consent.c.status, func.count())
        .join(Participant, Participant.id == consent.c.participant_id)
        .filter(Participant.site_id == site.id)
        .group_by(consent.c.status)
    ):
        consent_counts[status] += count
    consent_counts["none"] = registered - sum(consent_counts.values())
    months: Counter[date] = Counter()
    for (registered_on,) in db.session.query(Participant.registered_on).filter_by(site_id=site.id):
        months[registered_on.replace(day=1)] += 1
    cumulative, running = [], 0
    for month in sorted(months):
        running += months[month]
        cumulative.append((month, running))
    ratios = site.ratios()
    expected = ratios.get("fip", 0) / sum(ratios.values()) if ratios else 0.0
    block = sum(ratios.values()) * max(site.trial.block_multipliers or [1])
    cohorts = {
        c.id: c.fip / c.caseload if c.caseload else 0.0
        for c in db.session.query(CohortRandomisation).filter_by(site_id=site.id)
    }
    strata = []
    for stratum in sorted(per_stratum, key=stratum_sort_key):
        counts = per_stratum[stratum]
        want, slack = 0.0, 0.0
        for (method, cohort_id), n in ways[stratum].items():
            if method == "cohort":
                want += n * cohorts.get(cohort_id or 0, expected)
                slack += 1
            elif method == "permuted_blocks":
                want += n * expected
                slack += block * expected * (1 - expected)
            else:
                want += n * expected
                slack += 1.96 * math.sqrt(n * expected * (1 - expected))
        strata.append(
            StratumBalance(
                stratum,
                counts.get("fip", 0),
                counts.get("control", 0),
                expected=want,
                tolerance=slack,
                methods=tuple(sorted({m for m, _ in ways[stratum]})),
            )
        )
    return SiteMonitoring(
        site=site,
        registered=registered,
        eligible=eligible,
        allocated=sum(arms.values()),
        arms=dict(arms),
        expected_fip_share=expected,
        strata=strata,
        consent=dict(consent_counts),
        enrolment=cumulative,
    )


def site_import_batch(site: Site, batch_id: int) -> ImportBatch | None:
    """One of the site's import batches (None when it belongs to another site)."""
    batch = db.session.get(ImportBatch, batch_id)
    return batch if batch is not None and batch.site_id == site.id else None


def followup_rounds(site: Site, limit: int = 12) -> list[FollowupRound]:
    """The site's follow-up rounds, newest first: has this month's export arrived?"""
    return (
        db.session.query(FollowupRound)
        .filter_by(site_id=site.id)
        .order_by(FollowupRound.period.desc())
        .limit(limit)
        .all()
    )


def overdue_conversations(manager_id: int | None, today: date) -> list[PlannedConversation]:
    """Open conversations of one client manager whose date has passed, oldest first."""
    return (
        db.session.query(PlannedConversation)
        .filter(
            PlannedConversation.client_manager_id == (manager_id or 0),
            PlannedConversation.status.in_(OPEN_STATUSES),
            PlannedConversation.planned_date < today,
        )
        .order_by(PlannedConversation.planned_date, PlannedConversation.id)
        .all()
    )


def conversation_history(participant: Participant) -> dict[str, Any]:
    """Records (newest first), the plan, open agreements and running interventions."""
    records = list(reversed(conversations.records(participant)))
    plan = (
        db.session.query(PlannedConversation)
        .filter_by(participant_id=participant.id)
        .order_by(PlannedConversation.sequence)
        .all()
    )
    open_agreements = (
        db.session.query(Agreement)
        .filter_by(participant_id=participant.id, followup_record_id=None)
        .order_by(Agreement.id)
        .all()
    )
    interventions = conversations.interventions_of(participant.id)
    return {
        "records": records,
        "plan": plan,
        "next_planned": next((p for p in plan if p.status in OPEN_STATUSES), None),
        "open_agreements": open_agreements,
        "interventions": interventions,
        "running_interventions": [i for i in interventions if i.ended_on is None],
    }


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


AUDIT_PAGE_SIZE = 50


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
    total = query.count()
    pages = max(1, -(-total // AUDIT_PAGE_SIZE))
    page = min(max(1, filters.page), pages)
    rows = (
        query.order_by(AuditEntry.id.desc())
        .offset((page - 1) * AUDIT_PAGE_SIZE)
        .limit(AUDIT_PAGE_SIZE)
        .all()
    )
    return AuditPage(rows, total, page, pages)


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
