"""Client managers: ANOVA intraclass correlation, per-manager random effects, partially nested
design effect and sample size."""

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from numpy.testing import assert_allclose
from scipy import optimize, stats

from fiptrial_analysis import (
    icc_anova,
    manager_effects,
    partially_nested_design_effect,
    random_effects,
    sample_size_two_proportions,
)


def _caseloads(managers=40, seed=5, icc=0.1):
    rng = np.random.default_rng(seed)
    sizes = rng.integers(3, 30, managers)
    manager = np.repeat(np.arange(managers), sizes)
    # A beta-binomial caseload: manager risks Beta with intraclass correlation icc.
    mean = 0.3
    a, b = mean * (1 / icc - 1), (1 - mean) * (1 / icc - 1)
    risk = rng.beta(a, b, managers)
    outcome = (rng.uniform(size=manager.size) < risk[manager]).astype(float)
    return outcome, np.array([f"m{m:02d}" for m in manager])


def test_icc_uses_the_one_way_anova_mean_squares():
    """The mean squares are those of statsmodels' one-way ANOVA (anova_lm of the 0/1 outcome
    on the manager) to 1e-10, and the estimate is (MSB - MSW) / (MSB + (n0 - 1) MSW) with
    n0 = (N - sum n_i^2 / N) / (k - 1) (Ridout, Demetrio and Firth 1999, the "aov" estimator)."""
    outcome, manager = _caseloads()
    result = icc_anova(outcome, manager)
    frame = pd.DataFrame({"y": outcome, "m": manager})
    table = sm.stats.anova_lm(smf.ols("y ~ C(m)", data=frame).fit())
    msb, msw = table["mean_sq"].iloc[0], table["mean_sq"].iloc[1]
    assert_allclose([result.msb, result.msw], [msb, msw], rtol=1e-10)
    sizes = frame.groupby("m").size().to_numpy()
    n0 = (sizes.sum() - np.sum(sizes**2) / sizes.sum()) / (sizes.size - 1)
    assert_allclose(result.icc, (msb - msw) / (msb + (n0 - 1) * msw), rtol=1e-12)
    assert result.clusters == 40 and result.n == outcome.size and result.estimable


def test_icc_balanced_textbook_case():
    """Two clusters of four with all-or-nothing outcomes: perfectly correlated within, so
    the ANOVA estimate is 1; outcomes independent of the cluster give a value near 0."""
    assert icc_anova([1, 1, 1, 1, 0, 0, 0, 0], list("aaaabbbb")).icc == pytest.approx(1.0)
    assert icc_anova([1, 0, 1, 0, 1, 0, 1, 0], list("aaaabbbb")).icc < 0


def test_icc_not_estimable_says_why():
    assert not icc_anova([1, 0], ["a", "b"]).estimable
    result = icc_anova([0, 0, 0, 0], list("aabb"))
    assert not result.estimable and "does not vary" in result.note


def test_manager_effects_pool_with_reml_and_shrink():
    """tau2 is random_effects(..., method="REML") of the managers' risks with variances
    p~(1 - p~)/n, p~ = (y + 1/2)/(n + 1); each BLUP is mu + tau2/(tau2 + v) (y - mu)."""
    outcome, manager = _caseloads()
    result = manager_effects(outcome, manager, reference_risk=0.25)
    names, codes = np.unique(manager, return_inverse=True)
    n = np.bincount(codes)
    y = np.bincount(codes, weights=outcome)
    smoothed = (y + 0.5) / (n + 1)
    variance = smoothed * (1 - smoothed) / n
    pooled = random_effects(y / n - 0.25, variance, method="REML")
    assert_allclose(result.pooled.tau2, pooled.tau2, rtol=1e-12)
    assert_allclose(result.tau, math.sqrt(pooled.tau2))
    order = [list(names).index(m) for m in result.managers]
    shrink = pooled.tau2 / (pooled.tau2 + variance[order])
    expected = pooled.estimate + shrink * (y[order] / n[order] - 0.25 - pooled.estimate)
    assert_allclose(result.blup, expected, rtol=1e-12)
    assert np.all(np.diff(result.blup) >= 0)  # caterpillar order
    assert np.all(result.blup_ci_lower < result.blup) and np.all(result.blup < result.blup_ci_upper)
    assert result.pooled.tau2 > 0


def test_partially_nested_design_effect_formula():
    """(1 + (m - 1) rho + 1/r) / (1 + 1/r): with r = 1 the average of the FIP arm's design
    effect and 1 (Baldwin et al. 2011); no clustering gives 1."""
    assert partially_nested_design_effect(20, 0.05, 1.0) == pytest.approx((1.95 + 1) / 2)
    assert partially_nested_design_effect(20, 0.0, 4.0) == pytest.approx(1.0)
    assert partially_nested_design_effect(1, 0.3, 4.0) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="icc"):
        partially_nested_design_effect(20, 1.5)


def test_sample_size_with_clustering_in_the_fip_arm_only():
    """Independent check: the FIP arm size at which the two-sided z-test with variances
    D p1 q1 / n + p2 q2 / (r n) (alternative) and pbar qbar (D / n + 1 / (r n)) (null) has
    the requested power, found by root finding, to 1e-6."""
    p1, p2, r, m, rho = 0.25, 0.18, 4.0, 25, 0.04
    design = 1 + (m - 1) * rho
    result = sample_size_two_proportions(p1, p2, ratio=r, icc=rho, cluster_size=m, nesting="fip")
    p_bar = (p1 + r * p2) / (1 + r)
    z = stats.norm.isf(0.025)

    def power(n):
        null = math.sqrt(p_bar * (1 - p_bar) * (design / n + 1 / (r * n)))
        alternative = math.sqrt(design * p1 * (1 - p1) / n + p2 * (1 - p2) / (r * n))
        return stats.norm.cdf((abs(p1 - p2) - z * null) / alternative) - 0.8

    n_fip = optimize.brentq(power, 10, 1e6, xtol=1e-10)
    assert_allclose(result.n_fip_exact, n_fip, rtol=1e-6)
    assert result.n_control == math.ceil(round(n_fip * r, 9))
    both = sample_size_two_proportions(p1, p2, ratio=r, icc=rho, cluster_size=m)
    individual = sample_size_two_proportions(p1, p2, ratio=r)
    assert individual.n_fip < result.n_fip < both.n_fip
    assert result.nesting == "fip" and both.nesting == "both"
    with pytest.raises(ValueError, match="nesting"):
        sample_size_two_proportions(p1, p2, nesting="control")
