"""Time-to-event estimates: Kaplan-Meier and the (stratified) log-rank test.

The Aalen-Johansen cumulative incidence lives in :mod:`.competing` and is re-exported here.

All functions sort once and work with counts per distinct time, so they stay fast on hundreds of
thousands of participants.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from ._checks import FloatArray, group_of, grouping, time_event, z_quantile
from ._checks import labels as checked_labels
from ._chisquare import ChiSquareTest, score_statistic
from ._risksets import risk_sets
from .competing import CumulativeIncidenceResult as CumulativeIncidenceResult
from .competing import cumulative_incidence as cumulative_incidence


def _step(times: FloatArray, values: FloatArray, at: ArrayLike, before: float) -> FloatArray:
    """Evaluate a right-continuous step function that jumps at ``times``."""
    points = np.asarray(at, dtype=float)
    if times.size == 0:
        return np.full(points.shape, before)
    index = np.searchsorted(times, points, side="right") - 1
    result = np.where(index >= 0, values[np.clip(index, 0, None)], before)
    return np.asarray(result, dtype=float)


@dataclass(frozen=True, eq=False)
class KaplanMeierResult:
    """Kaplan-Meier estimate of the survival function.

    Attributes
    ----------
    times : ndarray
        Distinct times with at least one event, ascending.
    survival : ndarray
        ``S(t)`` just after each of those times.
    ci_lower, ci_upper : ndarray
        Pointwise interval on the log scale (R's ``survfit`` default ``conf.type = "log"``),
        the upper limit capped at 1; NaN where ``S(t) = 0``.
    std_err : ndarray
        Greenwood standard error of ``S(t)`` (as R's ``summary.survfit`` prints it).
    n_at_risk, n_events : ndarray
        Number at risk just before, and events at, each time.
    n : int
        Number of observations.
    last_time : float
        The largest time observed (event or censoring), where the curve ends.
    """

    times: FloatArray
    survival: FloatArray
    ci_lower: FloatArray
    ci_upper: FloatArray
    std_err: FloatArray
    n_at_risk: FloatArray
    n_events: FloatArray
    n: int
    last_time: float = float("nan")

    def survival_at(self, t: ArrayLike) -> FloatArray:
        """``S(t)`` at the given time(s); 1 before the first event."""
        return _step(self.times, self.survival, t, 1.0)

    def median(self) -> float:
        """Median time as R's ``survfit``: where a horizontal line at 0.5 meets the curve.

        That is the smallest time with ``S(t) < 0.5``, except when ``S(t)`` is exactly 0.5
        (within ``sqrt(machine epsilon)``, as R) over a stretch: then the midpoint of that
        flat stretch, from the time ``S`` reached 0.5 to the next event time, or to the end of
        follow-up (``last_time``) when the curve ends at 0.5 (R ``quantile.survfit``). NaN when
        the curve stays above one half.
        """
        tolerance = float(np.sqrt(np.finfo(float).eps))
        flat = np.flatnonzero(np.abs(self.survival - 0.5) < tolerance)
        if flat.size:
            start = int(flat[0])
            end = self.times[start + 1] if start + 1 < self.times.size else self.last_time
            return float((self.times[start] + end) / 2)
        below = np.flatnonzero(self.survival < 0.5)
        return float(self.times[below[0]]) if below.size else float("nan")


def kaplan_meier(time: ArrayLike, event: ArrayLike, alpha: float = 0.05) -> KaplanMeierResult:
    """Kaplan-Meier estimate with Greenwood variance and a log-scale confidence interval.

    Parameters
    ----------
    time : array_like
        Follow-up time of each participant (non-negative).
    event : array_like
        1 when the follow-up ended with the event, 0 when censored.
    alpha : float, default 0.05
        One minus the pointwise confidence level.

    Returns
    -------
    KaplanMeierResult

    Raises
    ------
    ValueError
        For empty, negative, non-finite or mismatched input, or events other than 0/1.

    Notes
    -----
    ``S(t) = prod(1 - d_j / n_j)`` over event times ``t_j <= t``; censoring at an event time
    counts the censored participant as still at risk. Greenwood:
    ``Var[log S] = sum(d_j / (n_j (n_j - d_j)))``, and the interval is
    ``S exp(+/- z sqrt(Var[log S]))``, which is R's ``survfit(..., conf.type = "log")``.
    """
    t, e = time_event(time, event)
    z = z_quantile(alpha)
    unique, inverse = np.unique(t, return_inverse=True)
    removed = np.bincount(inverse, minlength=unique.size).astype(float)
    events = np.bincount(inverse, weights=e.astype(float), minlength=unique.size).astype(float)
    at_risk = t.size - np.concatenate(([0.0], np.cumsum(removed)[:-1]))
    has_event = events > 0
    d, n_risk = events[has_event], at_risk[has_event]
    survival = np.cumprod(1.0 - d / n_risk)
    with np.errstate(divide="ignore", invalid="ignore"):
        greenwood = np.cumsum(d / (n_risk * (n_risk - d)))
        spread = z * np.sqrt(greenwood)
        lower = np.where(survival > 0, survival * np.exp(-spread), np.nan)
        upper = np.where(survival > 0, np.minimum(1.0, survival * np.exp(spread)), np.nan)
        std_err = np.where(survival > 0, survival * np.sqrt(greenwood), np.nan)
    return KaplanMeierResult(
        times=unique[has_event],
        survival=survival,
        ci_lower=lower,
        ci_upper=upper,
        std_err=std_err,
        n_at_risk=n_risk,
        n_events=d,
        n=int(t.size),
        last_time=float(unique[-1]),
    )


@dataclass(frozen=True, eq=False)
class LogRankResult(ChiSquareTest):
    """Log-rank test comparing survival between groups.

    Attributes
    ----------
    statistic, pvalue : float
        The chi-square statistic and its p-value.
    dof : int
        Rank of the covariance matrix of observed minus expected (groups - 1).
    groups : tuple
        The group labels, sorted.
    observed, expected : ndarray
        Events per group, observed and expected under the null (summed over strata).
    strata : int
        Number of strata (1 when unstratified).
    estimable : bool
        False when no event time has two groups at risk in its stratum (no events at all, or
        every stratum holds one group only): there is then nothing to compare, and
        ``statistic`` and ``pvalue`` are NaN rather than 0 and 1.
    note : str
        Empty, or why the test is not available.
    """

    groups: tuple[object, ...]
    observed: FloatArray
    expected: FloatArray
    strata: int
    estimable: bool = True
    note: str = ""


def log_rank(
    time: ArrayLike,
    event: ArrayLike,
    group: ArrayLike,
    strata: ArrayLike | None = None,
) -> LogRankResult:
    """Log-rank (Mantel-Cox) test, stratified when ``strata`` is given.

    Parameters
    ----------
    time : array_like
        Follow-up time of each participant.
    event : array_like
        1 for an event, 0 for censoring.
    group : array_like
        Group label of each participant (two or more groups, e.g. ``"fip"`` / ``"control"``).
    strata : array_like, optional
        Stratum label (e.g. the site). Observed-minus-expected counts and their variances are
        computed within each stratum and summed, as R's ``survdiff(Surv(time, event) ~ group +
        strata(site))``.

    Returns
    -------
    LogRankResult

    Raises
    ------
    ValueError
        For invalid time or event, mismatched lengths, missing (None or NaN) group or stratum
        labels, or fewer than two groups.

    Notes
    -----
    At each distinct time ``j`` of a stratum, with ``n_j`` at risk of whom ``n_gj`` in group
    ``g`` and ``d_j`` events: ``E_g += d_j n_gj / n_j`` and
    ``V += d_j (n_j - d_j) / (n_j - 1) (diag(p_j) - p_j p_j')`` with ``p_j = n_gj / n_j``.
    The statistic is ``U' V^- U`` over the first ``k - 1`` groups with ``U = O - E``.
    The computation sorts once by (stratum, time) and uses cumulative sums (``_risksets``);
    there is no loop over times or strata.
    """
    t, e = time_event(time, event)
    group_labels, g = checked_labels(group_of(group, time=t), "group")
    k = group_labels.size
    if k < 2:
        raise ValueError("log_rank needs at least two groups")
    strata_labels, s = grouping(strata, t.size)
    n_strata = strata_labels.size

    sets = risk_sets(t, s, g, k, died=e)
    at_risk, died = sets.at_risk, sets.counts["died"]

    d = died.sum(axis=1)
    n = at_risk.sum(axis=1)
    informative = d > 0
    d, n, at_risk, died = d[informative], n[informative], at_risk[informative], died[informative]
    share = at_risk / n[:, None]
    expected = (share * d[:, None]).sum(axis=0)
    observed = died.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        weight = np.where(n > 1, d * (n - d) / (n - 1), 0.0)
    scaled = share * np.sqrt(weight)[:, None]
    covariance = np.diag((share * weight[:, None]).sum(axis=0)) - scaled.T @ scaled
    u = (observed - expected)[:-1]
    v = covariance[:-1, :-1]
    statistic, dof = score_statistic(u, v)
    note = ""
    if dof == 0:
        note = (
            "no events: the log-rank test is not estimable"
            if not e.any()
            else "no event time has two groups at risk in its stratum (each stratum holds one "
            "group): the log-rank test is not estimable"
        )
    return LogRankResult.from_statistic(
        statistic,
        dof,
        groups=tuple(group_labels.tolist()),
        observed=observed,
        expected=expected,
        strata=n_strata,
        estimable=dof > 0,
        note=note,
    )
