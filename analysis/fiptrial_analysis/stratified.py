"""Tests and estimates for stratified 2x2xK tables: Cochran-Mantel-Haenszel and Breslow-Day.

A stack of strata (one 2x2 table per site) has shape ``(K, 2, 2)``; each table is
``[[a, b], [c, d]]`` as in :mod:`.contingency`: rows FIP then control, columns (event, no
event). Its own module because pooling across sites (a common effect, and whether the sites'
effects differ) is a question apart from the single-table tests.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from ._checks import SmallCellsWarning, tables_2x2, z_quantile
from ._chisquare import ChiSquareTest
from ._inference import interval
from .contingency import SMALL_EXPECTED


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
        risk_difference_ci=interval(rd, rd_se, z),
        risk_difference_se=rd_se,
        strata=int(x.shape[0]),
        odds_ratio_estimable=or_estimable,
        risk_difference_estimable=rd_estimable,
        mantel_fleiss=float(criterion),
        exact_pvalue=exact,
        notes=tuple(notes),
    )


@dataclass(frozen=True)
class BreslowDayResult(ChiSquareTest):
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
    return BreslowDayResult.from_statistic(
        statistic,
        dof,
        correction=bool(correction),
        odds_ratio=psi,
        strata_used=used,
    )
