"""Allocation in the database: one participant at a time, its benefit unit, corrections.

The rules that decide an arm are in :mod:`.rules`; this module draws the randomness, takes the
locks, stores the allocation with its evidence and writes the audit entries. A cohort (a site's
caseload at once, :mod:`.cohort`) stores its allocations through :func:`store_allocation` too.

**Benefit units.** Partners on one benefit (participants sharing a ``unit_key``) are
randomised as one: the first partner allocated draws the arm by the trial's method; every later
partner takes that arm without a draw, recorded as method ``unit`` with ``unit_allocation_id``
naming the first partner's allocation. Such an allocation uses no slot of a block and is not
counted by minimisation, so a unit counts once. Eligibility and consent stay per person. The
unit's locks and first allocation are in :mod:`.units`; the partner's allocation is below.

Concurrency: each allocation locks the participant row (with its partners' rows, in id order),
then (minimisation only) the trial row, then the stratum's ``StratumState`` row, then the audit
head, always in that order (a cohort allocation locks its site first, then its participants by
id, then the same), so requests never deadlock, never allocate a participant twice and never
use or skip a slot of a block twice. The unique index on ``allocation.participant_id`` is the
last line of defence. Allocation cost does not depend on the number of earlier allocations:
nothing scans them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any, Required, TypedDict, Unpack

from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from fiptrial.errors import Conflict, Unprocessable
from fiptrial.extensions import db
from fiptrial.models import (
    Allocation,
    AllocationCorrection,
    ConsentEvent,
    MinimisationCount,
    Participant,
    RandomisationBlock,
    Site,
    StratumState,
    Trial,
)
from fiptrial.services import audit, consent
from fiptrial.services.eligibility import stratum_levels, whole_years
from fiptrial.services.moments import past_moment
from fiptrial.services.random_source import new_seed, secure_uniform, seed_commitment
from fiptrial.services.randomisation.rules import (
    CORRECTION_KINDS,
    derive_block,
    minimisation_choice,
    minimisation_scores,
)
from fiptrial.services.randomisation.units import lock_with_unit, unit_allocation
from fiptrial.services.transaction import (
    insert_ignoring_conflict,
    locked,
    locked_row,
    unit_of_work,
)
from fiptrial.timezone import local_date

LOCK_CHUNK = 1000  # ids per IN list (SQLite's bound-parameter limit; PostgreSQL is indifferent)


def allocation_summary(allocation: Allocation) -> dict[str, Any]:
    return {
        "id": allocation.id,
        "participant": allocation.participant_id,
        "arm": allocation.arm,
        "stratum": allocation.stratum,
        "sequence": allocation.sequence,
        "method": allocation.method,
        "status": allocation.status,
        "allocated_at": allocation.allocated_at.isoformat(),
        "unit_allocation": allocation.unit_allocation_id,
    }


def age_at_allocation(participant: Participant) -> int | None:
    """Whole years on the day of allocation (None while not allocated): what a role that may
    not see the birth date sees instead."""
    allocation = existing_allocation(participant.id)
    if allocation is None:
        return None
    return whole_years(participant.birth_date, local_date(allocation.allocated_at))


def existing_allocation(participant_id: int) -> Allocation | None:
    return db.session.query(Allocation).filter_by(participant_id=participant_id).one_or_none()


def _already_allocated(allocation: Allocation) -> Conflict:
    return Conflict(
        f"participant {allocation.participant_id} is already allocated",
        code="already_allocated",
        allocation=allocation_summary(allocation),
    )


def _check_allocatable(participant: Participant) -> None:
    if not participant.eligible:
        raise Unprocessable(
            "participant is not eligible: " + ", ".join(participant.ineligible_reasons),
            code="not_eligible",
            reasons=participant.ineligible_reasons,
        )
    if participant.trial.consent_design == "consent_first":
        state = consent.current_state(participant)
        if state.status != "given":
            raise Unprocessable(
                "this trial requires consent 'given' before allocation",
                code="consent_required",
            )
        if state.needs_reconsent:
            raise Unprocessable(
                "a newer consent form requires re-consent before allocation",
                code="reconsent_required",
            )


def stratum_state(trial_id: int, stratum: str) -> StratumState:
    """The stratum's counter row (allocations, current block and position), locked.

    Read under its lock first, so that the usual case costs one query. A stratum without its
    row yet inserts it (``ON CONFLICT DO NOTHING``: a concurrent insert of the same row wins)
    and gets it back from ``RETURNING``: a row this transaction inserted is its own until it
    commits. When the other insert won, the row is read under its lock after all.
    """
    query = db.session.query(StratumState).filter_by(trial_id=trial_id, stratum=stratum)
    state = locked(query).one_or_none()
    if state is not None:
        return state
    dialect = db.session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    inserted = db.session.scalars(
        insert(StratumState)
        .values(trial_id=trial_id, stratum=stratum, allocated=0, block_count=0, block_position=0)
        .on_conflict_do_nothing(index_elements=["trial_id", "stratum"])
        .returning(StratumState)
    ).one_or_none()
    return inserted if inserted is not None else locked(query).one()


def _next_from_block(
    trial: Trial, site: Site, state: StratumState, actor: str, at: datetime | None = None
) -> tuple[str, dict]:
    block = state.block
    if block is None or state.block_position >= len(block.arms):
        seed = new_seed()
        ratios = site.ratios()
        state.block_count += 1
        block = RandomisationBlock(
            trial_id=trial.id,
            stratum=state.stratum,
            number=state.block_count,
            seed=seed,
            ratios=ratios,
            multipliers=list(trial.block_multipliers),
            arms=derive_block(seed, ratios, trial.block_multipliers),
            **({"created_at": at} if at is not None else {}),
        )
        audit.record_created(
            "randomisation.block_committed",
            block,
            actor=actor,
            site=site.code,
            data={
                "stratum": state.stratum,
                "number": block.number,
                "size": len(block.arms),
                "seed_sha256": seed_commitment(seed),
            },
        )
        state.block = block
        state.block_position = 0
    position = state.block_position
    state.block_position += 1
    return block.arms[position], {"block_id": block.id, "block_position": position}


def _minimisation_counts(trial: Trial, levels: Mapping[str, str]) -> dict[str, dict[str, int]]:
    rows = (
        db.session.query(MinimisationCount)
        .filter(
            MinimisationCount.trial_id == trial.id,
            MinimisationCount.factor.in_(list(levels)),
        )
        .all()
    )
    counts: dict[str, dict[str, int]] = {factor: {} for factor in levels}
    for row in rows:
        if levels.get(row.factor) == row.level:
            counts[row.factor][row.arm] = row.count
    return counts


def count_for_minimisation(trial: Trial, allocations: Counter[tuple[str, str]]) -> None:
    """Add allocations to the minimisation counts: ``allocations`` counts them by stratum and
    arm; one upsert per counter row, however many allocations it adds."""
    increments: Counter[tuple[str, str, str]] = Counter()
    for (stratum, arm), number in allocations.items():
        for factor, level in stratum_levels(stratum).items():
            increments[(factor, level, arm)] += number
    for (factor, level, arm), number in increments.items():
        key = {"trial_id": trial.id, "factor": factor, "level": level, "arm": arm}
        insert_ignoring_conflict(
            MinimisationCount, {**key, "count": 0}, ["trial_id", "factor", "level", "arm"]
        )
        db.session.query(MinimisationCount).filter_by(**key).update(
            {MinimisationCount.count: MinimisationCount.count + number}, synchronize_session=False
        )


def _next_by_minimisation(trial: Trial, site: Site, stratum: str) -> tuple[str, dict]:
    levels = stratum_levels(stratum)
    counts = _minimisation_counts(trial, levels)
    ratios = site.ratios()
    scores = minimisation_scores(counts, ratios)
    u_tie, u_coin = secure_uniform(), secure_uniform()
    arm = minimisation_choice(scores, ratios, trial.minimisation_probability, u_tie, u_coin)
    evidence = {
        "counts": counts,
        "ratios": ratios,
        "scores": scores,
        "probability": trial.minimisation_probability,
        "u_tie": u_tie,
        "u_coin": u_coin,
    }
    return arm, evidence


class AllocationDetails(TypedDict, total=False):
    """How an allocation came about: the keywords of :func:`new_allocation` after the arm."""

    method: Required[str]
    actor: Required[str]
    evidence: Required[dict[str, Any]]
    block: dict[str, Any] | None
    cohort_id: int | None
    unit_allocation_id: int | None
    allocated_at: datetime | None


def store_allocation(
    participant: Participant, state: StratumState, arm: str, **details: Unpack[AllocationDetails]
) -> Allocation:
    """Store one allocation in the stratum's sequence, count it for minimisation, audit it."""
    allocation = new_allocation(participant, state, arm, **details)
    db.session.flush()
    if participant.trial.method == "minimisation" and details.get("unit_allocation_id") is None:
        count_for_minimisation(participant.trial, Counter([(participant.stratum, arm)]))
    audit_allocation(participant, allocation, details.get("allocated_at"))
    return allocation


