"""Tests and estimates for a single 2x2 table: chi-square, risk difference, odds ratio.

Every 2x2 table is ``[[a, b], [c, d]]``: rows are the groups (FIP first, control second), columns
are (event, no event). Stratified tables (one per site) are in :mod:`.stratified`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from ._checks import SmallCellsWarning, counts, table_2x2, z_quantile
from ._chisquare import ChiSquareTest
from ._inference import interval, log_scale_interval

SMALL_EXPECTED = 5.0


@dataclass(frozen=True)
class ChiSquareResult(ChiSquareTest):
    """Pearson's chi-square test of independence.

    Attributes
    ----------
    statistic : float
        Pearson's X-squared.
    pvalue : float
        Upper tail probability of the chi-square distribution with ``dof`` degrees of freedom.
    dof : int
        ``(rows - 1) * (columns - 1)``.
    correction : bool
        Whether Yates' continuity correction was applied (only ever for 2x2 tables).
    min_expected : float
        The smallest expected count.
    fisher_pvalue : float or None
        Fisher's exact two-sided p-value (as R's ``fisher.test``), given for a 2x2 table with
        an expected count below 5, where the chi-square approximation is unreliable.
    warning : str
        Empty, or the reason to prefer the exact test.
    """

    correction: bool
    min_expected: float = float("nan")
    fisher_pvalue: float | None = None
    warning: str = ""


def chi_square(table: ArrayLike, correction: bool = False) -> ChiSquareResult:
    """Pearson's chi-square test of independence for an r x c table of counts.

    Parameters
    ----------
    table : array_like
        Counts, at least 2 x 2; for the trial ``[[a, b], [c, d]]`` with rows FIP and control and
        columns (event, no event).
    correction : bool, default False
        Apply Yates' continuity correction. As in R's ``chisq.test`` it is used for 2x2 tables
        only and never exceeds the smallest ``|observed - expected|``.

    Returns
    -------
    ChiSquareResult

    Raises
    ------
    ValueError
        If the table is not two-dimensional, holds negative or non-finite counts, or has a row or
        column without any count (its expected counts would be zero).

    Notes
    -----
    ``X2 = sum((|O - E| - y)^2 / E)`` with ``E = row total * column total / n`` and ``y = 0``,
    or ``y = min(0.5, min |O - E|)`` under Yates' correction.
    """
    observed = counts(table, "table")
    if observed.ndim != 2 or min(observed.shape) < 2:
        raise ValueError(f"table must be two-dimensional, at least 2 x 2; got {observed.shape}")
    rows = observed.sum(axis=1)
    columns = observed.sum(axis=0)
    if np.any(rows == 0) or np.any(columns == 0):
        raise ValueError("every row and every column of the table needs at least one count")
    expected = np.outer(rows, columns) / observed.sum()
    dof = (observed.shape[0] - 1) * (observed.shape[1] - 1)
    apply_yates = bool(correction) and dof == 1
    deviation = np.abs(observed - expected)
    if apply_yates:
        deviation = deviation - min(0.5, float(deviation.min()))
    statistic = float(np.sum(deviation**2 / expected))
    min_expected = float(expected.min())
    fisher: float | None = None
    warning = ""
    if min_expected < SMALL_EXPECTED:
        warning = (
            f"an expected count is {min_expected:.2f}, below {SMALL_EXPECTED:g}: the chi-square "
            "approximation is unreliable"
        )
        if observed.shape == (2, 2):
            fisher = float(stats.fisher_exact(observed).pvalue)
            warning += f"; Fisher's exact test gives p = {fisher:.4g}"
        warnings.warn(warning, SmallCellsWarning, stacklevel=2)
    return ChiSquareResult.from_statistic(
        statistic,
        dof,
        correction=apply_yates,
        min_expected=min_expected,
        fisher_pvalue=fisher,
        warning=warning,
    )


@dataclass(frozen=True)
class RiskDifferenceResult:
    """Difference of two proportions, first row minus second row.

    Attributes
    ----------
    estimate : float
        ``a / (a + b) - c / (c + d)``.
    ci : tuple of float
        Confidence interval at level ``1 - alpha``.
    method : str
        ``"newcombe"`` or ``"wald"``.
    risks : tuple of float
        The two proportions (first row, second row).
    """

    estimate: float
    ci: tuple[float, float]
    method: str
    risks: tuple[float, float]


def _wilson(events: float, n: float, z: float) -> tuple[float, float]:
    centre = (events + z**2 / 2) / (n + z**2)
    half = z * np.sqrt(events * (n - events) / n + z**2 / 4) / (n + z**2)
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def risk_difference(
    table: ArrayLike, method: str = "newcombe", alpha: float = 0.05
) -> RiskDifferenceResult:
    """Risk difference between the rows of a 2x2 table with a confidence interval.

    Parameters
    ----------
    table : array_like
        ``[[a, b], [c, d]]``: rows FIP then control, columns (event, no event).
    method : {"newcombe", "wald"}, default "newcombe"
        ``"newcombe"`` is Newcombe's (1998) hybrid score interval (method 10: Wilson intervals
        for each proportion without continuity correction, combined by square-and-add);
        ``"wald"`` is the simple normal interval, which collapses to zero width at 0 or 1.
    alpha : float, default 0.05
        One minus the confidence level.

    Returns
    -------
    RiskDifferenceResult

    Raises
    ------
    ValueError
        For an invalid table, an empty row or an unknown method.
    """
    observed = table_2x2(table)
    n1, n2 = observed.sum(axis=1)
    if n1 == 0 or n2 == 0:
        raise ValueError("both rows of the table need at least one participant")
    a, c = observed[0, 0], observed[1, 0]
    p1, p2 = a / n1, c / n2
    estimate = float(p1 - p2)
    z = z_quantile(alpha)
    if method == "newcombe":
        l1, u1 = _wilson(a, n1, z)
        l2, u2 = _wilson(c, n2, z)
        lower = estimate - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
        upper = estimate + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    elif method == "wald":
        se = np.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
        lower, upper = interval(estimate, se, z)
    else:
        raise ValueError(f"method must be 'newcombe' or 'wald', got {method!r}")
    return RiskDifferenceResult(
        estimate=estimate,
        ci=(float(lower), float(upper)),
        method=method,
        risks=(float(p1), float(p2)),
    )


@dataclass(frozen=True)
class OddsRatioResult:
    """Odds ratio of one 2x2 table with Woolf's (logit) interval.

    Attributes
    ----------
    estimate : float
        ``ad / bc`` (after adding 0.5 to every cell when one is zero).
    ci : tuple of float
        ``exp(log OR +/- z * sqrt(1/a + 1/b + 1/c + 1/d))``.
    log_estimate, log_variance : float
        The logarithm and its variance, as a meta-analysis uses them.
    corrected : bool
        Whether 0.5 was added to every cell because one of them was zero.
    """

    estimate: float
    ci: tuple[float, float]
    log_estimate: float
    log_variance: float
    corrected: bool


def odds_ratio(table: ArrayLike, alpha: float = 0.05) -> OddsRatioResult:
    """Odds ratio of a 2x2 table with Woolf's logit interval.

    Parameters
    ----------
    table : array_like
        ``[[a, b], [c, d]]``: rows FIP then control, columns (event, no event).
    alpha : float, default 0.05
        One minus the confidence level.

    Returns
    -------
    OddsRatioResult

    Raises
    ------
    ValueError
        For an invalid table or an empty row.

    Notes
    -----
    When a cell is zero, 0.5 is added to all four cells (as metafor's ``escalc`` with
    ``add = 1/2, to = "only0"``) so that the estimate and its variance stay finite.
    """
    x = table_2x2(table)
    if np.any(x.sum(axis=1) == 0):
        raise ValueError("both rows of the table need at least one participant")
    corrected = bool(np.any(x == 0))
    if corrected:
        x = x + 0.5
    (a, b), (c, d) = x
    log_or = float(np.log(a * d / (b * c)))
    log_var = float(1 / a + 1 / b + 1 / c + 1 / d)
    return OddsRatioResult(
        estimate=float(np.exp(log_or)),
        ci=log_scale_interval(log_or, float(np.sqrt(log_var)), z_quantile(alpha)),
        log_estimate=log_or,
        log_variance=log_var,
        corrected=corrected,
    )
