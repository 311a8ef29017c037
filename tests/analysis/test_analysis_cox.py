"""cox_stratified against R's coxph output, statsmodels PHReg and lifelines CoxPHFitter."""

import warnings

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter
from numpy.testing import assert_allclose
from statsmodels.duration.hazard_regression import PHReg

from fiptrial_analysis import cox_stratified

# R survival::aml: weeks to relapse; status 0 = censored.
AML_MAINTAINED = [(9, 1), (13, 1), (13, 0), (18, 1), (23, 1), (28, 0), (31, 1), (34, 1),
                  (45, 0), (48, 1), (161, 0)]  # fmt: skip
AML_NONMAINTAINED = [(5, 1), (5, 1), (8, 1), (8, 1), (12, 1), (16, 0), (23, 1), (27, 1),
                     (30, 1), (33, 1), (43, 1), (45, 1)]  # fmt: skip


def _trial(n=3000, sites=12, clusters=800, seed=1, ties=True):
    """Several sites with their own baseline hazard, a true log hazard ratio of -0.4, and
    benefit units (clusters) of a few participants; whole days when ``ties``."""
    rng = np.random.default_rng(seed)
    site = rng.integers(0, sites, n)
    arm = rng.integers(0, 2, n)
    unit = rng.integers(0, clusters, n)
    event_time = rng.exponential(100 * np.exp(0.4 * arm + 0.1 * site))
    censor = rng.uniform(0, 200, n)
    if ties:
        event_time, censor = np.ceil(event_time), np.ceil(censor)
    event = (event_time <= censor).astype(int)
    return np.minimum(event_time, censor), event, arm, site, unit


def test_matches_r_coxph_on_aml(published):
    """R: coxph(Surv(time, status) ~ x, data = aml) (Efron ties, the default) prints
    coef 0.9155, exp(coef) 2.4981, se(coef) 0.5119, z 1.788, p 0.0737 (the survival package's
    classic example, as printed in its tutorials)."""
    rows = AML_MAINTAINED + AML_NONMAINTAINED
    group = ["Maintained"] * 11 + ["Nonmaintained"] * 12
    fit = cox_stratified([t for t, _ in rows], [s for _, s in rows], group)
    assert fit.groups == ("Maintained", "Nonmaintained")
    published(fit.log_hazard_ratio, 0.9155, decimals=4)
    published(fit.hazard_ratio, 2.4981, decimals=4)
    published(fit.se, 0.5119, decimals=4)
    published(fit.log_hazard_ratio / fit.se, 1.788, decimals=3)
    published(fit.pvalue, 0.0737, decimals=4)
    assert fit.ties == "efron" and not fit.robust and fit.estimable


@pytest.mark.parametrize("ties", ["breslow", "efron"])
def test_matches_statsmodels_phreg_with_ties_and_strata(ties):
    """statsmodels PHReg(time, arm, status, strata=site, ties=...) on tied daily data: the
    coefficient and the model-based standard error to 1e-6."""
    time, event, arm, site, _ = _trial()
    fit = cox_stratified(time, event, arm, site, ties=ties)
    reference = PHReg(time, arm[:, None].astype(float), status=event, strata=site, ties=ties)
    result = reference.fit()
    assert_allclose(fit.log_hazard_ratio, result.params[0], rtol=0, atol=1e-6)
    assert_allclose(fit.se, result.bse[0], rtol=1e-6)
    assert fit.strata == 12 and fit.events == int(event.sum())


def test_cluster_sandwich_matches_statsmodels_breslow():
    """statsmodels PHReg(...).fit(groups=unit) is the Lin-Wei cluster sandwich with Breslow
    score residuals; its score_residuals are NaN for participants censored before their
    stratum's first event (R and we give them 0), so the sandwich is rebuilt from them with
    those set to 0: I^-1 (sum_c U_c^2) I^-1."""
    time, event, arm, site, unit = _trial()
    fit = cox_stratified(time, event, arm, site, unit, ties="breslow")
    model = PHReg(time, arm[:, None].astype(float), status=event, strata=site, ties="breslow")
    params = model.fit().params
    residuals = np.nan_to_num(model.score_residuals(params))[:, 0]
    meat = np.sum(np.bincount(unit, weights=residuals) ** 2)
    information = -model.hessian(params)[0, 0]
    assert_allclose(fit.se, np.sqrt(meat) / information, rtol=1e-10)
    assert fit.robust and fit.clusters == len(np.unique(unit))
    assert fit.model_se != pytest.approx(fit.se)


def test_cluster_sandwich_matches_lifelines_without_ties():
    """lifelines CoxPHFitter(strata=["site"], cluster_col="unit", robust=True) on continuous
    times (lifelines' score residuals ignore ties): coefficient and robust standard error to
    1e-6, and the model-based standard error without clusters."""
    time, event, arm, site, unit = _trial(ties=False)
    frame = pd.DataFrame({"T": time, "E": event, "arm": arm, "site": site, "unit": unit})
    robust = CoxPHFitter().fit(frame, "T", "E", strata=["site"], cluster_col="unit", robust=True)
    plain = CoxPHFitter().fit(frame.drop(columns="unit"), "T", "E", strata=["site"])
    fit = cox_stratified(time, event, arm, site, unit)
    assert_allclose(fit.log_hazard_ratio, robust.params_["arm"], rtol=0, atol=1e-6)
    assert_allclose(fit.se, robust.standard_errors_["arm"], rtol=1e-6)
    assert_allclose(fit.model_se, plain.standard_errors_["arm"], rtol=1e-6)


