"""standardised_risk_difference against statsmodels GLM / Logit and a stacked M-estimator."""

import numpy as np
import pytest
import statsmodels.api as sm
from numpy.testing import assert_allclose
from scipy.special import expit

from fiptrial_analysis import standardised_risk_difference


def _trial(n=3000, sites=8, seed=4):
    rng = np.random.default_rng(seed)
    site = rng.integers(0, sites, n)
    age = rng.integers(0, 3, n)
    arm = rng.integers(0, 2, n)
    eta = -1 + 0.5 * arm + 0.2 * site - 0.3 * age
    outcome = (rng.uniform(size=n) < expit(eta)).astype(float)
    return outcome, arm, site, age


def _design(arm, site, age, sites=8):
    columns = [np.ones(arm.size), arm.astype(float)]
    columns += [(site == k).astype(float) for k in range(1, sites)]
    columns += [(age == k).astype(float) for k in range(1, 3)]
    return np.column_stack(columns)


def test_model_matches_statsmodels_glm():
    """statsmodels GLM(y, [1, arm, site dummies, age dummies], Binomial()): the arm's log
    odds ratio and its model-based standard error to 1e-6."""
    y, arm, site, age = _trial()
    result = standardised_risk_difference(y, arm, site, {"age": age})
    glm = sm.GLM(y, _design(arm, site, age), family=sm.families.Binomial()).fit(tol=1e-12)
    assert_allclose(result.log_odds_ratio, glm.params[1], rtol=0, atol=1e-6)
    assert_allclose(result.log_odds_ratio_se, glm.bse[1], rtol=1e-6)
    assert result.parameters == glm.params.size


def test_difference_matches_statsmodels_average_discrete_change():
    """statsmodels Logit(...).get_margeff(at="overall", dummy=True): the average over all
    participants of P(arm = 1) - P(arm = 0) is the g-computation risk difference."""
    y, arm, site, age = _trial()
    result = standardised_risk_difference(y, arm, site, {"age": age})
    logit = sm.Logit(y, _design(arm, site, age)).fit(disp=0, tol=1e-12)
    effect = logit.get_margeff(at="overall", dummy=True)
    assert_allclose(result.difference, effect.margeff[0], rtol=0, atol=1e-8)
    x1, x0 = _design(np.ones_like(arm), site, age), _design(np.zeros_like(arm), site, age)
    assert_allclose(result.risks[1], logit.predict(x1).mean(), atol=1e-8)
    assert_allclose(result.risks[0], logit.predict(x0).mean(), atol=1e-8)


def _stacked_variance(y, arm, site, age, cluster=None):
    """Independent sandwich: stack the logistic score equations with p1_i - mu1 and
    p0_i - mu0 (Stefanski and Boos 2002), take the bread by numerical differentiation and
    the meat from the (cluster-summed) estimating functions; return Var(mu1 - mu0)."""
    x = _design(arm, site, age)
    x1, x0 = _design(np.ones_like(arm), site, age), _design(np.zeros_like(arm), site, age)
    beta = sm.GLM(y, x, family=sm.families.Binomial()).fit(tol=1e-12).params
    theta = np.concatenate([beta, [expit(x1 @ beta).mean(), expit(x0 @ beta).mean()]])

    def psi(theta):
        b, mu1, mu0 = theta[:-2], theta[-2], theta[-1]
        score = x * (y - expit(x @ b))[:, None]
        return np.column_stack([score, expit(x1 @ b) - mu1, expit(x0 @ b) - mu0])

    step = 1e-6
    bread = np.empty((theta.size, theta.size))
    for j in range(theta.size):
        up, down = theta.copy(), theta.copy()
        up[j] += step
        down[j] -= step
        bread[:, j] = (psi(up).sum(axis=0) - psi(down).sum(axis=0)) / (2 * step)
    contributions = psi(theta)
    if cluster is not None:
        contributions = np.vstack(
            [contributions[cluster == c].sum(axis=0) for c in np.unique(cluster)]
        )
    meat = contributions.T @ contributions
    inverse = np.linalg.inv(bread)
    covariance = inverse @ meat @ inverse.T
    contrast = np.zeros(theta.size)
    contrast[-2:] = [1, -1]
    return contrast @ covariance @ contrast


