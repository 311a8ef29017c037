"""Read-only queries behind the pages: lists with filters, monitoring figures, histories.

Nothing here changes data; every change goes through a service. Each function takes a site
that the caller already obtained through ``access.visible_site``, so scoping stays in one place.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import func, select

from fiptrial.extensions import db
from fiptrial.models import (
    Agreement,
    Allocation,
    ConsentEvent,
    FollowupRound,
    ImportBatch,
    Participant,
    PlannedConversation,
    Site,
)
from fiptrial.models.conversations import OPEN_STATUSES
from fiptrial.services import conversations

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
    stratum: str
    fip: int
    control: int

    @property
    def total(self) -> int:
        return self.fip + self.control

    @property
    def fip_share(self) -> float:
        return self.fip / self.total if self.total else 0.0


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
    for stratum, arm, count in (
        db.session.query(Allocation.stratum, Allocation.arm, func.count())
        .filter(Allocation.site_id == site.id)
        .group_by(Allocation.stratum, Allocation.arm)
    ):
        per_stratum[stratum][arm] += count
        arms[arm] += count
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
    return SiteMonitoring(
        site=site,
        registered=registered,
        eligible=eligible,
        allocated=sum(arms.values()),
        arms=dict(arms),
        expected_fip_share=expected,
        strata=[
            StratumBalance(s, c.get("fip", 0), c.get("control", 0))
            for s, c in sorted(per_stratum.items())
        ],
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