def new_allocation(
    participant: Participant,
    state: StratumState,
    arm: str,
    *,
    method: str,
    actor: str,
    evidence: dict[str, Any],
    block: dict[str, Any] | None = None,
    cohort_id: int | None = None,
    unit_allocation_id: int | None = None,
    allocated_at: datetime | None = None,
) -> Allocation:
    """The next allocation of the stratum's sequence, added to the session but not flushed: a
    cohort adds all of its allocations and flushes them as one insert, then audits them in
    the same order (:func:`audit_allocation`)."""
    state.allocated += 1
    allocation = Allocation(
        trial_id=participant.trial_id,
        site_id=participant.site_id,
        participant_id=participant.id,
        arm=arm,
        stratum=participant.stratum,
        sequence=state.allocated,
        method=method,
        block_id=(block or {}).get("block_id"),
        block_position=(block or {}).get("block_position"),
        cohort_id=cohort_id,
        unit_allocation_id=unit_allocation_id,
        evidence=evidence,
        allocated_by=actor,
        **({"allocated_at": allocated_at} if allocated_at is not None else {}),
    )
    db.session.add(allocation)
    return allocation


def audit_allocation(
    participant: Participant, allocation: Allocation, allocated_at: datetime | None
) -> None:
    """The ``allocation.created`` entry of a flushed allocation."""
    audit.record_for_participant(
        "allocation.created",
        participant,
        actor=allocation.allocated_by,
        data={
            "allocation": allocation.id,
            "arm": allocation.arm,
            "stratum": allocation.stratum,
            "sequence": allocation.sequence,
            "method": allocation.method,
            **(
                {"block_position": allocation.block_position}
                if allocation.block_id is not None
                else {}
            ),
            **({"cohort": allocation.cohort_id} if allocation.cohort_id else {}),
            **(
                {"unit_allocation": allocation.unit_allocation_id}
                if allocation.unit_allocation_id
                else {}
            ),
            **({"allocated_at": allocated_at.isoformat()} if allocated_at is not None else {}),
        },
    )


