"""Cohort allocation: a site's current eligible caseload at once, and the arrivals after it.

Its own module because a cohort is one transaction over many participants, with its own lock
order (the site first, then the participants by id) and its own draw (:func:`.rules.
derive_cohort`). A cohort draws benefit units (each unit once, in the stratum of its
lowest-numbered member; ``fip`` counts units) and gives every partner the unit's arm. Whether a
site may run one at all is decided by :mod:`fiptrial.services.lottery`.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from datetime import date, datetime

from fiptrial.errors import Conflict, Unprocessable
from fiptrial.extensions import db
from fiptrial.models import (
    Allocation,
    CohortRandomisation,
    Participant,
    Site,
    StratumState,
    Trial,
)
from fiptrial.services import audit, consent, lottery
from fiptrial.services.participants import unallocated_eligible
from fiptrial.services.random_source import new_seed, seed_commitment
from fiptrial.services.randomisation.allocation import (
    LOCK_CHUNK,
    allocate,
    audit_allocation,
    checked_allocation_moment,
    count_for_minimisation,
    new_allocation,
    store_with_unit,
    stratum_state,
)
from fiptrial.services.randomisation.rules import derive_cohort
from fiptrial.services.randomisation.units import unit_allocation
from fiptrial.services.transaction import existing_row, locked, locked_row, unit_of_work


def cohort_caseload(site: Site) -> list[Participant]:
    """The site's eligible, unallocated participants who may be allocated now."""
    candidates = unallocated_eligible(site)
    if site.trial.consent_design != "consent_first":
        return candidates
    states = consent.current_states(candidates)
    return [
        participant
        for participant in candidates
        if states[participant.id].status == "given" and not states[participant.id].needs_reconsent
    ]


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
        site = locked_row(Site, site_id, "site")
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
        states = {stratum: stratum_state(trial.id, stratum) for stratum in sorted(strata)}
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
        audit.record_created(
            "randomisation.cohort_committed",
            cohort,
            actor=actor,
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
        stored = [
            (
                participants[pid],
                new_allocation(
                    participants[pid],
                    states[stratum],
                    "fip" if pid in fip_ids else other_arm,
                    method="cohort",
                    actor=actor,
                    evidence={},
                    cohort_id=cohort.id,
                    allocated_at=at,
                ),
            )
            for stratum in sorted(by_stratum)
            for pid in by_stratum[stratum]
        ]
        db.session.flush()  # one multi-row insert; the ids follow the order of the list
        if trial.method == "minimisation":
            count_for_minimisation(
                trial, Counter((allocation.stratum, allocation.arm) for _, allocation in stored)
            )
        for participant, allocation in stored:
            audit_allocation(participant, allocation, at)
        _store_cohort_partners(partners, states, cohort.id, actor, at)
    return cohort


def allocate_arrivals(site_id: int, *, actor: str) -> list[Allocation]:
    """Allocate the participants who arrived after a site's lottery, one by one by the trial's
    method (permuted blocks or minimisation; partners with their unit), in id order. Each
    allocation is its own transaction, as through the API; one already allocated meanwhile
    is skipped."""
    site = existing_row(Site, site_id, "site")
    done = []
    for participant_id in [p.id for p in cohort_caseload(site)]:
        try:
            done.append(allocate(participant_id, actor=actor))
        except Conflict:
            continue
    return done


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
            store_with_unit(participant, unit, actor=actor, state=states[participant.stratum],
                             cohort_id=cohort_id, allocated_at=allocated_at)  # fmt: skip
