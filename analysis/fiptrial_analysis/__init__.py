"""Pooled cross-site analysis of the FIP trial.

The statistics return small frozen result objects; :func:`build_report` computes the whole trial
report as a JSON-ready dictionary and :func:`render_html` turns it into a self-contained page.
"""

from typing import TYPE_CHECKING

from .clustering import (
    ICCResult,
    ManagerEffectsResult,
    icc_anova,
    manager_effects,
    partially_nested_design_effect,
)
from .codes import PENSION_AGE_CODE, WORK_CODES, TerminationCategory, termination_categories
from .competing import (
    GrayTestResult,
    cumulative_incidence_by_group,
    gray_test,
)
from .contingency import (
    ChiSquareResult,
    OddsRatioResult,
    RiskDifferenceResult,
    chi_square,
    odds_ratio,
    risk_difference,
)
from .cox import CoxResult, cox_stratified
from .metaanalysis import RandomEffectsResult, random_effects
from .participants import Participants, prepare_participants, read_participants
from .pilot import PILOT_HAS_DATES, pilot_participants, pilot_reproduction, read_table_4_1
from .power import SampleSizeResult, power_two_proportions, sample_size_two_proportions
from .report import DEFAULT_COST_PER_BENEFIT_YEAR, build_report
from .rmst import RMSTResult, rmst_difference
from .standardisation import StandardisedResult, standardised_risk_difference
from .stratified import BreslowDayResult, MantelHaenszelResult, breslow_day, mantel_haenszel
from .survival import (
    CumulativeIncidenceResult,
    KaplanMeierResult,
    LogRankResult,
    cumulative_incidence,
    kaplan_meier,
    log_rank,
)

__all__ = [
    "DEFAULT_COST_PER_BENEFIT_YEAR",
    "PENSION_AGE_CODE",
    "PILOT_HAS_DATES",
    "WORK_CODES",
    "BreslowDayResult",
    "ChiSquareResult",
    "CoxResult",
    "CumulativeIncidenceResult",
    "GrayTestResult",
    "ICCResult",
    "KaplanMeierResult",
    "LogRankResult",
    "ManagerEffectsResult",
    "MantelHaenszelResult",
    "OddsRatioResult",
    "Participants",
    "RMSTResult",
    "RandomEffectsResult",
    "RiskDifferenceResult",
    "SampleSizeResult",
    "StandardisedResult",
    "TerminationCategory",
    "breslow_day",
    "build_report",
    "chi_square",
    "cox_stratified",
    "cumulative_incidence",
    "cumulative_incidence_by_group",
    "gray_test",
    "icc_anova",
    "kaplan_meier",
    "log_rank",
    "manager_effects",
    "mantel_haenszel",
    "odds_ratio",
    "partially_nested_design_effect",
    "pilot_participants",
    "pilot_reproduction",
    "power_two_proportions",
    "prepare_participants",
    "random_effects",
    "read_participants",
    "read_table_4_1",
    "render_html",
    "risk_difference",
    "rmst_difference",
    "sample_size_two_proportions",
    "standardised_risk_difference",
    "termination_categories",
]

if TYPE_CHECKING:  # render_html is loaded on first use, with matplotlib
    from .html import render_html


def __getattr__(name: str) -> object:
    """Load the HTML renderer (and matplotlib) only when it is used, not on import."""
    if name == "render_html":
        from .html import render_html

        return render_html
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