def _efron_score_residuals(time, event, x, strata, beta):
    """Score residuals of a one-covariate Cox model, Efron ties, one subject at a time: a
    death tied with d - 1 others is split over d sub-steps, each adding (x_i - xbar_l) / d for
    the dying subject, while every subject at risk loses r_i (x_i - xbar_l) / S0_l, weighted
    1 - l/d for those dying then (Therneau and Grambsch 2000, sections 3.3 and 7.1)."""
    residual = np.zeros(time.size)
    risk = np.exp(beta * x)
    for s in np.unique(strata):
        members = np.flatnonzero(strata == s)
        for t in np.unique(time[members][event[members] == 1]):
            at_risk = members[time[members] >= t]
            dying = members[(time[members] == t) & (event[members] == 1)]
            d = dying.size
            for step in range(d):
                weight = np.ones(time.size)
                weight[dying] = 1 - step / d
                total = np.sum(weight[at_risk] * risk[at_risk])
                mean = np.sum(weight[at_risk] * risk[at_risk] * x[at_risk]) / total
                residual[dying] += (x[dying] - mean) / d
                residual[at_risk] -= weight[at_risk] * risk[at_risk] * (x[at_risk] - mean) / total
    return residual


def test_efron_cluster_sandwich_matches_direct_computation():
    """With Efron ties the robust variance uses Efron score residuals (as R's coxph with
    cluster); checked against the direct subject-by-subject computation above, to 1e-10."""
    time, event, arm, site, unit = _trial(n=400, sites=3, clusters=150)
    fit = cox_stratified(time, event, arm, site, unit)
    residuals = _efron_score_residuals(time, event, arm.astype(float), site, fit.log_hazard_ratio)
    assert abs(residuals.sum()) < 1e-8  # the score is 0 at the estimate
    meat = np.sum(np.bincount(unit, weights=residuals) ** 2)
    assert_allclose(fit.se, np.sqrt(meat) * fit.model_se**2, rtol=1e-10)


def test_strata_with_one_arm_carry_no_information():
    """A site whose participants are all in one arm changes nothing."""
    time, event, arm, site, _ = _trial()
    fit = cox_stratified(time, event, arm, site)
    extra = np.arange(50)
    more = cox_stratified(
        np.concatenate([time, extra + 1.0]),
        np.concatenate([event, np.ones(50, dtype=int)]),
        np.concatenate([arm, np.ones(50, dtype=int)]),
        np.concatenate([site, np.full(50, 99)]),
    )
    assert_allclose(more.log_hazard_ratio, fit.log_hazard_ratio, rtol=1e-12)
    assert more.strata == fit.strata + 1


def test_reference_arm_can_be_chosen():
    time, event, arm, site, _ = _trial()
    labels = np.where(arm == 1, "fip", "control")
    default = cox_stratified(time, event, labels, site)
    flipped = cox_stratified(time, event, labels, site, reference="fip")
    assert default.groups == ("control", "fip") and flipped.groups == ("fip", "control")
    assert_allclose(flipped.log_hazard_ratio, -default.log_hazard_ratio, rtol=1e-10)


@pytest.mark.parametrize(
    "time, event, group, strata, reason",
    [
        ([1, 2, 3, 4], [0, 0, 0, 0], [0, 0, 1, 1], None, "no events"),
        ([1, 2, 3, 4], [1, 1, 1, 1], [0, 0, 1, 1], ["a", "a", "b", "b"], "both arms at risk"),
        ([1, 2, 3, 4, 5, 6], [1, 1, 1, 0, 0, 0], [1, 1, 1, 0, 0, 0], None, "no finite maximum"),
    ],
)
def test_not_estimable_says_why(time, event, group, strata, reason):
    fit = cox_stratified(time, event, group, strata)
    assert not fit.estimable
    assert reason in fit.note
    assert np.isnan(fit.hazard_ratio) and np.isnan(fit.pvalue)


@pytest.mark.parametrize(
    "group, message",
    [
        ([0, 1, None, 1], "missing label"),
        ([0.0, 1.0, float("nan"), 1.0], "missing label"),
        ([0, 1, 2, 1], "exactly two groups"),
    ],
)
def test_rejects_bad_groups(group, message):
    with pytest.raises(ValueError, match=message):
        cox_stratified([1, 2, 3, 4], [1, 1, 0, 1], group)


def test_rejects_unknown_ties_and_bad_time():
    with pytest.raises(ValueError, match="ties"):
        cox_stratified([1, 2], [1, 1], [0, 1], ties="exact")
    with pytest.raises(ValueError, match="negative"):
        cox_stratified([-1, 2], [1, 1], [0, 1])
    with pytest.raises(ValueError, match="same length"):
        cox_stratified([1, 2, 3], [1, 1], [0, 1])


def test_recovers_a_known_hazard_ratio_under_confounding_by_site():
    """Sites differ in baseline exit rate and in allocation ratio (so site confounds the pooled
    comparison); the true conditional hazard ratio is 1.3. The site-stratified estimate
    covers it, the unstratified one is pulled away."""
    rng = np.random.default_rng(7)
    n_sites = 40
    site = rng.integers(0, n_sites, 20000)
    share_fip = np.linspace(0.1, 0.9, n_sites)[site]
    arm = (rng.uniform(size=site.size) < share_fip).astype(int)
    baseline = np.exp(np.linspace(-1.5, 1.5, n_sites))[site] / 300
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        event_time = rng.exponential(1 / (baseline * np.exp(np.log(1.3) * arm)))
    censor = rng.uniform(200, 1100, site.size)
    time, event = np.ceil(np.minimum(event_time, censor)), (event_time <= censor).astype(int)
    stratified = cox_stratified(time, event, arm, site)
    pooled = cox_stratified(time, event, arm)
    assert stratified.ci[0] < 1.3 < stratified.ci[1]
    assert not (pooled.ci[0] < 1.3 < pooled.ci[1])
