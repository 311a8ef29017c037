"""Competing risks: Gray's test against cmprsk's published output, cumulative incidence with
intervals against lifelines' AalenJohansenFitter, and the site-standardised curves."""

import csv
import warnings

import numpy as np
import pytest
from lifelines import AalenJohansenFitter
from numpy.testing import assert_allclose

from fiptrial_analysis import cumulative_incidence, cumulative_incidence_by_group, gray_test


def _bmtcrr(data_dir):
    with open(data_dir / "bmtcrr.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    time = np.array([float(r["ftime"]) for r in rows])
    status = np.array([int(r["Status"]) for r in rows])
    disease = np.array([r["D"] for r in rows])
    phase = np.array([r["Phase"] for r in rows])
    return time, status, disease, phase


@pytest.mark.parametrize(
    "cause, statistic, pvalue", [(1, 2.8623325, 0.09067592), (2, 0.4481279, 0.50322531)]
)
def test_gray_matches_cmprsk_on_bmtcrr(data_dir, cause, statistic, pvalue):
    """Scrucca, Santucci and Aversa (2007), Bone Marrow Transplant 40:381-387:
    cuminc(ftime, Status, D) prints Tests: 1 2.8623325 0.09067592 1; 2 0.4481279 0.50322531 1
    (R cmprsk, rho = 0)."""
    time, status, disease, _ = _bmtcrr(data_dir)
    result = gray_test(time, status, disease, of=cause)
    assert_allclose(result.statistic, statistic, rtol=1e-7)
    assert_allclose(result.pvalue, pvalue, rtol=1e-7)
    assert result.dof == 1 and result.groups == ("ALL", "AML") and result.estimable


def test_stratified_gray_sums_scores_and_variances_over_strata(data_dir):
    """As cmprsk's cuminc(..., strata): the stratified statistic uses the sums over strata of
    the per-stratum scores and variances (each stratum a cmprsk test of its own)."""
    time, status, disease, phase = _bmtcrr(data_dir)
    stratified = gray_test(time, status, disease, of=1, strata=phase)
    parts = [
        gray_test(time[phase == p], status[phase == p], disease[phase == p], of=1)
        for p in np.unique(phase)
    ]
    score = sum(part.score for part in parts)
    variance = sum(part.variance for part in parts)
    assert_allclose(stratified.score, score, rtol=1e-12)
    assert_allclose(stratified.variance, variance, rtol=1e-12)
    assert_allclose(stratified.statistic, float(score @ np.linalg.inv(variance) @ score))
    assert stratified.strata == 4


def test_gray_not_estimable_without_events_of_the_cause():
    result = gray_test([1, 2, 3, 4], [2, 0, 2, 0], ["a", "a", "b", "b"], of=1)
    assert not result.estimable and np.isnan(result.pvalue)
    assert "not estimable" in result.note


def _competing(n=300, seed=3):
    rng = np.random.default_rng(seed)
    return rng.exponential(10, n), rng.integers(0, 3, n)


def test_cumulative_incidence_and_interval_match_lifelines():
    """lifelines AalenJohansenFitter(calculate_variance=True) on untied times (it jitters
    ties): the incidence, the delta-method variance (Marubini and Valsecchi 1995, as SAS
    LIFETEST) and the log(-log) interval, to 1e-10. lifelines labels its two interval
    columns the wrong way round, so they are compared as (min, max)."""
    time, cause = _competing()
    result = cumulative_incidence(time, cause, of=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitter = AalenJohansenFitter(calculate_variance=True).fit(time, cause, event_of_interest=1)
    curve = fitter.cumulative_density_.iloc[:, 0]
    at = np.searchsorted(curve.index.to_numpy(), result.times)
    assert_allclose(result.incidence, curve.to_numpy()[at], rtol=0, atol=1e-12)
    variance = fitter.variance_.to_numpy()[at]
    defined = np.isfinite(variance)  # lifelines divides by n - d = 0 at the last time
    assert defined[:-1].all()
    assert_allclose(result.std_err[defined] ** 2, variance[defined], rtol=0, atol=1e-12)
    bounds = fitter.confidence_interval_cumulative_density_.to_numpy()[at]
    inside = np.isfinite(result.ci_lower) & defined
    assert_allclose(result.ci_lower[inside], bounds.min(axis=1)[inside], rtol=1e-10)
    assert_allclose(result.ci_upper[inside], bounds.max(axis=1)[inside], rtol=1e-10)


def test_cumulative_incidence_with_ties_on_aml():
    """Without competing causes the cumulative incidence is 1 - Kaplan-Meier, ties included:
    R survfit on aml (Maintained) has S = 0.185 after 48 weeks (jaspTools life table)."""
    time = [9, 13, 13, 18, 23, 28, 31, 34, 45, 48, 161]
    status = [1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 0]
    result = cumulative_incidence(time, status, of=1)
    assert_allclose(1 - result.at(48), 0.184090909090909, rtol=1e-12)


def test_standardised_curves_weight_sites_by_size():
    """Per arm, sum over sites of w_s F_s(t) with w_s = n_s / N, each F_s the site's own
    Aalen-Johansen curve; variances add with w_s^2."""
    time, cause = _competing(n=600)
    rng = np.random.default_rng(9)
    site = rng.integers(0, 4, time.size)
    arm = rng.integers(0, 2, time.size)
    curves = cumulative_incidence_by_group(time, cause, 1, arm, site)
    weights = np.bincount(site) / site.size
    for g in (0, 1):
        points = curves[g].times
        expected = np.zeros(points.size)
        variance = np.zeros(points.size)
        for s in range(4):
            mask = (site == s) & (arm == g)
            own = cumulative_incidence(time[mask], cause[mask], of=1)
            expected += weights[s] * own.at(points)
            index = np.searchsorted(own.times, points, side="right") - 1
            own_var = np.where(index >= 0, own.std_err[np.clip(index, 0, None)] ** 2, 0.0)
            variance += weights[s] ** 2 * own_var
        assert_allclose(curves[g].incidence, expected, rtol=1e-12)
        assert_allclose(curves[g].std_err ** 2, variance, rtol=1e-12, atol=1e-15)


def test_unstratified_curves_by_group_are_the_plain_curves():
    time, cause = _competing()
    group = np.where(np.arange(time.size) % 3 == 0, "fip", "control")
    curves = cumulative_incidence_by_group(time, cause, [1, 2], group)
    own = cumulative_incidence(time[group == "fip"], cause[group == "fip"], of=[1, 2])
    assert_allclose(curves["fip"].incidence, own.incidence, rtol=1e-12)


def test_rejects_bad_input():
    with pytest.raises(ValueError, match="non-negative integers"):
        cumulative_incidence([1, 2], [0.5, 1], of=1)
    with pytest.raises(ValueError, match="positive causes"):
        cumulative_incidence([1, 2], [0, 1], of=0)
    with pytest.raises(ValueError, match="missing label"):
        gray_test([1, 2, 3], [1, 0, 1], ["a", None, "b"], of=1)
    with pytest.raises(ValueError, match="two groups"):
        gray_test([1, 2, 3], [1, 0, 1], ["a", "a", "a"], of=1)