def _site_last_allocated_at(site_id: int) -> datetime | None:
    return (
        db.session.query(db.func.max(Allocation.allocated_at)).filter_by(site_id=site_id).scalar()
    )


def checked_allocation_moment(
    participants: Sequence[Participant], site: Site, allocated_at: datetime | date
) -> datetime:
    """An explicit allocation moment (an allocation entered after it was made), checked.

    Not in the future; not before any participant's registration or (consent first) the date
    of their consent; not before the site's latest allocation, so that the order of the
    allocation sequence stays the order of time. A 422 naming ``allocated_at`` otherwise. Set
    based (a query per thousand participants), so a cohort costs what one allocation does.
    """
    moment = past_moment(allocated_at, "allocated_at")
    last = _site_last_allocated_at(site.id)
    if last is not None:
        past_moment(
            moment,
            "allocated_at",
            not_before=last,
            what="the site's latest allocation",
            code="allocated_before_last_allocation",
        )
    registered = max((p.registered_on for p in participants), default=None)
    if registered is not None:
        past_moment(
            moment,
            "allocated_at",
            not_before=registered,
            what="the participant's registration",
            code="allocated_before_registration",
        )
    if site.trial.consent_design == "consent_first":
        ids = [p.id for p in participants]
        given = max(
            (
                db.session.query(db.func.max(ConsentEvent.date))
                .filter(
                    ConsentEvent.participant_id.in_(ids[first : first + LOCK_CHUNK]),
                    ConsentEvent.status == "given",
                )
                .scalar()
                for first in range(0, len(ids), LOCK_CHUNK)
            ),
            default=None,
            key=lambda day: day or date.min,
        )
        if given is not None:
            past_moment(
                moment,
                "allocated_at",
                not_before=given,
                what="the participant's consent",
                code="allocated_before_consent",
            )
    return moment


