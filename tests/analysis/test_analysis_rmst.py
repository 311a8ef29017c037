"""rmst_difference against RMST by Kaplan-Meier integration (lifelines) per site and arm."""

import numpy as np
import pytest
from lifelines import KaplanMeierFitter
from lifelines.utils import restricted_mean_survival_time
from numpy.testing import assert_allclose

from fiptrial_analysis import rmst_difference


def _trial(n=2000, sites=5, seed=2):
    rng = np.random.default_rng(seed)
    site = rng.integers(0, sites, n)
    arm = rng.integers(0, 2, n)
    event_time = np.ceil(rng.exponential(300 * np.exp(0.3 * arm + 0.1 * site)))
    censor = np.ceil(rng.uniform(100, 900, n))
    event = (event_time <= censor).astype(int)
    return np.minimum(event_time, censor), event, arm, site


def _lifelines_cell(time, event, horizon):
    """RMST and its Greenwood-type variance from lifelines' Kaplan-Meier curve: the area by
    lifelines.utils.restricted_mean_survival_time, the variance
    sum_{t_j <= tau} (int_{t_j}^tau S)^2 d_j / (n_j (n_j - d_j)) (Klein and Moeschberger 2003,
    eq. 4.5.2; R survRM2::rmst2) from its event table, one event time at a time."""
    fit = KaplanMeierFitter().fit(time, event)
    area = restricted_mean_survival_time(fit, t=horizon)
    table = fit.event_table
    variance = 0.0
    for t, row in table.iterrows():
        d, n = row["observed"], row["at_risk"]
        if t > horizon or d == 0 or n == d:
            continue
        # S is a step function: integrate it exactly from t to tau over its jumps.
        jumps = np.append(fit.timeline[(fit.timeline > t) & (fit.timeline < horizon)], horizon)
        starts = np.concatenate([[t], jumps[:-1]])
        values = fit.survival_function_at_times(starts).to_numpy()
        remaining = float(np.sum(values * (jumps - starts)))
        variance += remaining**2 * d / (n * (n - d))
    return area, variance


def test_matches_lifelines_per_site_and_arm_with_size_weights():
    """Per site and arm the restricted mean is lifelines' KM integral to 1e-10; the combined
    arm means and difference use weights n_site / N, the variance sum w^2 V."""
    time, event, arm, site = _trial()
    horizon = 365
    result = rmst_difference(time, event, arm, horizon, site)
    means = np.zeros((5, 2))
    variances = np.zeros((5, 2))
    for s in range(5):
        for g in range(2):
            mask = (site == s) & (arm == g)
            means[s, g], variances[s, g] = _lifelines_cell(time[mask], event[mask], horizon)
    weights = np.bincount(site) / site.size
    assert_allclose(result.rmst[0], weights @ means[:, 0], rtol=1e-10)
    assert_allclose(result.rmst[1], weights @ means[:, 1], rtol=1e-10)
    assert_allclose(result.difference, weights @ (means[:, 1] - means[:, 0]), rtol=1e-10)
    assert_allclose(result.se, np.sqrt(weights**2 @ variances.sum(axis=1)), rtol=1e-8)
    assert_allclose(result.rmst_se[1], np.sqrt(weights**2 @ variances[:, 1]), rtol=1e-8)
    assert result.strata_used == 5 and result.strata_excluded == ()
    assert_allclose(sum(result.weights.values()), 1.0)
    assert result.groups == (0, 1)
    assert result.ci[0] < result.difference < result.ci[1]


def test_unstratified_is_one_kaplan_meier_integral():
    time, event, arm, _ = _trial(seed=5)
    result = rmst_difference(time, event, np.where(arm == 1, "fip", "control"), 500)
    fip, _ = _lifelines_cell(time[arm == 1], event[arm == 1], 500)
    control, _ = _lifelines_cell(time[arm == 0], event[arm == 0], 500)
    assert_allclose([result.rmst["fip"], result.rmst["control"]], [fip, control], rtol=1e-10)
    assert result.groups == ("control", "fip")


def test_site_not_followed_up_to_the_horizon_is_left_out():
    """A site whose follow-up ends before the horizon, with the curve still above 0, has no
    identified restricted mean: it is left out, named, and the weights renormalised."""
    time, event, arm, site = _trial()
    short = site == 4
    time = np.where(short, np.minimum(time, 100), time)
    event = np.where(short & (time >= 100), 0, event)
    result = rmst_difference(time, event, arm, 365, site)
    kept = rmst_difference(time[~short], event[~short], arm[~short], 365, site[~short])
    assert result.strata_excluded == (4,)
    assert "left out" in result.note
    assert_allclose(result.difference, kept.difference, rtol=1e-12)


def test_curve_reaching_zero_before_the_horizon_is_identified():
    result = rmst_difference([1, 2, 3, 1, 2, 4], [1, 1, 1, 1, 1, 1], [0, 0, 0, 1, 1, 1], 10)
    assert_allclose(result.rmst[0], (1 + 2 + 3) / 3)
    assert_allclose(result.rmst[1], (1 + 2 + 4) / 3)


def test_nothing_estimable_says_why():
    result = rmst_difference([1, 2, 3, 4], [0, 0, 0, 0], [0, 0, 1, 1], 10)
    assert not result.estimable and np.isnan(result.difference)
    assert "not estimable" in result.note


@pytest.mark.parametrize("horizon", [0, -1, float("nan"), float("inf")])
def test_rejects_a_bad_horizon(horizon):
    with pytest.raises(ValueError, match="horizon"):
        rmst_difference([1, 2], [1, 1], [0, 1], horizon)


def test_rejects_missing_labels():
    with pytest.raises(ValueError, match="missing label"):
        rmst_difference([1, 2, 3], [1, 1, 1], ["fip", None, "control"], 5)
    with pytest.raises(ValueError, match="missing label"):
        rmst_difference([1, 2, 3], [1, 1, 1], [0, 1, 1], 5, strata=[1.0, np.nan, 2.0])
