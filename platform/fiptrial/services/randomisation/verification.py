"""Verification: re-derive every allocation of a trial and compare it with the audit trail.

Anyone holding the database and the audit key can check that no allocation was chosen by hand:
each block and cohort follows from its recorded seed, each minimisation from its recorded
counts and random numbers (the same :mod:`.rules` as at allocation), and each row agrees with
what the HMAC-chained audit trail recorded at the time (``fiptrial randomisation verify``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from fiptrial.extensions import db
from fiptrial.models import (
    Allocation,
    AuditEntry,
    CohortRandomisation,
    RandomisationBlock,
    Trial,
)
from fiptrial.services.random_source import seed_commitment
from fiptrial.services.randomisation.rules import (
    derive_block,
    derive_cohort,
    minimisation_choice,
    minimisation_scores,
)

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


def _commitment_problems(
    name: str, commitments: Mapping[int, str], row: RandomisationBlock | CohortRandomisation
) -> list[str]:
    """A seeded row (block or cohort) must carry the seed whose commitment was audited."""
    committed = commitments.get(row.id)
    if committed is None:
        return [f"{name} has no audited seed commitment"]
    if committed != seed_commitment(row.seed):
        return [f"{name}'s seed differs from its audited commitment"]
    return []


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
        problems += _commitment_problems(f"block {block.id}", audited.block_seeds, block)
    for cohort in db.session.query(CohortRandomisation).filter_by(trial_id=trial.id):
        strata = {s: v["participants"] for s, v in cohort.per_stratum.items()}
        derived = derive_cohort(cohort.seed, strata, cohort.fip)
        if any(derived[s] != v["fip"] for s, v in cohort.per_stratum.items()):
            problems.append(f"cohort {cohort.id} does not follow from its seed")
        problems += _commitment_problems(f"cohort {cohort.id}", audited.cohort_seeds, cohort)
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
