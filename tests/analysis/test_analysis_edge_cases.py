"""The edge cases found by an independent check (issue "The analysis plan"): each now gives R's
answer, a clear error, or "not estimable" with a reason instead of a number that looks valid."""

import subprocess
import sys

import numpy as np
import pytest

from fiptrial_analysis import (
    PILOT_HAS_DATES,
    chi_square,
    kaplan_meier,
    log_rank,
    mantel_haenszel,
    pilot_reproduction,
)
from fiptrial_analysis._checks import SmallCellsWarning


def test_median_on_a_flat_stretch_at_one_half_is_its_midpoint():
    """R: survfit(Surv(c(1, 2, 3, 4), rep(1, 4)) ~ 1) has S = 0.5 on [2, 3): quantile.survfit
    uses the midpoint rule, median 2.5. A curve ending at exactly 0.5 takes the midpoint to
    the end of follow-up: S(2) = 0.5 with the last censoring at 4 gives 3."""
    assert kaplan_meier([1, 2, 3, 4], [1, 1, 1, 1]).median() == pytest.approx(2.5)
    assert kaplan_meier([1, 2, 3, 4], [1, 1, 0, 0]).median() == pytest.approx(3.0)
    # Not flat at one half: the first time S drops below it.
    assert kaplan_meier([1, 2, 3], [1, 1, 1]).median() == pytest.approx(2.0)
    assert np.isnan(kaplan_meier([1, 2, 3], [1, 0, 0]).median())


def test_log_rank_without_events_is_not_estimable():
    result = log_rank([1, 2, 3, 4], [0, 0, 0, 0], ["fip", "fip", "control", "control"])
    assert not result.estimable and np.isnan(result.statistic) and np.isnan(result.pvalue)
    assert "no events" in result.note


def test_log_rank_with_strata_each_holding_one_arm_is_not_estimable():
    result = log_rank(
        [1, 2, 3, 4], [1, 1, 1, 1], ["fip", "fip", "control", "control"], strata=[1, 1, 2, 2]
    )
    assert not result.estimable and np.isnan(result.pvalue)
    assert "each stratum holds one group" in result.note


@pytest.mark.parametrize("group", [["fip", None, "control", "fip"], [1.0, float("nan"), 0.0, 1.0]])
def test_log_rank_refuses_missing_group_labels(group):
    with pytest.raises(ValueError, match="group has 1 missing label"):
        log_rank([1, 2, 3, 4], [1, 1, 1, 1], group)


def test_sato_interval_collapsing_to_zero_width_is_not_estimable():
    """Complete separation in 8 participants: the estimate is 1, but Sato's variance is 0, so
    the interval would read "100.00 pp (95% CI 100.00 to 100.00)"."""
    with pytest.warns(SmallCellsWarning):
        result = mantel_haenszel([[[4, 0], [0, 4]]])
    assert result.risk_difference == pytest.approx(1.0)
    assert not result.risk_difference_estimable
    assert np.isnan(result.risk_difference_ci[0]) and np.isnan(result.risk_difference_se)
    assert not result.odds_ratio_estimable
    assert any("Sato" in note for note in result.notes)


def test_mantel_haenszel_without_events_says_so():
    with pytest.warns(SmallCellsWarning):
        result = mantel_haenszel([[[0, 10], [0, 12]], [[0, 5], [0, 7]]])
    assert np.isnan(result.pvalue)
    assert any("no events" in note for note in result.notes)
    assert not result.risk_difference_estimable


def test_small_cells_warn_and_give_fishers_exact_test():
    """R: fisher.test(matrix(c(3, 1, 1, 3), 2)) (the tea-tasting example of ?fisher.test)
    prints p-value = 0.4857."""
    with pytest.warns(SmallCellsWarning, match="Fisher"):
        result = chi_square([[3, 1], [1, 3]])
    assert result.fisher_pvalue == pytest.approx(0.4857, abs=5e-5)
    assert result.min_expected == pytest.approx(2.0)
    with pytest.warns(SmallCellsWarning, match="Mantel-Fleiss"):
        single = mantel_haenszel([[[3, 1], [1, 3]]])
    assert single.exact_pvalue == pytest.approx(0.4857, abs=5e-5)


def test_large_cells_give_no_warning():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", SmallCellsWarning)
        result = chi_square([[62, 245], [252, 1341]])
        mh = mantel_haenszel([[[62, 245], [252, 1341]]])
    assert result.fisher_pvalue is None and result.warning == ""
    assert mh.exact_pvalue is None and mh.notes == ()


def test_pilot_reproduction_uses_counts_only_and_says_there_are_no_dates(published):
    """The pilot report: chi-square 3.5733, p = 0.0587 on [[62, 245], [252, 1341]]; no
    Kaplan-Meier or log-rank figure, because Table 4.1 has no exit dates."""
    result = pilot_reproduction()
    assert result["table"] == [[62, 245], [252, 1341]]
    published(result["chi_square"].statistic, 3.5733, decimals=4)
    published(result["chi_square"].pvalue, 0.0587, decimals=4)
    assert PILOT_HAS_DATES is False and result["has_dates"] is False
    assert result["time_to_event"] is None and "no" in result["note"]


@pytest.mark.slow
def test_import_leaves_the_host_matplotlib_alone():
    """Importing the package loads no matplotlib at all (so it cannot switch the host's
    backend); rendering a report page loads no pyplot and keeps the backend the host chose.
    One interpreter for both: each start imports numpy, scipy and the package again."""
    code = (
        "import sys\n"
        "import fiptrial_analysis\n"
        "assert 'matplotlib' not in sys.modules, 'matplotlib imported'\n"
        "import matplotlib\n"
        "matplotlib.use('svg')\n"
        "from fiptrial_analysis import build_report, pilot_participants, render_html\n"
        "page = render_html(build_report(pilot_participants()))\n"
        "assert '<img' in page\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported by rendering'\n"
        "assert matplotlib.get_backend() == 'svg', matplotlib.get_backend()\n"
    )
    run = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr


def test_pilot_sensitivity_to_the_end_reasons_of_table_4_1():
    """The pilot report's Table 4.1, recomputed (shared/domain/README.md): leaving out moves
    (32) gives 16.0% vs 12.3%, p 0.080; also leaving out 31, 34 and 35 gives 11.7% vs 10.4%,
    p 0.48. Checked against scipy's chi2_contingency (Pearson, no correction) to 1e-9."""
    from scipy.stats import chi2_contingency

    moves, administrative = pilot_reproduction()["sensitivity"]
    assert moves["table"] == [[49, 258], [196, 1397]]
    assert administrative["table"] == [[36, 271], [165, 1428]]
    for entry, printed, shares in (
        (moves, 0.080, (0.160, 0.123)),
        (administrative, 0.48, (0.117, 0.104)),
    ):
        statistic, pvalue, _, _ = chi2_contingency(entry["table"], correction=False)
        assert entry["chi_square"].pvalue == pytest.approx(pvalue, rel=1e-9)
        assert entry["chi_square"].statistic == pytest.approx(statistic, rel=1e-9)
        assert round(entry["chi_square"].pvalue, len(str(printed)) - 2) == printed
        (a, b), (c, d) = entry["table"]
        assert (round(a / (a + b), 3), round(c / (c + d), 3)) == shares