def allocate(
    participant_id: int, *, actor: str, allocated_at: datetime | date | None = None
) -> Allocation:
    """Randomise one participant. 409 with the existing allocation when already allocated.

    ``allocated_at`` records an allocation made earlier than it is entered (see
    :mod:`fiptrial.services.moments`); by default the allocation is made now.
    """
    try:
        with unit_of_work():
            participant, trial, site = lock_with_unit(participant_id)
            existing = existing_allocation(participant_id)
            if existing is not None:
                raise _already_allocated(existing)
            _check_allocatable(participant)
            at = (
                None
                if allocated_at is None
                else checked_allocation_moment([participant], site, allocated_at)
            )
            unit = unit_allocation(participant)
            if unit is not None:
                return store_with_unit(participant, unit, actor=actor, allocated_at=at)
            if trial.method == "minimisation":
                locked(db.session.query(Trial).filter_by(id=trial.id)).one()
            state = stratum_state(trial.id, participant.stratum)
            if trial.method == "minimisation":
                arm, evidence = _next_by_minimisation(trial, site, participant.stratum)
                return store_allocation(
                    participant,
                    state,
                    arm,
                    method=trial.method,
                    actor=actor,
                    evidence=evidence,
                    allocated_at=at,
                )
            arm, block = _next_from_block(trial, site, state, actor, at)
            return store_allocation(
                participant,
                state,
                arm,
                method=trial.method,
                actor=actor,
                evidence={},
                block=block,
                allocated_at=at,
            )
    except IntegrityError:
        existing = existing_allocation(participant_id)
        if existing is None:
            raise
        raise _already_allocated(existing) from None


def correct_allocation(allocation_id: int, *, kind: str, reason: str, actor: str) -> Allocation:
    """Mark an allocation made in error. It is never deleted; the reason is audited."""
    with unit_of_work():
        allocation = locked_row(Allocation, allocation_id, "allocation")
        if kind not in CORRECTION_KINDS:
            raise Unprocessable(
                f"kind must be one of {', '.join(CORRECTION_KINDS)}",
                fields={"kind": ["unknown correction kind"]},
            )
        if not reason or not reason.strip():
            raise Unprocessable("a correction needs a reason", fields={"reason": ["required"]})
        if allocation.status == kind:
            raise Conflict(f"allocation {allocation_id} is already marked {kind}")
        correction = AllocationCorrection(
            allocation_id=allocation.id, kind=kind, reason=reason.strip(), corrected_by=actor
        )
        allocation.status = kind
        db.session.add(correction)
        db.session.flush()
        audit.record_for_participant(
            "allocation.corrected",
            allocation.participant,
            actor=actor,
            data={"allocation": allocation.id, "kind": kind, "reason": correction.reason},
        )
    return allocation


# --- Benefit units ------------------------------------------------------------------------------


def store_with_unit(
    participant: Participant,
    unit: Allocation,
    *,
    actor: str,
    state: StratumState | None = None,
    cohort_id: int | None = None,
    allocated_at: datetime | None = None,
) -> Allocation:
    """Allocate a partner with the unit: the unit's arm, no draw, no slot, not counted."""
    if state is None:
        state = stratum_state(participant.trial_id, participant.stratum)
    return store_allocation(
        participant,
        state,
        unit.arm,
        method="unit",
        actor=actor,
        evidence={"unit_allocation": unit.id, "unit_participant": unit.participant_id},
        cohort_id=cohort_id,
        unit_allocation_id=unit.id,
        allocated_at=allocated_at,
    )
