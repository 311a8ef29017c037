"""Random-effects pooling of site estimates: DerSimonian-Laird, REML or Paule-Mandel between-site
variance, a normal or Hartung-Knapp(-Sidik-Jonkman) interval, and a prediction interval."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize, stats

from ._checks import same_length, vector, z_quantile
from ._inference import interval


@dataclass(frozen=True)
class RandomEffectsResult:
    """Random-effects meta-analysis of one estimate per site.

    Attributes
    ----------
    estimate, se : float
        Pooled estimate and its standard error.
    ci : tuple of float
        ``estimate +/- z * se``.
    zvalue, pvalue : float
        Test of ``estimate == 0``: against the normal distribution, or Student's t on
        ``k - 1`` degrees of freedom under Hartung-Knapp.
    tau2 : float
        Between-site variance, by ``method``.
    i2 : float
        Share of the total variation due to heterogeneity, a fraction in [0, 1].
    q, q_pvalue : float
        Cochran's Q and its p-value on ``k - 1`` degrees of freedom.
    k : int
        Number of estimates pooled.
    fixed_estimate, fixed_se : float
        The inverse-variance (fixed/common effect) estimate, for comparison.
    method : str
        ``"DL"``, ``"REML"`` or ``"PM"``: the estimator of ``tau2``.
    hartung_knapp : bool
        Whether ``se``, ``ci`` and ``pvalue`` use the Hartung-Knapp(-Sidik-Jonkman) variance
        ``sum(w* (y - mu)^2) / ((k - 1) sum(w*))`` with t on ``k - 1`` degrees of freedom.
    prediction_interval : tuple of float
        Where the true effect of a new site is expected to lie:
        ``estimate +/- c sqrt(tau2 + se^2)`` with ``c`` the normal quantile, or the t quantile
        on ``k - 1`` degrees of freedom under Hartung-Knapp (metafor's ``predict``; the same
        as the confidence interval when ``tau2 = 0``).
    """

    estimate: float
    se: float
    ci: tuple[float, float]
    zvalue: float
    pvalue: float
    tau2: float
    i2: float
    q: float
    q_pvalue: float
    k: int
    fixed_estimate: float
    fixed_se: float
    method: str = "DL"
    hartung_knapp: bool = False
    prediction_interval: tuple[float, float] = (float("nan"), float("nan"))


METHODS = ("DL", "REML", "PM")


def _q(y: NDArray[np.float64], v: NDArray[np.float64], tau2: float) -> float:
    """Generalised Cochran Q at ``tau2``."""
    w = 1.0 / (v + tau2)
    mu = float(np.sum(w * y) / w.sum())
    return float(np.sum(w * (y - mu) ** 2))


def _tau2_paule_mandel(y: NDArray[np.float64], v: NDArray[np.float64]) -> float:
    """The ``tau2 >= 0`` at which the generalised Q equals ``k - 1`` (Paule and Mandel 1982)."""
    target = y.size - 1
    if _q(y, v, 0.0) <= target:
        return 0.0
    upper = max(float(np.var(y, ddof=1)), 1e-8)
    while _q(y, v, upper) > target:
        upper *= 4
    return float(optimize.brentq(lambda t: _q(y, v, t) - target, 0.0, upper, xtol=1e-14))


def _restricted_loglik(y: NDArray[np.float64], v: NDArray[np.float64], tau2: float) -> float:
    """The restricted log-likelihood of ``tau2``, up to a constant."""
    w = 1.0 / (v + tau2)
    mu = float(np.sum(w * y) / w.sum())
    return -0.5 * float(np.sum(np.log(v + tau2)) + np.log(w.sum()) + np.sum(w * (y - mu) ** 2))


def _tau2_reml(y: NDArray[np.float64], v: NDArray[np.float64], start: float) -> float:
    """Restricted maximum likelihood ``tau2`` by Fisher scoring, truncated at 0 (as metafor).

    A step that lowers the restricted likelihood is halved until it does not (step halving,
    as metafor's ``stepadj``): plain scoring can overshoot and cycle between two values on
    few, very unequal studies, which a demo's sites produced once.
    """
    tau2 = max(start, 0.0)
    current = _restricted_loglik(y, v, tau2)
    for _ in range(500):
        w = 1.0 / (v + tau2)
        mu = float(np.sum(w * y) / w.sum())
        # P = W - w w' / sum(w); score = (y'PPy - tr P) / 2, information = tr(PP) / 2.
        residual = w * (y - mu)
        trace_p = float(w.sum() - np.sum(w**2) / w.sum())
        trace_pp = float(np.sum(w**2) - 2 * np.sum(w**3) / w.sum() + (np.sum(w**2) / w.sum()) ** 2)
        step = (float(residual @ residual) - trace_p) / trace_pp
        new = max(0.0, tau2 + step)
        value = _restricted_loglik(y, v, new)
        for _halving in range(60):
            if value >= current - 1e-15 * abs(current):
                break
            step /= 2
            new = max(0.0, tau2 + step)
            value = _restricted_loglik(y, v, new)
        if abs(new - tau2) < 1e-12 * max(1.0, tau2):
            return new
        tau2, current = new, value
    raise ValueError("the REML estimate of tau2 did not converge")  # pragma: no cover


def random_effects(
    estimates: ArrayLike,
    variances: ArrayLike,
    alpha: float = 0.05,
    *,
    method: str = "DL",
    hartung_knapp: bool = False,
) -> RandomEffectsResult:
    """Pool site estimates with a random-effects model.

    Parameters
    ----------
    estimates : array_like
        One estimate per site, on a scale where they are roughly normal (e.g. log odds ratios).
    variances : array_like
        Their sampling variances, all positive.
    alpha : float, default 0.05
        One minus the confidence level.
    method : {"DL", "REML", "PM"}, default "DL"
        Estimator of the between-site variance: DerSimonian-Laird (method of moments),
        restricted maximum likelihood, or Paule-Mandel (generalised Q equal to ``k - 1``).
        REML and PM are preferred with few sites (Veroniki et al. 2016; Langan et al. 2019).
    hartung_knapp : bool, default False
        Use the Hartung-Knapp(-Sidik-Jonkman) variance and t quantiles for the interval and
        test (metafor's ``test = "knha"``); recommended when sites are few.

    Returns
    -------
    RandomEffectsResult

    Raises
    ------
    ValueError
        If fewer than two estimates are given, lengths differ, a variance is not positive,
        or the method is unknown.

    Notes
    -----
    With ``w = 1 / v``: ``Q = sum(w (y - y_w)^2)``,
    ``tau2 = max(0, (Q - (k - 1)) / (sum(w) - sum(w^2) / sum(w)))``, the pooled estimate uses
    weights ``1 / (v + tau2)`` and ``I2 = tau2 / (tau2 + s2)`` with the typical within-site
    variance ``s2 = (k - 1) sum(w) / (sum(w)^2 - sum(w^2))`` (metafor; for DerSimonian-Laird
    this is ``max(0, (Q - (k - 1)) / Q)``). REML maximises the restricted likelihood by Fisher
    scoring from the DL value; PM solves ``Q(tau2) = k - 1`` by Brent's method.
    """
    y = vector(estimates, "estimates")
    v = vector(variances, "variances")
    k = same_length(estimates=y, variances=v)
    if k < 2:
        raise ValueError("random_effects needs at least two estimates")
    if np.any(v <= 0):
        raise ValueError("all variances must be positive")
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    z = z_quantile(alpha)
    w = 1.0 / v
    fixed = float(np.sum(w * y) / w.sum())
    q = float(np.sum(w * (y - fixed) ** 2))
    dof = k - 1
    scale = float(w.sum() - np.sum(w**2) / w.sum())
    tau2 = max(0.0, (q - dof) / scale) if scale > 0 else 0.0
    if method == "REML":
        tau2 = _tau2_reml(y, v, tau2)
    elif method == "PM":
        tau2 = _tau2_paule_mandel(y, v)
    w_star = 1.0 / (v + tau2)
    estimate = float(np.sum(w_star * y) / w_star.sum())
    se = float(np.sqrt(1.0 / w_star.sum()))
    if hartung_knapp:
        se = float(np.sqrt(np.sum(w_star * (y - estimate) ** 2) / (dof * w_star.sum())))
        critical = float(stats.t.isf(alpha / 2, dof))
    else:
        critical = z
    zvalue = estimate / se if se > 0 else float("nan")
    if hartung_knapp:
        pvalue = float(2 * stats.t.sf(abs(zvalue), dof))
    else:
        pvalue = float(2 * stats.norm.sf(abs(zvalue)))
    predictive_se = float(np.sqrt(tau2 + se**2))
    typical = dof * float(w.sum()) / (float(w.sum()) ** 2 - float(np.sum(w**2)))
    return RandomEffectsResult(
        estimate=estimate,
        se=se,
        ci=interval(estimate, se, critical),
        zvalue=zvalue,
        pvalue=pvalue,
        tau2=tau2,
        i2=tau2 / (tau2 + typical) if tau2 + typical > 0 else 0.0,
        q=q,
        q_pvalue=float(stats.chi2.sf(q, dof)),
        k=k,
        fixed_estimate=fixed,
        fixed_se=float(np.sqrt(1.0 / w.sum())),
        method=method,
        hartung_knapp=bool(hartung_knapp),
        prediction_interval=interval(estimate, predictive_se, critical),
    )
