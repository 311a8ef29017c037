"""kaplan_meier, log_rank and cumulative_incidence against published output."""

import csv

import numpy as np
import pytest
from numpy.testing import assert_allclose

from fiptrial_analysis import cumulative_incidence, kaplan_meier, log_rank

# R survival::aml (= leukemia): weeks to relapse; status 0 = censored.
AML_MAINTAINED = [(9, 1), (13, 1), (13, 0), (18, 1), (23, 1), (28, 0), (31, 1), (34, 1),
                  (45, 0), (48, 1), (161, 0)]  # fmt: skip
AML_NONMAINTAINED = [(5, 1), (5, 1), (8, 1), (8, 1), (12, 1), (16, 0), (23, 1), (27, 1),
                     (30, 1), (33, 1), (43, 1), (45, 1)]  # fmt: skip


def _aml():
    rows = AML_MAINTAINED + AML_NONMAINTAINED
    time = np.array([t for t, _ in rows], dtype=float)
    status = np.array([s for _, s in rows])
    group = np.array(["Maintained"] * len(AML_MAINTAINED) + ["Nonmaintained"] * 12)
    return time, status, group


def test_kaplan_meier_matches_r_survfit_on_aml(published):
    """R: summary(survfit(Surv(time, status) ~ 1, data = aml)) with the default
    conf.type = "log", to full precision as recorded in jaspTools' test of JASP's
    NonParametricSurvivalAnalysis on survival::leukemia (the life table columns time, n.risk,
    n.event, survival, std.err, lower 95% CI, upper 95% CI)."""
    expected = np.array([
        [5, 23, 2, 0.91304347826087, 0.0587533847558414, 0.804854797782958, 1.0],
        [8, 21, 2, 0.826086956521739, 0.0790341964475118, 0.684839468071899, 0.996466605022982],
        [9, 19, 1, 0.782608695652174, 0.0860061487037983, 0.630957910599588, 0.970708759207681],
        [12, 18, 1, 0.739130434782609, 0.0915605371517001, 0.579799217968031, 0.942246527231519],
        [13, 17, 1, 0.695652173913043, 0.0959438755421514, 0.530878341628212, 0.911568450100481],
        [18, 14, 1, 0.645962732919255, 0.101142675175285, 0.475257724705514, 0.877982262316863],
        [23, 13, 2, 0.546583850931677, 0.107250641740122, 0.372078087249211, 0.80293335280237],
        [27, 11, 1, 0.496894409937888, 0.108401780788683, 0.324016545689816, 0.762010637765041],
        [30, 9, 1, 0.44168391994479, 0.109518069977657, 0.271675995392292, 0.718078477474975],
        [31, 8, 1, 0.386473429951691, 0.108858801494864, 0.222515297746886, 0.671242442973631],
        [33, 7, 1, 0.331262939958592, 0.106390972887551, 0.176520182580705, 0.621657726531294],
        [34, 6, 1, 0.276052449965493, 0.101983376090492, 0.133822195629273, 0.569449296311515],
        [43, 5, 1, 0.220841959972395, 0.0953674384864344, 0.0947332405633126, 0.514826379784336],
        [45, 4, 1, 0.165631469979296, 0.0860352084085751, 0.0598407178100809, 0.458446770885507],
        [48, 2, 1, 0.082815734989648, 0.0726618005035283, 0.0148346082548472, 0.462327406565294],
    ])  # fmt: skip
    time, status, _ = _aml()
    fit = kaplan_meier(time, status)
    assert_allclose(fit.times, expected[:, 0])
    assert_allclose(fit.n_at_risk, expected[:, 1])
    assert_allclose(fit.n_events, expected[:, 2])
    published(fit.survival, expected[:, 3])
    published(fit.std_err, expected[:, 4])
    published(fit.ci_lower, expected[:, 5])
    published(fit.ci_upper, expected[:, 6])


def test_kaplan_meier_survival_at_is_a_right_continuous_step(published):
    """The same source, group Maintained, life table at 22, 40 and 57 weeks: survival
    0.715909090909091, 0.368181818181818 and 0.184090909090909."""
    time = [t for t, _ in AML_MAINTAINED]
    status = [s for _, s in AML_MAINTAINED]
    fit = kaplan_meier(time, status)
    published(fit.survival_at([22, 40, 57]), [0.715909090909091, 0.368181818181818,
                                              0.184090909090909])  # fmt: skip
    assert fit.survival_at(8.99) == 1.0
    assert fit.survival_at(9) == pytest.approx(10 / 11)
    assert fit.median() == 31


def test_kaplan_meier_rejects_bad_input():
    with pytest.raises(ValueError, match="same length"):
        kaplan_meier([1, 2], [1])
    with pytest.raises(ValueError, match="0 \\(censored\\) or 1"):
        kaplan_meier([1, 2], [1, 2])
    with pytest.raises(ValueError, match="negative"):
        kaplan_meier([-1, 2], [1, 1])


def test_log_rank_matches_r_survdiff_on_aml(published):
    """R: survdiff(Surv(time, status) ~ x, data = aml) to full precision, as recorded in
    jaspTools' test of JASP's NonParametricSurvivalAnalysis: Log-rank (Mantel-Haenszel)
    3.3963886989776, df 1, p 0.0653393220405051."""
    time, status, group = _aml()
    result = log_rank(time, status, group)
    published(result.statistic, 3.3963886989776)
    published(result.pvalue, 0.0653393220405051)
    assert result.dof == 1
    assert result.groups == ("Maintained", "Nonmaintained")
    assert_allclose(result.observed, [7, 11])


