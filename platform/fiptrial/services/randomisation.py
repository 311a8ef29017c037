"""Randomisation: every allocation rule of the platform lives in this module.

Three ways to allocate, all concealed until the moment of allocation and all re-verifiable:

* **Stratified permuted blocks** with randomly varied block sizes. A block holds each arm's
  ratio times a multiplier drawn from ``block_multipliers`` (1:4 with [1, 2] gives blocks of 5
  and 10), shuffled. The block is derived from a fresh secure seed when the previous block of
  the stratum is used up; the seed's SHA-256 goes into the audit chain at that moment.
* **Pocock-Simon minimisation** over the stratification factors, with ratio-weighted counts so
  that unequal ratios (1:4) are honoured, and a random element: the arm that minimises the
  imbalance is taken with probability ``minimisation_probability`` (default 0.8) when it is
  the smallest arm, and with the biased-coin probability that keeps the ratio otherwise.
* **Cohort allocation** at the start of a site: the current eligible caseload in one step, an
  exact number to FIP (the site's capacity), proportionally within strata, leftover places
  (misfits) to strata drawn at random with probability proportional to their remainders.
  When a site may run one (size, FIP number, capacity, a second cohort) is decided by the rules
  in :mod:`fiptrial.services.lottery`.

**Benefit units.** Partners on one benefit (participants sharing a ``unit_key``) are
randomised as one: the first partner allocated draws the arm by the trial's method; every later
partner takes that arm without a draw, recorded as method ``unit`` with ``unit_allocation_id``
naming the first partner's allocation. Such an allocation uses no slot of a block and is not
counted by minimisation, so a unit counts once. A cohort draws units (each unit once, in the
stratum of its lowest-numbered member; ``fip`` counts units) and gives every partner the
unit's arm. Eligibility and consent stay per person. See the section "Benefit units" below.

Concurrency: each allocation locks the participant row (with its partners' rows, in id order),
then (minimisation only) the trial row, then the stratum's ``StratumState`` row, then the audit
head, always in that order (a cohort allocation locks its site first, then its participants by
id, then the same), so requests never deadlock, never allocate a participant twice and never
use or skip a slot of a block twice. The unique index on ``allocation.participant_id`` is the
last line of defence. Allocation cost does not depend on the number of earlier allocations:
nothing scans them.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from math import ceil
from statistics import mean
from typing import Any

from sqlalchemy.exc import IntegrityError

from fiptrial.errors import Conflict, NotFound, Unprocessable
from fiptrial.extensions import db
from fiptrial.models import (
    Allocation,
    AllocationCorrection,
    CohortRandomisation,
    ConsentEvent,
    MinimisationCount,
    Participant,
    RandomisationBlock,
    Site,
    StratumState,
    Trial,
)
from fiptrial.services import audit, consent, lottery
from fiptrial.services.eligibility import stratum_levels, whole_years
from fiptrial.services.moments import past_moment
from fiptrial.services.participants import unallocated_eligible
from fiptrial.services.random_source import (
    SeededStream,
    new_seed,
    secure_uniform,
    seed_commitment,
)
from fiptrial.services.transaction import insert_ignoring_conflict, locked, unit_of_work
from fiptrial.timezone import local_date

METHODS = ("permuted_blocks", "minimisation")
CORRECTION_KINDS = ("randomised_in_error",)


# --- Pure rules (also used by the simulation and by verification) ----------------------------


def derive_block(seed_hex: str, ratios: Mapping[str, int], multipliers: Sequence[int]) -> list[str]:
    """The permuted block that a seed stands for: a multiplier, then a Fisher-Yates shuffle."""
    stream = SeededStream(seed_hex)
    multiplier = multipliers[stream.below(len(multipliers))]
    arms = [arm for arm, ratio in sorted(ratios.items()) for _ in range(ratio * multiplier)]
    return stream.shuffle(arms)


def minimisation_scores(
    counts: Mapping[str, Mapping[str, int]], ratios: Mapping[str, int]
) -> dict[str, float]:
    """Pocock-Simon imbalance if the next participant went to each arm.

    ``counts`` maps each stratification factor to the per-arm numbers already allocated at the
    new participant's level of that factor. Counts are divided by the arm's ratio, so "balance"
    means "in the target proportion"; the imbalance of a factor is the range of those values.
    """
    arms = sorted(ratios)
    scores = {}
    for candidate in arms:
        total = 0.0
        for arm_counts in counts.values():
            weighted = [(arm_counts.get(arm, 0) + (arm == candidate)) / ratios[arm] for arm in arms]
            total += max(weighted) - min(weighted)
        scores[candidate] = total
    return scores


def weighted_pick(arms: Sequence[str], ratios: Mapping[str, int], u: float) -> str:
    """The arm at ``u`` in [0, 1) when each arm's share is its ratio."""
    total = sum(ratios[arm] for arm in arms)
    edge = 0.0
    for arm in arms:
        edge += ratios[arm] / total
        if u < edge:
            return arm
    return arms[-1]


