"""Random-effects pooling of site estimates (DerSimonian and Laird)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from ._checks import same_length, vector, z_quantile


@dataclass(frozen=True)
class RandomEffectsResult:
    """DerSimonian-Laird random-effects meta-analysis.

    Attributes
    ----------
    estimate, se : float
        Pooled estimate and its standard error.
    ci : tuple of float
        ``estimate +/- z * se``.
    zvalue, pvalue : float
        Wald test of ``estimate == 0``.
    tau2 : float
        Between-site variance (method of moments, truncated at 0).
    i2 : float
        Share of the total variation due to heterogeneity, a fraction in [0, 1].
    q, q_pvalue : float
        Cochran's Q and its p-value on ``k - 1`` degrees of freedom.
    k : int
        Number of estimates pooled.
    fixed_estimate, fixed_se : float
        The inverse-variance (fixed/common effect) estimate, for comparison.
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


def random_effects(
    estimates: ArrayLike, variances: ArrayLike, alpha: float = 0.05
) -> RandomEffectsResult:
    """Pool estimates with the DerSimonian-Laird random-effects model.

    Parameters
    ----------
    estimates : array_like
        One estimate per site, on a scale where they are roughly normal (e.g. log odds ratios).
    variances : array_like
        Their sampling variances, all positive.
    alpha : float, default 0.05
        One minus the confidence level.

    Returns
    -------
    RandomEffectsResult

    Raises
    ------
    ValueError
        If fewer than two estimates are given, lengths differ, or a variance is not positive.

    Notes
    -----
    With ``w = 1 / v``: ``Q = sum(w (y - y_w)^2)``,
    ``tau2 = max(0, (Q - (k - 1)) / (sum(w) - sum(w^2) / sum(w)))``, the pooled estimate uses
    weights ``1 / (v + tau2)`` and ``I2 = max(0, (Q - (k - 1)) / Q)``, which for this estimator
    equals metafor's ``tau2 / (tau2 + typical within-site variance)``.
    """
    y = vector(estimates, "estimates")
    v = vector(variances, "variances")
    k = same_length(estimates=y, variances=v)
    if k < 2:
        raise ValueError("random_effects needs at least two estimates")
    if np.any(v <= 0):
        raise ValueError("all variances must be positive")
    z = z_quantile(alpha)
    w = 1.0 / v
    fixed = float(np.sum(w * y) / w.sum())
    q = float(np.sum(w * (y - fixed) ** 2))
    dof = k - 1
    scale = float(w.sum() - np.sum(w**2) / w.sum())
    tau2 = max(0.0, (q - dof) / scale) if scale > 0 else 0.0
    w_star = 1.0 / (v + tau2)
    estimate = float(np.sum(w_star * y) / w_star.sum())
    se = float(np.sqrt(1.0 / w_star.sum()))
    zvalue = estimate / se
    return RandomEffectsResult(
        estimate=estimate,
        se=se,
        ci=(estimate - z * se, estimate + z * se),
        zvalue=zvalue,
        pvalue=float(2 * stats.norm.sf(abs(zvalue))),
        tau2=tau2,
        i2=max(0.0, (q - dof) / q) if q > 0 else 0.0,
        q=q,
        q_pvalue=float(stats.chi2.sf(q, dof)),
        k=k,
        fixed_estimate=fixed,
        fixed_se=float(np.sqrt(1.0 / w.sum())),
    )
