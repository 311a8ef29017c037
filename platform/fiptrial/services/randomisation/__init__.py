"""Randomisation: every allocation rule of the platform lives in this package.

Stratified permuted blocks, Pocock-Simon minimisation and cohort allocation, all concealed until
the moment of allocation and all re-verifiable. The package, bottom up:

- ``rules``: the allocation rules themselves, pure (what a seed or a set of counts decides);
  read this module to know how an arm is chosen;
- ``units``: benefit units (partners randomised as one): their rows locked together, the
  allocation that decided a unit's arm;
- ``allocation``: one participant at a time in the database (locks, evidence, audit), a
  partner's allocation with its unit, corrections of an allocation made in error;
- ``cohort``: a site's eligible caseload at once, and the participants who arrive after it;
- ``verification``: every allocation re-derived from its recorded randomness and compared with
  the audit trail;
- ``simulation``: the expected imbalance of a scheme before go-live, in memory.

Callers use the names re-exported here (``randomisation.allocate``, ``randomisation.verify_trial``,
...).
"""

from fiptrial.services.randomisation.allocation import (
    LOCK_CHUNK,
    age_at_allocation,
    allocate,
    allocation_summary,
    checked_allocation_moment,
    correct_allocation,
    existing_allocation,
)
from fiptrial.services.randomisation.cohort import (
    allocate_arrivals,
    allocate_cohort,
    cohort_caseload,
    cohort_units,
)
from fiptrial.services.randomisation.rules import (
    CORRECTION_KINDS,
    METHODS,
    cohort_quotas,
    derive_block,
    derive_cohort,
    minimisation_choice,
    minimisation_scores,
    preferred_probability,
    weighted_pick,
)
from fiptrial.services.randomisation.simulation import (
    SimulationResult,
    simulate,
    strata_weights_for,
)
from fiptrial.services.randomisation.units import unit_allocation
from fiptrial.services.randomisation.verification import AUDITED_ACTIONS, verify_trial

__all__ = [
    "AUDITED_ACTIONS",
    "CORRECTION_KINDS",
    "LOCK_CHUNK",
    "METHODS",
    "SimulationResult",
    "age_at_allocation",
    "allocate",
    "allocate_arrivals",
    "allocate_cohort",
    "allocation_summary",
    "checked_allocation_moment",
    "cohort_caseload",
    "cohort_quotas",
    "cohort_units",
    "correct_allocation",
    "derive_block",
    "derive_cohort",
    "existing_allocation",
    "minimisation_choice",
    "minimisation_scores",
    "preferred_probability",
    "simulate",
    "strata_weights_for",
    "unit_allocation",
    "verify_trial",
    "weighted_pick",
]