def test_sandwich_matches_stacked_estimating_equations():
    """The influence-function variance equals the stacked M-estimator sandwich to 1e-6,
    with and without clusters."""
    y, arm, site, age = _trial()
    result = standardised_risk_difference(y, arm, site, {"age": age})
    assert_allclose(result.se**2, _stacked_variance(y, arm, site, age), rtol=1e-6)
    unit = np.random.default_rng(0).integers(0, 700, y.size)
    clustered = standardised_risk_difference(y, arm, site, {"age": age}, cluster=unit)
    assert_allclose(clustered.se**2, _stacked_variance(y, arm, site, age, unit), rtol=1e-6)
    assert clustered.clusters == np.unique(unit).size


def test_sites_without_variation_are_fitted_exactly():
    """A site where nobody (or everybody) had the outcome has an infinite fixed effect: its
    participants are predicted by their own outcome in both arms, the model is fitted on the
    other sites, and the difference is the rest's sum divided by all participants."""
    y, arm, site, age = _trial()
    y = np.where(site == 7, 0.0, y)
    y = np.where(site == 6, 1.0, y)
    result = standardised_risk_difference(y, arm, site, {"age": age})
    keep = site < 6
    rest = standardised_risk_difference(y[keep], arm[keep], site[keep], {"age": age[keep]})
    assert result.sites_without_variation == 2
    assert_allclose(result.difference, rest.difference * keep.sum() / y.size, rtol=1e-10)
    assert_allclose(result.log_odds_ratio, rest.log_odds_ratio, rtol=1e-10)


def test_recovers_the_truth_under_confounding_by_site():
    """Sites differ in baseline risk and in allocation ratio. The truth (computed from the
    simulation's own probabilities) lies inside the standardised interval; the crude
    difference is pulled away."""
    rng = np.random.default_rng(11)
    sites = 30
    site = rng.integers(0, sites, 30000)
    arm = (rng.uniform(size=site.size) < np.linspace(0.15, 0.85, sites)[site]).astype(int)
    base = np.linspace(-2, 1, sites)[site]
    y = (rng.uniform(size=site.size) < expit(base + 0.4 * arm)).astype(float)
    truth = np.mean(expit(base + 0.4) - expit(base))
    result = standardised_risk_difference(y, arm, site)
    crude = y[arm == 1].mean() - y[arm == 0].mean()
    assert result.ci[0] < truth < result.ci[1]
    assert abs(crude - truth) > 4 * result.se


@pytest.mark.parametrize(
    "outcome, group, reason",
    [
        ([0, 0, 0, 0], [0, 0, 1, 1], "same outcome"),
        ([0, 1, 0, 1], [0, 0, 0, 0], "exactly two groups"),
    ],
)
def test_refuses_or_marks_what_cannot_be_estimated(outcome, group, reason):
    if reason == "exactly two groups":
        with pytest.raises(ValueError, match=reason):
            standardised_risk_difference(outcome, group)
    else:
        result = standardised_risk_difference(outcome, group)
        assert not result.estimable and reason in result.note


def test_rejects_bad_input():
    with pytest.raises(ValueError, match="0 or 1"):
        standardised_risk_difference([0, 2], [0, 1])
    with pytest.raises(ValueError, match="missing label"):
        standardised_risk_difference([0, 1, 1], [0, 1, 1], strata=["a", None, "b"])
    with pytest.raises(ValueError, match="same length"):
        standardised_risk_difference([0, 1, 1], [0, 1, 1], covariates={"age": [1, 2]})