def _bmt(data_dir, groups=("ALL", "AML-Low Risk", "AML-High Risk")):
    with open(data_dir / "bmt.csv", newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row["Group"] in groups]
    time = np.array([float(row["T"]) for row in rows])
    status = np.array([int(row["Status"]) for row in rows])
    group = np.array([row["Group"] for row in rows])
    return time, status, group


def test_stratified_log_rank_matches_r_survdiff_on_bmt(published, data_dir):
    """R survival, survdiff(Surv(T, Status) ~ Group [+ strata(s)]) on the Klein and Moeschberger
    bone marrow transplant data without the ALL group, as recorded in statsmodels'
    test_survfunc.py::test_survdiff: unstratified 13.44556; strata row %% 5: 11.97799;
    strata row %% 8: 12.12631."""
    time, status, group = _bmt(data_dir, groups=("AML-Low Risk", "AML-High Risk"))
    published(log_rank(time, status, group).statistic, 13.44556, decimals=5)
    rows = np.arange(time.size)
    five = log_rank(time, status, group, strata=rows % 5)
    published(five.statistic, 11.97799, decimals=5)
    assert five.strata == 5
    published(log_rank(time, status, group, strata=rows % 8).statistic, 12.12631, decimals=5)


def test_log_rank_with_three_groups_matches_statsmodels(data_dir):
    """Oracle (no published value): statsmodels.duration.survfunc.survdiff on all three bmt
    groups, unstratified and stratified by row %% 5."""
    from statsmodels.duration.survfunc import survdiff

    time, status, group = _bmt(data_dir)
    strata = np.arange(time.size) % 5
    for kwargs in ({}, {"strata": strata}):
        statistic, pvalue = survdiff(time, status, group, **kwargs)
        ours = log_rank(time, status, group, **kwargs)
        assert ours.dof == 2
        assert_allclose([ours.statistic, ours.pvalue], [statistic, pvalue], rtol=1e-6)


def test_stratification_is_not_the_same_as_pooling():
    """Two strata whose group shares and hazards differ: the stratified test removes the
    stratum effect that the pooled test mistakes for a group effect."""
    rng = np.random.default_rng(7)
    stratum = np.repeat([0, 1], 400)
    group = np.where(stratum == 0, rng.random(800) < 0.8, rng.random(800) < 0.2)
    time = rng.exponential(np.where(stratum == 0, 1.0, 4.0))
    event = np.ones(800)
    pooled = log_rank(time, event, group)
    stratified = log_rank(time, event, group, strata=stratum)
    assert pooled.pvalue < 1e-6
    assert stratified.pvalue > 0.01


def test_log_rank_needs_two_groups():
    with pytest.raises(ValueError, match="two groups"):
        log_rank([1, 2, 3], [1, 1, 0], ["a", "a", "a"])


def test_cumulative_incidence_matches_r_cmprsk(published):
    """R: cmprsk::cuminc(ftime, fstat) on the example in statsmodels' test_survfunc.py
    (test_incidence), estimates at times 1, 2, 4, 6, 7, 8, 9 for causes 1, 2 and 3. Ties
    between events and censoring occur at 1, 2 and 4."""
    ftime = [1, 1, 2, 4, 4, 4, 6, 6, 7, 8, 9, 9, 9, 1, 2, 2, 4, 4]
    fstat = [1, 1, 1, 2, 2, 2, 3, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    at = [1, 2, 4, 6, 7, 8, 9]
    expected = {
        1: [0.11111111, 0.17037037, 0.17037037, 0.17037037, 0.17037037, 0.17037037, 0.17037037],
        2: [0.0, 0.0, 0.20740741, 0.20740741, 0.20740741, 0.20740741, 0.20740741],
        3: [0.0, 0.0, 0.0, 0.17777778, 0.26666667, 0.26666667, 0.26666667],
    }
    for cause, values in expected.items():
        published(cumulative_incidence(ftime, fstat, of=cause).at(at), values, decimals=8)
    both = cumulative_incidence(ftime, fstat, of=[2, 3]).at(at)
    published(both, np.add(expected[2], expected[3]), decimals=7)


def test_cumulative_incidence_of_the_only_cause_is_one_minus_kaplan_meier():
    rng = np.random.default_rng(3)
    time = rng.integers(1, 50, size=300).astype(float)
    event = (rng.random(300) < 0.6).astype(int)
    incidence = cumulative_incidence(time, event, of=1)
    survival = kaplan_meier(time, event)
    assert_allclose(incidence.at(np.arange(60)), 1 - survival.survival_at(np.arange(60)))


def test_cumulative_incidence_matches_lifelines_aalen_johansen():
    """Oracle (no published value): lifelines AalenJohansenFitter on untied random times (it
    jitters tied times, so ties are avoided here)."""
    from lifelines import AalenJohansenFitter

    rng = np.random.default_rng(11)
    time = rng.exponential(10, size=250)
    cause = rng.choice([0, 1, 2], size=250, p=[0.3, 0.4, 0.3])
    ours = cumulative_incidence(time, cause, of=1)
    fitter = AalenJohansenFitter(calculate_variance=False).fit(time, cause, event_of_interest=1)
    theirs = fitter.cumulative_density_.iloc[:, 0]
    assert_allclose(ours.at(theirs.index.to_numpy()), theirs.to_numpy(), rtol=1e-9, atol=1e-12)


def test_cumulative_incidence_rejects_bad_causes():
    with pytest.raises(ValueError, match="non-negative integers"):
        cumulative_incidence([1, 2], [1, -1], of=1)
    with pytest.raises(ValueError, match="positive causes"):
        cumulative_incidence([1, 2], [1, 0], of=0)