def preferred_probability(preferred: str, ratios: Mapping[str, int], probability: float) -> float:
    """Probability of taking the minimising arm, so that unequal ratios stay unbiased.

    Biased-coin minimisation (Han, Enas and McEntegart, Stat Med 2009): ``probability`` applies
    when the arm with the smallest ratio is preferred; for any other preferred arm it is
    ``1 - (sum of the other arms' ratios) / (sum of the ratios besides the smallest arm)
    * (1 - probability)``. With 1:4 and 0.8: FIP preferred 0.8, control preferred 0.95. A
    plain 0.8 for every arm would let FIP drift above its 1 in 5 whenever control is preferred.
    """
    smallest = min(ratios, key=lambda arm: (ratios[arm], arm))
    others_of_preferred = sum(r for arm, r in ratios.items() if arm != preferred)
    others_of_smallest = sum(r for arm, r in ratios.items() if arm != smallest)
    return 1 - others_of_preferred / others_of_smallest * (1 - probability)


def minimisation_choice(
    scores: Mapping[str, float],
    ratios: Mapping[str, int],
    probability: float,
    u_tie: float,
    u_coin: float,
) -> str:
    """Take the minimising arm with its biased-coin probability, else another arm by ratio.

    When all arms tie (the first participant of a level), the arm is drawn with the target
    proportions, which keeps the expected allocation ratio right from the start.
    """
    arms = sorted(ratios)
    best = min(scores.values())
    tied = [arm for arm in arms if scores[arm] == best]
    if len(tied) == len(arms):
        return weighted_pick(arms, ratios, u_coin)
    preferred = tied[min(int(u_tie * len(tied)), len(tied) - 1)]
    p_preferred = preferred_probability(preferred, ratios, probability)
    if u_coin < p_preferred:
        return preferred
    others = [arm for arm in arms if arm != preferred]
    rescaled = (u_coin - p_preferred) / (1 - p_preferred) if p_preferred < 1 else 0.0
    return weighted_pick(others, ratios, rescaled)


