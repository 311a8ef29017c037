"""Tests and estimates for 2x2 tables and stratified 2x2xK tables.

Every 2x2 table is ``[[a, b], [c, d]]``: rows are the groups (FIP first, control second), columns
are (event, no event). A stack of strata has shape ``(K, 2, 2)``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from ._checks import SmallCellsWarning, counts, table_2x2, tables_2x2, z_quantile

SMALL_EXPECTED = 5.0


@dataclass(frozen=True)
class ChiSquareResult:
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

    statistic: float
    pvalue: float
    dof: int
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
    return ChiSquareResult(
        statistic=statistic,
        pvalue=float(stats.chi2.sf(statistic, dof)),
        dof=dof,
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
        half = z * np.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
        lower, upper = estimate - half, estimate + half
    else:
        raise ValueError(f"method must be 'newcombe' or 'wald', got {method!r}")
    return RiskDifferenceResult(
        estimate=estimate,
        ci=(float(lower), float(upper)),
        method=method,
        risks=(float(p1), float(p2)),
    )


@dataclass(frozen=True)
class MantelHaenszelResult:
    """Cochran-Mantel-Haenszel test and Mantel-Haenszel common effects across strata.

    Attributes
    ----------
    statistic, pvalue : float
        The CMH chi-square (1 degree of freedom) and its p-value.
    correction : bool
        Whether the continuity correction was requested.
    odds_ratio : float
        Mantel-Haenszel common odds ratio.
    odds_ratio_ci : tuple of float
        Confidence interval from the Robins-Breslow-Greenland variance of its logarithm.
    risk_difference : float
        Mantel-Haenszel common risk difference (FIP minus control).
    risk_difference_ci : tuple of float
        Wald interval from the Sato, Greenland and Robins (1989) variance, which is valid both
        for many small strata and for few large ones.
    risk_difference_se : float
        That standard error.
    strata : int
        Number of strata.
    odds_ratio_estimable, risk_difference_estimable : bool
        False (and the estimate's interval NaN) when the data cannot support an interval: no
        events (or no non-events) at all, or complete separation, where the odds ratio is 0
        or infinite and the Sato interval collapses to zero width.
    mantel_fleiss : float
        The Mantel-Fleiss (1980) criterion ``min(sum E[a] - sum max(0, m1 - n0),
        sum min(n1, m1) - sum E[a])``; below 5 the chi-square approximation of the test is
        doubtful.
    exact_pvalue : float or None
        With a single stratum and the criterion below 5: Fisher's exact two-sided p-value.
    notes : tuple of str
        Why something is not estimable, or why the test is doubtful.
    """

    statistic: float
    pvalue: float
    correction: bool
    odds_ratio: float
    odds_ratio_ci: tuple[float, float]
    risk_difference: float
    risk_difference_ci: tuple[float, float]
    risk_difference_se: float
    strata: int
    odds_ratio_estimable: bool = True
    risk_difference_estimable: bool = True
    mantel_fleiss: float = float("nan")
    exact_pvalue: float | None = None
    notes: tuple[str, ...] = ()


def mantel_haenszel(
    tables: ArrayLike, correction: bool = True, alpha: float = 0.05
) -> MantelHaenszelResult:
    """Cochran-Mantel-Haenszel test with the Mantel-Haenszel odds ratio and risk difference.

    Parameters
    ----------
    tables : array_like, shape (K, 2, 2)
        One ``[[a, b], [c, d]]`` table per stratum (site): rows FIP then control, columns
        (event, no event).
    correction : bool, default True
        Continuity correction of the test statistic, as R's ``mantelhaen.test`` (applied only
        when ``|sum(a - E[a])| >= 0.5``).
    alpha : float, default 0.05
        One minus the confidence level of both intervals.

    Returns
    -------
    MantelHaenszelResult

    Raises
    ------
    ValueError
        For invalid tables or a stratum with fewer than two participants (as R does).

    Notes
    -----
    With ``n1, n0`` the row totals, ``m1, m0`` the column totals and ``N`` the stratum size:
    ``E[a] = n1 m1 / N``, ``Var[a] = n1 n0 m1 m0 / (N^2 (N - 1))`` and
    ``X2 = (|sum(a - E[a])| - 0.5)^2 / sum(Var[a])``. ``OR_MH = sum(ad/N) / sum(bc/N)``; the
    variance of ``log OR_MH`` is that of Robins, Breslow and Greenland (1986), as in R.
    ``RD_MH = sum((a n0 - c n1) / N) / sum(n1 n0 / N)``; its variance is that of Sato, Greenland
    and Robins (1989), as in metafor's ``rma.mh(measure="RD")``. Strata in which one arm is
    empty carry no weight.
    """
    x = tables_2x2(tables)
    a, b, c, d = x[:, 0, 0], x[:, 0, 1], x[:, 1, 0], x[:, 1, 1]
    n1, n0 = a + b, c + d
    m1, m0 = a + c, b + d
    n = n1 + n0
    too_small = np.flatnonzero(n < 2)
    if too_small.size:
        raise ValueError(
            f"every stratum needs at least two participants; strata {too_small.tolist()} do not"
        )
    z = z_quantile(alpha)

    delta = float(np.sum(a - n1 * m1 / n))
    variance = float(np.sum(n1 * n0 * m1 * m0 / (n**2 * (n - 1))))
    yates = 0.5 if correction and abs(delta) >= 0.5 else 0.0
    if variance > 0:
        statistic = (abs(delta) - yates) ** 2 / variance
        pvalue = float(stats.chi2.sf(statistic, 1))
    else:
        statistic, pvalue = float("nan"), float("nan")

    r = a * d / n
    s = b * c / n
    sum_r, sum_s = float(r.sum()), float(s.sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        odds_ratio = sum_r / sum_s if sum_s > 0 else float("inf") if sum_r > 0 else float("nan")
        p, q = (a + d) / n, (b + c) / n
        log_variance = (
            np.sum(p * r) / (2 * sum_r**2)
            + np.sum(p * s + q * r) / (2 * sum_r * sum_s)
            + np.sum(q * s) / (2 * sum_s**2)
        )
        spread = np.exp(z * np.sqrt(log_variance))
        odds_ratio_ci = (float(odds_ratio / spread), float(odds_ratio * spread))

    weight = n1 * n0 / n
    sum_weight = float(weight.sum())
    notes: list[str] = []
    if sum_weight > 0:
        rd = float(np.sum((a * n0 - c * n1) / n) / sum_weight)
        sato_p = np.sum(c * (n1 / n) ** 2 - a * (n0 / n) ** 2 + (n1 / n) * (n0 / n) * (n0 - n1) / 2)
        sato_q = np.sum(a * (n0 - c) / n + c * (n1 - a) / n) / 2
        rd_se = float(np.sqrt(max(0.0, rd * sato_p + sato_q)) / sum_weight)
    else:
        rd, rd_se = float("nan"), float("nan")
        notes.append("no stratum holds both arms: the common effects are not estimable")

    events, non_events = float(m1.sum()), float(m0.sum())
    if events == 0 or non_events == 0:
        notes.append(
            "no events in any stratum: the test and the common effects are not estimable"
            if events == 0
            else "every participant had the event: the test and the common effects are not "
            "estimable"
        )
    or_estimable = bool(np.isfinite(odds_ratio) and odds_ratio > 0 and sum_r > 0 and sum_s > 0)
    if not or_estimable:
        odds_ratio_ci = (float("nan"), float("nan"))
        if events > 0 and non_events > 0:
            notes.append(
                "complete separation: the Mantel-Haenszel odds ratio is 0 or infinite and its "
                "interval is not estimable"
            )
    rd_estimable = bool(np.isfinite(rd_se) and rd_se > 1e-12)
    if not rd_estimable and np.isfinite(rd):
        notes.append(
            "the Sato interval of the risk difference has zero width (no events or complete "
            "separation): not estimable"
        )
        rd_se = float("nan")

    low = np.maximum(0.0, m1 - n0)
    high = np.minimum(n1, m1)
    expected_a = float(np.sum(n1 * m1 / n))
    criterion = min(expected_a - float(low.sum()), float(high.sum()) - expected_a)
    exact: float | None = None
    if criterion < SMALL_EXPECTED:
        note = (
            f"the Mantel-Fleiss criterion is {criterion:.2f}, below {SMALL_EXPECTED:g}: the "
            "chi-square approximation of the test is doubtful"
        )
        if x.shape[0] == 1:
            exact = float(stats.fisher_exact(x[0]).pvalue)
            note += f"; Fisher's exact test gives p = {exact:.4g}"
        else:
            note += " (an exact conditional test is advised)"
        notes.append(note)
        warnings.warn(note, SmallCellsWarning, stacklevel=2)
    return MantelHaenszelResult(
        statistic=float(statistic),
        pvalue=pvalue,
        correction=bool(correction),
        odds_ratio=float(odds_ratio),
        odds_ratio_ci=odds_ratio_ci,
        risk_difference=rd,
        risk_difference_ci=(rd - z * rd_se, rd + z * rd_se),
        risk_difference_se=rd_se,
        strata=int(x.shape[0]),
        odds_ratio_estimable=or_estimable,
        risk_difference_estimable=rd_estimable,
        mantel_fleiss=float(criterion),
        exact_pvalue=exact,
        notes=tuple(notes),
    )


@dataclass(frozen=True)
class BreslowDayResult:
    """Breslow-Day test that the odds ratio is the same in every stratum.

    Attributes
    ----------
    statistic, pvalue : float
        The chi-square statistic and its p-value.
    dof : int
        Number of informative strata minus one.
    correction : bool
        Whether Tarone's adjustment was subtracted.
    odds_ratio : float
        The common odds ratio tested against (Mantel-Haenszel unless given).
    strata_used : int
        Strata with non-zero margins and a positive expected cell (the others say nothing
        about heterogeneity and are left out, as in metafor and SAS).
    """

    statistic: float
    pvalue: float
    dof: int
    correction: bool
    odds_ratio: float
    strata_used: int


def breslow_day(
    tables: ArrayLike, correction: bool = False, odds_ratio: float | None = None
) -> BreslowDayResult:
    """Breslow-Day test of homogeneity of the odds ratios across strata (sites).

    Parameters
    ----------
    tables : array_like, shape (K, 2, 2)
        One ``[[a, b], [c, d]]`` table per stratum.
    correction : bool, default False
        Subtract Tarone's (1985) adjustment ``(sum(a) - sum(E[a]))^2 / sum(Var[a])``. The default
        follows R's ``DescTools::BreslowDayTest`` (``correct = FALSE``); Tarone's version is the
        one that is asymptotically chi-square when the Mantel-Haenszel estimate is plugged in,
        and the two differ little unless the strata are very unbalanced.
    odds_ratio : float, optional
        Common odds ratio to test against; the Mantel-Haenszel estimate when omitted.

    Returns
    -------
    BreslowDayResult

    Raises
    ------
    ValueError
        For invalid tables, fewer than two informative strata or a non-positive odds ratio.

    Notes
    -----
    For each stratum the expected ``a`` under the common odds ratio ``psi`` solves
    ``(E)(n0 - m1 + E) = psi (n1 - E)(m1 - E)``; its variance is
    ``1 / (1/E[a] + 1/E[b] + 1/E[c] + 1/E[d])`` and ``X2 = sum((a - E[a])^2 / Var[a])``
    on ``K - 1`` degrees of freedom.
    """
    x = tables_2x2(tables)
    a, b, c, d = x[:, 0, 0], x[:, 0, 1], x[:, 1, 0], x[:, 1, 1]
    n1, n0, m1 = a + b, c + d, a + c
    n = n1 + n0
    if odds_ratio is None:
        informative = n > 0
        sum_r = float(np.sum(a[informative] * d[informative] / n[informative]))
        sum_s = float(np.sum(b[informative] * c[informative] / n[informative]))
        if sum_r == 0 or sum_s == 0:
            raise ValueError("the Mantel-Haenszel odds ratio is 0 or infinite: nothing to test")
        psi = sum_r / sum_s
    else:
        psi = float(odds_ratio)
        if not np.isfinite(psi) or psi <= 0:
            raise ValueError(f"odds_ratio must be positive and finite, got {odds_ratio!r}")
    if np.isclose(psi, 1.0, rtol=0, atol=1e-12):
        expected_a = n1 * m1 / np.where(n > 0, n, 1)
    else:
        quad_b = psi * (n1 + m1) + (n0 - m1)
        root = np.sqrt(np.maximum(quad_b**2 - 4 * n1 * m1 * psi * (psi - 1), 0.0))
        expected_a = (quad_b - root) / (2 * (psi - 1))
    expected_b = n1 - expected_a
    expected_c = m1 - expected_a
    expected_d = n0 - m1 + expected_a
    cells = np.stack([expected_a, expected_b, expected_c, expected_d])
    keep = (n1 > 0) & (n0 > 0) & (m1 > 0) & (m1 < n) & np.all(cells > 1e-12, axis=0)
    used = int(keep.sum())
    if used < 2:
        raise ValueError(
            f"the Breslow-Day test needs at least two strata with both arms and both outcomes "
            f"present; found {used}"
        )
    variance = 1.0 / np.sum(1.0 / cells[:, keep], axis=0)
    residual = a[keep] - expected_a[keep]
    statistic = float(np.sum(residual**2 / variance))
    if correction:
        statistic = max(0.0, statistic - float(residual.sum() ** 2 / variance.sum()))
    dof = used - 1
    return BreslowDayResult(
        statistic=statistic,
        pvalue=float(stats.chi2.sf(statistic, dof)),
        dof=dof,
        correction=bool(correction),
        odds_ratio=psi,
        strata_used=used,
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
    half = z_quantile(alpha) * np.sqrt(log_var)
    return OddsRatioResult(
        estimate=float(np.exp(log_or)),
        ci=(float(np.exp(log_or - half)), float(np.exp(log_or + half))),
        log_estimate=log_or,
        log_variance=log_var,
        corrected=corrected,
    )
