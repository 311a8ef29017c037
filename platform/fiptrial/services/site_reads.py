"""What the site pages and the site API read: participant lists, allocations, monitoring.

Read only: every change goes through a service. Each function takes a site that the caller
already obtained through ``access.visible_site``, so scoping stays in one place; a client
manager's list is cut to the caseload in the query (``access.caseload_clause``).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import func, select

from fiptrial.extensions import db
from fiptrial.models import (
    Allocation,
    CohortRandomisation,
    ConsentEvent,
    ConsentForm,
    FollowupRound,
    ImportBatch,
    Participant,
    Site,
    User,
)
from fiptrial.services.access import Principal, caseload_clause
from fiptrial.services.eligibility import stratum_sort_key
from fiptrial.services.paging import page_count, page_of


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
    pagination = page_of(query.order_by(Participant.id), filters.page)
    return ParticipantPage(
        rows=[ParticipantRow(p, arm, status) for p, arm, status in pagination.items],
        total=pagination.total or 0,
        page=pagination.page,
        pages=page_count(pagination),
    )


def site_allocations(site: Site, *, page: int = 1) -> tuple[list[Allocation], int, int]:
    """One page of the site's allocations, latest first: (rows, total, pages)."""
    query = db.session.query(Allocation).filter(Allocation.site_id == site.id)
    pagination = page_of(query.order_by(Allocation.sequence.desc(), Allocation.id.desc()), page)
    return list(pagination.items), pagination.total or 0, page_count(pagination)


def participants_after(who: Principal, site: Site, *, after: int, limit: int) -> list[Participant]:
    """The API's participant list: by id from ``after``; a client manager's caseload only."""
    query = select(Participant).where(Participant.site_id == site.id, Participant.id > after)
    clause = caseload_clause(who)
    if clause is not None:
        query = query.where(clause)
    return list(db.session.scalars(query.order_by(Participant.id).limit(limit)))


def allocations_after(site: Site, *, after: int, limit: int) -> list[Allocation]:
    """The API's allocation list: up to ``limit`` allocations by id from ``after``."""
    return list(
        db.session.scalars(
            select(Allocation)
            .where(Allocation.site_id == site.id, Allocation.id > after)
            .order_by(Allocation.id)
            .limit(limit)
        )
    )


def cohort_allocations(cohort_id: int) -> list[Allocation]:
    """The allocations one cohort lottery made, in the order it made them."""
    return list(
        db.session.scalars(
            select(Allocation).where(Allocation.cohort_id == cohort_id).order_by(Allocation.id)
        )
    )


def consent_versions(site: Site) -> list[str]:
    """The versions of the site's trial's consent form, newest first."""
    return list(
        db.session.scalars(
            select(ConsentForm.version)
            .where(ConsentForm.trial_id == site.trial_id)
            .order_by(ConsentForm.valid_from.desc())
        )
    )


def active_staff(site: Site) -> list[User]:
    """The site's active users (coordinators and client managers), by display name."""
    return list(
        db.session.scalars(
            select(User)
            .where(User.site_id == site.id, User.active.is_(True))
            .order_by(User.display_name)
        )
    )


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
