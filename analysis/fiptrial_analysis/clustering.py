"""Client managers as clusters: intraclass correlation, per-manager spread, design effect.

In the FIP arm one client manager delivers the conversations to many clients, so outcomes of
clients of the same manager may be alike; usual care has no such shared delivery. The trial is
*partially nested*: clustered in the FIP arm only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from ._checks import FloatArray, binary, check_alpha, labels, same_length, z_quantile
from .metaanalysis import RandomEffectsResult, random_effects


@dataclass(frozen=True)
class ICCResult:
    """One-way ANOVA estimate of the intraclass correlation of a binary outcome.

    Attributes
    ----------
    icc : float
        ``(MSB - MSW) / (MSB + (n0 - 1) MSW)``; may be slightly negative by chance. NaN when
        not estimable.
    msb, msw : float
        Between- and within-cluster mean squares.
    n0 : float
        The adjusted mean cluster size ``(N - sum(n_i^2) / N) / (k - 1)``.
    clusters, n : int
        Clusters and participants.
    estimable : bool
        False with fewer than two clusters, no within-cluster replication, or no variation.
    note : str
        Empty, or the reason.
    """

    icc: float
    msb: float
    msw: float
    n0: float
    clusters: int
    n: int
    estimable: bool = True
    note: str = ""


def icc_anova(outcome: ArrayLike, cluster: ArrayLike) -> ICCResult:
    """Intraclass correlation of a 0/1 outcome within clusters (client managers), ANOVA method.

    Parameters
    ----------
    outcome : array_like
        0/1 outcome of each participant (e.g. sustained exit by the horizon), usually the FIP
        arm only.
    cluster : array_like
        The client manager (cluster) of each participant.

    Returns
    -------
    ICCResult

    Raises
    ------
    ValueError
        For outcomes other than 0/1, missing cluster labels or mismatched lengths.

    Notes
    -----
    The ANOVA estimator for binary data (Fleiss 1981; Ridout, Demetrio and Firth 1999,
    Biometrics 55:137-148, estimator "aov"; R ``ICCbin::iccbin(method = "aov")``): with
    ``k`` clusters of sizes ``n_i`` and ``y_i`` events, ``N = sum(n_i)``,
    ``MSB = (sum(y_i^2 / n_i) - (sum y_i)^2 / N) / (k - 1)`` and
    ``MSW = (sum(y_i) - sum(y_i^2 / n_i)) / (N - k)``; these are the mean squares of the one-way
    ANOVA of the 0/1 outcome on the cluster.
    """
    y = binary(outcome)
    c_values = np.asarray(cluster)
    same_length(outcome=y, cluster=c_values)
    _, c = labels(c_values, "cluster")
    sizes = np.bincount(c).astype(float)
    events = np.bincount(c, weights=y)
    k, n = int(sizes.size), int(y.size)
    nan = float("nan")
    if k < 2 or n <= k:
        return ICCResult(nan, nan, nan, nan, k, n, False, "needs two clusters and a cluster of 2+")
    between = float(np.sum(events**2 / sizes) - events.sum() ** 2 / n)
    within = float(events.sum() - np.sum(events**2 / sizes))
    msb, msw = between / (k - 1), within / (n - k)
    n0 = (n - float(np.sum(sizes**2)) / n) / (k - 1)
    denominator = msb + (n0 - 1) * msw
    if denominator <= 0:
        return ICCResult(nan, msb, msw, n0, k, n, False, "the outcome does not vary")
    return ICCResult((msb - msw) / denominator, msb, msw, n0, k, n)


@dataclass(frozen=True)
class ManagerEffectsResult:
    """Spread of outcomes between client managers from a random-effects model.

    Attributes
    ----------
    managers : tuple
        Manager labels, in the order of the arrays (ascending shrunken estimate, ready for a
        caterpillar plot).
    n, events : ndarray
        Participants and outcomes per manager.
    estimate, se : ndarray
        Per manager: risk (minus ``reference_risk`` when given) and its standard error.
    blup, blup_ci_lower, blup_ci_upper : ndarray
        Shrunken (empirical Bayes) estimate per manager with its interval.
    pooled : RandomEffectsResult
        The random-effects fit: ``pooled.tau2`` is the between-manager variance of the risk,
        ``pooled.prediction_interval`` where a new manager's true value is expected.
    tau : float
        ``sqrt(tau2)``: the between-manager standard deviation, on the risk scale.
    """

    managers: tuple[object, ...]
    n: FloatArray
    events: FloatArray
    estimate: FloatArray
    se: FloatArray
    blup: FloatArray
    blup_ci_lower: FloatArray
    blup_ci_upper: FloatArray
    pooled: RandomEffectsResult
    tau: float


def manager_effects(
    outcome: ArrayLike,
    manager: ArrayLike,
    reference_risk: float = 0.0,
    *,
    method: str = "REML",
    alpha: float = 0.05,
) -> ManagerEffectsResult:
    """Per-manager outcome risks, their between-manager variance and shrunken estimates.

    Parameters
    ----------
    outcome : array_like
        0/1 outcome of each FIP participant.
    manager : array_like
        Client manager of each participant.
    reference_risk : float, default 0
        Subtracted from every manager's risk, e.g. the control arm's (site-standardised) risk,
        so that each estimate reads as that manager's effect over usual care. A constant shift:
        it changes no spread.
    method : {"REML", "PM", "DL"}, default "REML"
        Estimator of the between-manager variance ``tau2`` (see :func:`random_effects`).
    alpha : float, default 0.05
        One minus the level of the intervals.

    Returns
    -------
    ManagerEffectsResult

    Raises
    ------
    ValueError
        For invalid outcomes or labels, or fewer than two managers.

    Notes
    -----
    Manager ``m`` with ``y_m`` of ``n_m`` clients: estimate ``y_m / n_m - reference_risk``,
    variance ``p~ (1 - p~) / n_m`` with ``p~ = (y_m + 1/2) / (n_m + 1)`` so that a manager with 0
    or all successes keeps a positive variance. The estimates are pooled with
    :func:`random_effects`; the BLUP is ``mu + l (y_m - mu)`` with ``l = tau2 / (tau2 + v_m)``
    and variance ``l v_m + (1 - l)^2 se(mu)^2`` (metafor's ``blup.rma.uni``).
    """
    check_alpha(alpha)
    y = binary(outcome)
    m_values = np.asarray(manager)
    same_length(outcome=y, manager=m_values)
    names, m = labels(m_values, "manager")
    if names.size < 2:
        raise ValueError("manager_effects needs at least two client managers")
    n = np.bincount(m).astype(float)
    events = np.bincount(m, weights=y).astype(float)
    smoothed = (events + 0.5) / (n + 1)
    estimate = events / n - float(reference_risk)
    variance = smoothed * (1 - smoothed) / n
    pooled = random_effects(estimate, variance, alpha, method=method)
    shrink = pooled.tau2 / (pooled.tau2 + variance)
    blup = pooled.estimate + shrink * (estimate - pooled.estimate)
    blup_se = np.sqrt(shrink * variance + (1 - shrink) ** 2 * pooled.se**2)
    z = z_quantile(alpha)
    order = np.argsort(blup, kind="stable")
    return ManagerEffectsResult(
        managers=tuple(names[order].tolist()),
        n=n[order],
        events=events[order],
        estimate=estimate[order],
        se=np.sqrt(variance)[order],
        blup=blup[order],
        blup_ci_lower=(blup - z * blup_se)[order],
        blup_ci_upper=(blup + z * blup_se)[order],
        pooled=pooled,
        tau=math.sqrt(pooled.tau2),
    )


def partially_nested_design_effect(cluster_size: float, icc: float, ratio: float = 1.0) -> float:
    """Design effect on the total sample size when only the FIP arm is clustered.

    Parameters
    ----------
    cluster_size : float
        Mean number of FIP participants per client manager, ``m``.
    icc : float
        Intraclass correlation of the outcome within a manager's FIP caseload, ``rho``.
    ratio : float, default 1.0
        Control participants per FIP participant, ``r``.

    Returns
    -------
    float
        ``(1 + (m - 1) rho + 1 / r) / (1 + 1 / r)``.

    Notes
    -----
    With equal total variances in both arms the variance of the difference in means of a
    partially nested trial is ``sigma^2 ((1 + (m - 1) rho) / n_fip + 1 / n_control)``
    (Moerbeek and Wong 2008, Stat Med 27:2850-2864; Baldwin et al. 2011, J Consult Clin
    Psychol 79:405-415; Candlish et al. 2018, BMC Med Res Methodol 18:105): the usual design
    effect ``1 + (m - 1) rho`` applies to the FIP arm only. Relative to the individually
    randomised variance ``sigma^2 (1 / n_fip + 1 / n_control)`` at the same ``n_control = r
    n_fip`` this is the ratio returned.
    """
    if not (cluster_size >= 1 and math.isfinite(cluster_size)):
        raise ValueError(f"cluster_size must be at least 1, got {cluster_size!r}")
    if not (0.0 <= icc <= 1.0):
        raise ValueError(f"icc must lie between 0 and 1, got {icc!r}")
    if not (ratio > 0 and math.isfinite(ratio)):
        raise ValueError(f"ratio must be positive, got {ratio!r}")
    fip = 1 + (cluster_size - 1) * icc
    return (fip + 1 / ratio) / (1 + 1 / ratio)