def cohort_quotas(sizes: Mapping[str, int], fip: int, stream: SeededStream) -> dict[str, int]:
    """Split ``fip`` places over strata in proportion to their sizes, exactly.

    Each stratum gets the integer part of its share; the leftover places (misfits) go to strata
    drawn at random, without replacement, with probability proportional to the remainders.
    Integer arithmetic throughout, so the derivation is exact and reproducible.
    """
    total = sum(sizes.values())
    quotas = {stratum: fip * size // total for stratum, size in sizes.items()}
    remainders = {stratum: fip * size % total for stratum, size in sizes.items()}
    for _ in range(fip - sum(quotas.values())):
        candidates = sorted(s for s, weight in remainders.items() if weight > 0)
        draw = stream.below(sum(remainders[s] for s in candidates))
        for stratum in candidates:
            draw -= remainders[stratum]
            if draw < 0:
                quotas[stratum] += 1
                remainders[stratum] = 0
                break
    return quotas


def derive_cohort(
    seed_hex: str, strata: Mapping[str, Sequence[int]], fip: int
) -> dict[str, list[int]]:
    """The participants (ids) of each stratum that a cohort seed sends to FIP."""
    stream = SeededStream(seed_hex)
    quotas = cohort_quotas({s: len(ids) for s, ids in strata.items()}, fip, stream)
    chosen = {}
    for stratum in sorted(strata):
        ids = stream.shuffle(sorted(strata[stratum]))
        chosen[stratum] = sorted(ids[: quotas[stratum]])
    return chosen


# --- Allocation in the database ---------------------------------------------------------------


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


def _stratum_state(trial_id: int, stratum: str) -> StratumState:
    insert_ignoring_conflict(
        StratumState,
        {
            "trial_id": trial_id,
            "stratum": stratum,
            "allocated": 0,
            "block_count": 0,
            "block_position": 0,
        },
        ["trial_id", "stratum"],
    )
    return locked(
        db.session.query(StratumState).filter_by(trial_id=trial_id, stratum=stratum)
    ).one()


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
        db.session.add(block)
        db.session.flush()
        state.block = block
        state.block_position = 0
        audit.record(
            "randomisation.block_committed",
            actor=actor,
            entity="randomisation_block",
            entity_id=block.id,
            site=site.code,
            data={
                "stratum": state.stratum,
                "number": block.number,
                "size": len(block.arms),
                "seed_sha256": seed_commitment(seed),
            },
        )
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


def _count_for_minimisation(trial: Trial, levels: Mapping[str, str], arm: str) -> None:
    for factor, level in levels.items():
        key = {"trial_id": trial.id, "factor": factor, "level": level, "arm": arm}
        insert_ignoring_conflict(
            MinimisationCount, {**key, "count": 0}, ["trial_id", "factor", "level", "arm"]
        )
        db.session.query(MinimisationCount).filter_by(**key).update(
            {MinimisationCount.count: MinimisationCount.count + 1}, synchronize_session=False
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


def _store_allocation(
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
    db.session.flush()
    if participant.trial.method == "minimisation" and unit_allocation_id is None:
        _count_for_minimisation(participant.trial, stratum_levels(participant.stratum), arm)
    audit.record(
        "allocation.created",
        actor=actor,
        entity="participant",
        entity_id=participant.id,
        site=participant.site.code,
        data={
            "allocation": allocation.id,
            "arm": arm,
            "stratum": allocation.stratum,
            "sequence": allocation.sequence,
            "method": method,
            **({"block_position": allocation.block_position} if block else {}),
            **({"cohort": cohort_id} if cohort_id else {}),
            **({"unit_allocation": unit_allocation_id} if unit_allocation_id else {}),
            **({"allocated_at": allocated_at.isoformat()} if allocated_at is not None else {}),
        },
    )
    return allocation


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
            participant = _lock_with_unit(participant_id)
            if participant is None:
                raise NotFound(f"participant {participant_id} does not exist")
            existing = existing_allocation(participant_id)
            if existing is not None:
                raise _already_allocated(existing)
            _check_allocatable(participant)
            trial, site = participant.trial, participant.site
            at = (
                None
                if allocated_at is None
                else checked_allocation_moment([participant], site, allocated_at)
            )
            unit = unit_allocation(participant)
            if unit is not None:
                return _store_with_unit(participant, unit, actor=actor, allocated_at=at)
            if trial.method == "minimisation":
                locked(db.session.query(Trial).filter_by(id=trial.id)).one()
            state = _stratum_state(trial.id, participant.stratum)
            if trial.method == "minimisation":
                arm, evidence = _next_by_minimisation(trial, site, participant.stratum)
                return _store_allocation(
                    participant,
                    state,
                    arm,
                    method=trial.method,
                    actor=actor,
                    evidence=evidence,
                    allocated_at=at,
                )
            arm, block = _next_from_block(trial, site, state, actor, at)
            return _store_allocation(
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


def cohort_caseload(site: Site) -> list[Participant]:
    """The site's eligible, unallocated participants who may be allocated now."""
    candidates = unallocated_eligible(site)
    if site.trial.consent_design != "consent_first":
        return candidates
    allowed = []
    for participant in candidates:
        state = consent.current_state(participant)
        if state.status == "given" and not state.needs_reconsent:
            allowed.append(participant)
    return allowed


LOCK_CHUNK = 1000  # ids per IN list (SQLite's bound-parameter limit; PostgreSQL is indifferent)


def _lock_cohort_caseload(site: Site) -> list[Participant]:
    """The cohort's caseload with its participant rows locked, in the order single allocations
    lock (participants first, by id), then checked again: a participant allocated by a request
    that held its row before us is left out instead of failing the whole cohort on the unique
    index. On SQLite the transaction already holds the write lock and nothing changes."""
    candidates = cohort_caseload(site)
    ids = [p.id for p in candidates]
    taken: set[int] = set()
    for start in range(0, len(ids), LOCK_CHUNK):
        chunk = ids[start : start + LOCK_CHUNK]
        locked(
            db.session.query(Participant.id)
            .filter(Participant.id.in_(chunk))
            .order_by(Participant.id)
        ).all()
        taken.update(
            pid
            for (pid,) in db.session.query(Allocation.participant_id).filter(
                Allocation.participant_id.in_(chunk)
            )
        )
    return [p for p in candidates if p.id not in taken]


def allocate_cohort(
    site_id: int,
    fip: int | None = None,
    *,
    actor: str,
    research_admin: bool = False,
    reason: str | None = None,
    allocated_at: datetime | date | None = None,
) -> CohortRandomisation:
    """Allocate a site's current eligible caseload at once, exactly ``fip`` of them to FIP.

    The rules of the lottery (minimum size, every FIP probability strictly between 0 and 1,
    at most the free FIP capacity, one cohort per site unless a research admin gives a
    reason) live in :mod:`fiptrial.services.lottery`. Without ``fip``: the free capacity, at
    most one less than the number of drawn units. ``allocated_at`` records a cohort
    randomised earlier than it is entered, checked as in :func:`allocate`.
    """
    with unit_of_work():
        # locked() is FOR NO KEY UPDATE: it serialises cohorts of one site without blocking
        # the foreign-key checks of single allocations inserting rows of this site, which
        # would deadlock with the participant locks taken below.
        site = locked(db.session.query(Site).filter_by(id=site_id)).one_or_none()
        if site is None:
            raise NotFound(f"site {site_id} does not exist")
        trial = site.trial
        arms = sorted(site.ratios())
        if "fip" not in arms or len(arms) != 2:
            raise Unprocessable(
                "cohort allocation needs exactly the arms fip and control", code="cohort_arms"
            )
        other_arm = next(arm for arm in arms if arm != "fip")
        lottery.check_second_cohort(site, research_admin=research_admin, reason=reason)
        caseload, partners = cohort_units(_lock_cohort_caseload(site))
        if trial.method == "minimisation":
            locked(db.session.query(Trial).filter_by(id=trial.id)).one()
        if not caseload:
            raise Unprocessable(
                "the site has no eligible unallocated participants to allocate",
                code="no_cohort_caseload",
            )
        allowed = lottery.permit(
            site, len(caseload), fip, research_admin=research_admin, reason=reason
        )
        fip = allowed.fip
        by_stratum: dict[str, list[int]] = defaultdict(list)
        for participant in caseload:
            by_stratum[participant.stratum].append(participant.id)
        # Strata before the audit head, as in allocate(): taking the head first deadlocked
        # against a single allocation holding a stratum and waiting for the head.
        at = (
            None
            if allocated_at is None
            else checked_allocation_moment(
                [*caseload, *(p for members in partners.values() for p in members)],
                site,
                allocated_at,
            )
        )
        strata = set(by_stratum) | {p.stratum for members in partners.values() for p in members}
        states = {stratum: _stratum_state(trial.id, stratum) for stratum in sorted(strata)}
        seed = new_seed()
        chosen = derive_cohort(seed, by_stratum, fip)
        cohort = CohortRandomisation(
            trial_id=trial.id,
            site_id=site.id,
            fip=fip,
            caseload=len(caseload),
            seed=seed,
            per_stratum={
                s: {"participants": ids, "fip": chosen[s]} for s, ids in by_stratum.items()
            },
            performed_by=actor,
            **({"created_at": at} if at is not None else {}),
        )
        db.session.add(cohort)
        db.session.flush()
        audit.record(
            "randomisation.cohort_committed",
            actor=actor,
            entity="cohort_randomisation",
            entity_id=cohort.id,
            site=site.code,
            data={
                "fip": fip,
                "caseload": len(caseload),
                "seed_sha256": seed_commitment(seed),
                **({"allocated_at": at.isoformat()} if at is not None else {}),
                "free_places": allowed.free_places,
                **(
                    {"earlier_cohorts": allowed.earlier_cohorts, "reason": allowed.reason}
                    if allowed.earlier_cohorts
                    else {}
                ),
            },
        )
        fip_ids = {pid for ids in chosen.values() for pid in ids}
        participants = {p.id: p for p in caseload}
        for stratum in sorted(by_stratum):
            state = states[stratum]
            for pid in by_stratum[stratum]:
                arm = "fip" if pid in fip_ids else other_arm
                _store_allocation(
                    participants[pid],
                    state,
                    arm,
                    method="cohort",
                    actor=actor,
                    evidence={},
                    cohort_id=cohort.id,
                    allocated_at=at,
                )
        _store_cohort_partners(partners, states, cohort.id, actor, at)
    return cohort


def allocate_arrivals(site_id: int, *, actor: str) -> list[Allocation]:
    """Allocate the participants who arrived after a site's lottery, one by one by the trial's
    method (permuted blocks or minimisation; partners with their unit), in id order. Each
    allocation is its own transaction, as through the API; one already allocated meanwhile
    is skipped."""
    site = db.session.get(Site, site_id)
    if site is None:
        raise NotFound(f"site {site_id} does not exist")
    done = []
    for participant_id in [p.id for p in cohort_caseload(site)]:
        try:
            done.append(allocate(participant_id, actor=actor))
        except Conflict:
            continue
    return done


def correct_allocation(allocation_id: int, *, kind: str, reason: str, actor: str) -> Allocation:
    """Mark an allocation made in error. It is never deleted; the reason is audited."""
    with unit_of_work():
        allocation = locked(db.session.query(Allocation).filter_by(id=allocation_id)).one_or_none()
        if allocation is None:
            raise NotFound(f"allocation {allocation_id} does not exist")
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
        audit.record(
            "allocation.corrected",
            actor=actor,
            entity="participant",
            entity_id=allocation.participant_id,
            site=allocation.participant.site.code,
            data={"allocation": allocation.id, "kind": kind, "reason": correction.reason},
        )
    return allocation


# --- Benefit units ------------------------------------------------------------------------------


def _unit_member_ids(participant: Participant) -> list[int]:
    """Ids of the participants of the trial in ``participant``'s benefit unit, itself included."""
    if participant.unit_key is None:
        return [participant.id]
    return sorted(
        pid
        for (pid,) in db.session.query(Participant.id).filter(
            Participant.trial_id == participant.trial_id,
            Participant.unit_key == participant.unit_key,
        )
    )


def _lock_with_unit(participant_id: int) -> Participant | None:
    """The participant with its row locked, and its partners' rows too, all in id order, so
    that two partners allocated at the same moment cannot both draw (the second waits and then
    takes the first one's arm). ``unit_key`` never changes, so it may be read before the lock."""
    participant = db.session.get(Participant, participant_id)
    if participant is None:
        return None
    ids = _unit_member_ids(participant)
    locked(
        db.session.query(Participant.id).filter(Participant.id.in_(ids)).order_by(Participant.id)
    ).all()
    db.session.refresh(participant)
    return participant


def unit_allocation(participant: Participant) -> Allocation | None:
    """The allocation that decided the arm of ``participant``'s benefit unit, if a partner was
    allocated already: the first drawn allocation of the unit that stands (not marked
    randomised in error)."""
    if participant.unit_key is None:
        return None
    return (
        db.session.query(Allocation)
        .join(Participant, Participant.id == Allocation.participant_id)
        .filter(
            Participant.trial_id == participant.trial_id,
            Participant.unit_key == participant.unit_key,
            Participant.id != participant.id,
            Allocation.unit_allocation_id.is_(None),
            Allocation.status.notin_(CORRECTION_KINDS),
        )
        .order_by(Allocation.id)
        .first()
    )


def _store_with_unit(
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
        state = _stratum_state(participant.trial_id, participant.stratum)
    return _store_allocation(
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


def cohort_units(
    caseload: Sequence[Participant],
) -> tuple[list[Participant], dict[int | None, list[Participant]]]:
    """Split a cohort's caseload into the participants that are drawn, one per benefit unit
    (its lowest-numbered member in the caseload), and their partners.

    Returns the drawn participants and the partners by the id of the drawn partner whose arm
    they take; partners of a unit that was allocated before the cohort are keyed by ``None``
    (they take that earlier allocation's arm, see :func:`_store_cohort_partners`).
    """
    drawn: list[Participant] = []
    partners: dict[int | None, list[Participant]] = defaultdict(list)
    first_of_unit: dict[str, Participant] = {}
    for participant in sorted(caseload, key=lambda p: p.id):
        key = participant.unit_key
        if key is None:
            drawn.append(participant)
        elif key in first_of_unit:
            partners[first_of_unit[key].id].append(participant)
        elif unit_allocation(participant) is not None:
            partners[None].append(participant)
        else:
            first_of_unit[key] = participant
            drawn.append(participant)
    return drawn, dict(partners)


def _store_cohort_partners(
    partners: Mapping[int | None, Sequence[Participant]],
    states: Mapping[str, StratumState],
    cohort_id: int,
    actor: str,
    allocated_at: datetime | None = None,
) -> None:
    """Allocate the partners of a cohort with their units, after the drawn partners."""
    for drawn_id in sorted(partners, key=lambda pid: -1 if pid is None else pid):
        for participant in partners[drawn_id]:
            unit = unit_allocation(participant)
            assert unit is not None  # the drawn partner was allocated just before
            _store_with_unit(participant, unit, actor=actor, state=states[participant.stratum],
                             cohort_id=cohort_id, allocated_at=allocated_at)  # fmt: skip


def _verify_unit(allocation: Allocation) -> list[str]:
    unit = db.session.get(Allocation, allocation.unit_allocation_id)
    assert unit is not None  # foreign key
    same_unit = (
        unit.participant.unit_key is not None
        and unit.participant.unit_key == allocation.participant.unit_key
        and unit.trial_id == allocation.trial_id
    )
    if not same_unit or unit.arm != allocation.arm:
        return [f"allocation {allocation.id} differs from its benefit unit's allocation"]
    return []


# --- Verification -----------------------------------------------------------------------------


AUDITED_ACTIONS = (
    "allocation.created",
    "randomisation.block_committed",
    "randomisation.cohort_committed",
)


@dataclass
class _Audited:
    """What the audit trail says: each allocation's arm, each block's and cohort's seed
    commitment. The chain's HMAC keeps these from being rewritten with the rows."""

    arms: dict[int, str]
    block_seeds: dict[int, str]
    cohort_seeds: dict[int, str]


def _audited() -> _Audited:
    import json

    from fiptrial.models import AuditEntry

    audited = _Audited({}, {}, {})
    rows = db.session.query(AuditEntry.action, AuditEntry.entity_id, AuditEntry.data).filter(
        AuditEntry.action.in_(AUDITED_ACTIONS)
    )
    for action, entity_id, text in rows.yield_per(5000):
        data = json.loads(text)
        if action == "allocation.created":
            audited.arms[int(data["allocation"])] = data["arm"]
        elif action == "randomisation.block_committed":
            audited.block_seeds[int(entity_id)] = data["seed_sha256"]
        else:
            audited.cohort_seeds[int(entity_id)] = data["seed_sha256"]
    return audited


def verify_trial(trial: Trial) -> list[str]:
    """Re-derive every allocation of a trial from its recorded randomness, and compare every
    allocation row with the arm its audit entry recorded and every block and cohort seed with
    the commitment audited when it was drawn; list the mismatches.

    Without the audit comparison, two allocations' arms swapped together with a new seed for
    their block (one whose block has those arms swapped) would re-derive perfectly."""
    problems: list[str] = []
    audited = _audited()
    blocks = {b.id: b for b in db.session.query(RandomisationBlock).filter_by(trial_id=trial.id)}
    for block in blocks.values():
        if derive_block(block.seed, block.ratios, block.multipliers) != block.arms:
            problems.append(f"block {block.id} does not follow from its seed")
        committed = audited.block_seeds.get(block.id)
        if committed is None:
            problems.append(f"block {block.id} has no audited seed commitment")
        elif committed != seed_commitment(block.seed):
            problems.append(f"block {block.id}'s seed differs from its audited commitment")
    for cohort in db.session.query(CohortRandomisation).filter_by(trial_id=trial.id):
        strata = {s: v["participants"] for s, v in cohort.per_stratum.items()}
        derived = derive_cohort(cohort.seed, strata, cohort.fip)
        if any(derived[s] != v["fip"] for s, v in cohort.per_stratum.items()):
            problems.append(f"cohort {cohort.id} does not follow from its seed")
        committed = audited.cohort_seeds.get(cohort.id)
        if committed is None:
            problems.append(f"cohort {cohort.id} has no audited seed commitment")
        elif committed != seed_commitment(cohort.seed):
            problems.append(f"cohort {cohort.id}'s seed differs from its audited commitment")
    query = db.session.query(Allocation).filter_by(trial_id=trial.id).order_by(Allocation.id)
    for allocation in query.yield_per(2000):
        arm = audited.arms.get(allocation.id)
        if arm is None:
            problems.append(f"allocation {allocation.id} has no audit entry")
        elif arm != allocation.arm:
            problems.append(f"allocation {allocation.id}'s arm differs from its audit entry")
        problems.extend(_verify_one(allocation, blocks))
    return problems


def _verify_one(allocation: Allocation, blocks: Mapping[int, RandomisationBlock]) -> list[str]:
    if allocation.unit_allocation_id is not None:
        return _verify_unit(allocation)
    if allocation.block_id is not None:
        block = blocks[allocation.block_id]
        if block.arms[allocation.block_position or 0] != allocation.arm:
            return [f"allocation {allocation.id} differs from its block"]
    elif allocation.method == "minimisation":
        e = allocation.evidence
        scores = minimisation_scores(e["counts"], e["ratios"])
        arm = minimisation_choice(scores, e["ratios"], e["probability"], e["u_tie"], e["u_coin"])
        if arm != allocation.arm:
            return [f"allocation {allocation.id} differs from its minimisation evidence"]
    elif allocation.cohort_id is not None:
        cohort = db.session.get(CohortRandomisation, allocation.cohort_id)
        assert cohort is not None  # foreign key
        chosen = allocation.participant_id in cohort.per_stratum[allocation.stratum]["fip"]
        if chosen != (allocation.arm == "fip"):
            return [f"allocation {allocation.id} differs from its cohort"]
    return []


# --- Simulation before go-live ----------------------------------------------------------------


@dataclass(frozen=True)
class SimulationResult:
    method: str
    participants: int
    runs: int
    strata: dict[str, dict[str, float]]
    overall: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "participants": self.participants,
            "runs": self.runs,
            "overall": self.overall,
            "strata": self.strata,
        }


def simulate(
    *,
    method: str,
    ratios: Mapping[str, int],
    multipliers: Sequence[int],
    probability: float,
    strata_weights: Mapping[str, float],
    participants: int,
    runs: int,
    seed: int = 20141101,
) -> SimulationResult:
    """Expected imbalance of a scheme: enrol ``participants`` ``runs`` times, in memory.

    Imbalance is the FIP count minus its target share (ratio) of the participants, per stratum
    and over the whole trial; we report the mean absolute imbalance, its 95th centile and the
    worst case over the runs. Uses the same rules as real allocation.
    """
    rng = random.Random(seed)
    strata = sorted(strata_weights)
    weights = [strata_weights[s] for s in strata]
    share = ratios.get("fip", 0) / sum(ratios.values())
    per_stratum: dict[str, list[float]] = defaultdict(list)
    overall: list[float] = []
    for _ in range(runs):
        enrolled = rng.choices(strata, weights=weights, k=participants)
        fip_counts: Counter[str] = Counter()
        sizes = Counter(enrolled)
        if method == "minimisation":
            counts: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
            for stratum in enrolled:
                levels = stratum_levels(stratum)
                current = {f: dict(counts[(f, lv)]) for f, lv in levels.items()}
                scores = minimisation_scores(current, ratios)
                arm = minimisation_choice(scores, ratios, probability, rng.random(), rng.random())
                for f, lv in levels.items():
                    counts[(f, lv)][arm] += 1
                fip_counts[stratum] += arm == "fip"
        else:
            streams: dict[str, list[str]] = defaultdict(list)
            for stratum in enrolled:
                if not streams[stratum]:
                    seed_hex = f"{rng.getrandbits(256):064x}"
                    streams[stratum] = derive_block(seed_hex, ratios, multipliers)[::-1]
                fip_counts[stratum] += streams[stratum].pop() == "fip"
        for stratum in strata:
            per_stratum[stratum].append(abs(fip_counts[stratum] - share * sizes[stratum]))
        overall.append(abs(sum(fip_counts.values()) - share * participants))

    def summary(values: list[float]) -> dict[str, float]:
        ordered = sorted(values)
        return {
            "mean_abs_imbalance": round(mean(ordered), 3),
            "p95_abs_imbalance": round(
                ordered[min(len(ordered) - 1, ceil(0.95 * len(ordered)) - 1)], 3
            ),
            "max_abs_imbalance": round(ordered[-1], 3),
        }

    return SimulationResult(
        method=method,
        participants=participants,
        runs=runs,
        strata={s: summary(v) for s, v in per_stratum.items()},
        overall=summary(overall),
    )


def strata_weights_for(trial: Trial) -> dict[str, float]:
    """Observed stratum frequencies of the trial's registered participants, if any."""
    rows: Iterable[tuple[str, int]] = (
        db.session.query(Participant.stratum, db.func.count(Participant.id))
        .filter(Participant.trial_id == trial.id, Participant.eligible.is_(True))
        .group_by(Participant.stratum)
        .all()
    )
    return {stratum: float(n) for stratum, n in rows}
