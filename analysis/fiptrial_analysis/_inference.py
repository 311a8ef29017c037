"""Large-sample inference shared by the estimators: Wald intervals and p-values, and the
cluster-robust variance of an estimate from its influence function.

Every estimate of the package that is reported with a normal-approximation interval (means,
restricted means, standardised risks, Cox, Mantel-Haenszel, meta-analysis) goes through these,
so an interval is always ``estimate +/- z * se`` (or its exponential for a ratio) and a variance
always sums the influence of a cluster's participants before squaring.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from ._checks import FloatArray, grouping


def wald(estimate: float, se: float, z: float) -> tuple[tuple[float, float], float]:
    """The normal-approximation interval ``estimate +/- z * se`` and the two-sided p-value of
    ``estimate / se`` (NaN when the standard error is zero or not a number): the large-sample
    inference of every influence-function estimate in the package."""
    return interval(estimate, se, z), wald_pvalue(estimate, se)


def wald_pvalue(estimate: float, se: float) -> float:
    """Two-sided normal p-value of ``estimate / se``; NaN when ``se`` is zero or not a number."""
    return float(2 * stats.norm.sf(abs(estimate) / se)) if se > 0 else float("nan")


def interval(estimate: float, se: float, z: float) -> tuple[float, float]:
    """The normal-approximation interval ``estimate +/- z * se``."""
    return float(estimate - z * se), float(estimate + z * se)


def log_scale_interval(log_estimate: float, se: float, z: float) -> tuple[float, float]:
    """``exp(log_estimate +/- z * se)``: the interval of a ratio whose logarithm is estimated
    with standard error ``se`` (hazard, odds and risk ratios)."""
    lower, upper = interval(log_estimate, se, z)
    return float(np.exp(lower)), float(np.exp(upper))


def clusters(values: ArrayLike | None, n: int) -> tuple[NDArray[np.intp] | None, int]:
    """The cluster code of each of ``n`` participants and the number of clusters.

    Without clusters (``values`` None) the codes are None and every participant is a cluster of
    its own (``n`` clusters); see :func:`clustered_sum_of_squares`.
    """
    if values is None:
        return None, n
    cluster_labels, codes = grouping(values, n, "cluster")
    return codes, int(cluster_labels.size)


def clustered_sum_of_squares(influence: FloatArray, cluster: NDArray[np.intp] | None) -> float:
    """``sum_c (sum_{i in c} IF_i)^2``: the variance of an estimate from its influence function.

    The contributions are summed per cluster (the benefit unit, a client manager) before they
    are squared, so that participants of one cluster are not counted as independent; without
    clusters (None) each participant is its own.
    """
    summed = influence if cluster is None else np.bincount(cluster, weights=influence)
    return float(np.sum(summed**2))
