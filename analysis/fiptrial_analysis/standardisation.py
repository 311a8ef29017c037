"""Covariate-adjusted risk difference by standardisation (g-computation) from a logistic model.

The logistic model has the arm, a fixed effect per site and the stratification factors; its
predictions with every participant set to each arm in turn, averaged over all participants, give
the two standardised risks. The design matrix is sparse (one site dummy per row), so 400,000
participants in 340 sites fit in a few Newton steps.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import sparse
from scipy.special import expit
from threadpoolctl import ThreadpoolController

from ._checks import (
    FloatArray,
    binary,
    check_alpha,
    group_of,
    grouping,
    labels,
    same_length,
    two_groups,
    z_quantile,
)
from ._inference import clustered_sum_of_squares, clusters, log_scale_interval, wald

MAX_ITERATIONS = 50


@dataclass(frozen=True)
class StandardisedResult:
    """Marginal (population-averaged) risk difference and ratio, adjusted by standardisation.

    Attributes
    ----------
    difference : float
        ``mean_i P(Y=1 | compared, site_i, factors_i) - mean_i P(Y=1 | reference, ...)`` over
        all participants: the risk difference had everyone received the compared arm versus
        everyone the reference arm, in this trial's population. NaN when not estimable.
    ci : tuple of float
        Wald interval at level ``1 - alpha`` from the sandwich (influence-function) variance.
    se, pvalue : float
        Its standard error and two-sided p-value.
    risks : dict
        Standardised risk per arm label.
    risk_ratio : float
        Ratio of the standardised risks.
    risk_ratio_ci : tuple of float
        Interval for it on the log scale.
    log_odds_ratio, log_odds_ratio_se : float
        The model's conditional log odds ratio of the arm and its model-based standard error.
    groups : tuple
        ``(reference, compared)``.
    n : int
        Participants.
    parameters : int
        Model coefficients fitted (intercept, arm, site and factor dummies).
    sites_without_variation : int
        Sites whose participants all had the same outcome: their fixed effect is infinite, so
        they are fitted exactly (prediction = outcome in both arms) and add no difference.
    clusters : int
        Clusters of the variance (``n`` when none was given).
    iterations : int
        Newton steps.
    estimable : bool
        False when the model cannot be fitted; ``note`` says why.
    note : str
        Empty, or the reason.
    """

    difference: float
    ci: tuple[float, float]
    se: float
    pvalue: float
    risks: Mapping[object, float]
    risk_ratio: float
    risk_ratio_ci: tuple[float, float]
    log_odds_ratio: float
    log_odds_ratio_se: float
    groups: tuple[object, object]
    n: int
    parameters: int
    sites_without_variation: int
    clusters: int
    iterations: int
    estimable: bool = True
    note: str = field(default="")


def _dummies(codes: NDArray[np.intp], levels: int, rows: NDArray[np.intp]) -> sparse.csr_matrix:
    """Treatment-coded indicator columns (first level dropped) for the given rows."""
    keep = codes > 0
    return sparse.csr_matrix(
        (np.ones(int(keep.sum())), (rows[keep], codes[keep] - 1)),
        shape=(rows.size, max(levels - 1, 0)),
    )


def _solve(matrix: FloatArray, right: FloatArray) -> FloatArray:
    """``matrix^-1 right`` on one BLAS thread: the systems have a few hundred unknowns, where
    threads only cost (20 times slower on a loaded machine with OpenBLAS' default threads)."""
    with _blas().limit(limits=1, user_api="blas"):
        return np.asarray(np.linalg.solve(matrix, right))


@cache
def _blas() -> Any:
    """One scan of the loaded BLAS libraries (a scan per solve cost 15 ms)."""
    return ThreadpoolController()


def design(
    x: FloatArray, strata: NDArray[np.intp] | None, factors: list[NDArray[np.intp]]
) -> sparse.csr_matrix:
    """``[1, arm, site dummies, factor dummies]`` as a sparse matrix."""
    n = x.size
    rows = np.arange(n)
    blocks = [sparse.csr_matrix(np.column_stack([np.ones(n), x]))]
    for codes in ([strata] if strata is not None else []) + factors:
        blocks.append(_dummies(codes, int(codes.max()) + 1, rows))
    return sparse.hstack(blocks, format="csr")


def fit_logistic(
    matrix: sparse.csr_matrix, events: FloatArray, trials: FloatArray
) -> tuple[FloatArray, FloatArray, int]:
    """Binomial logistic coefficients by Newton-Raphson on covariate patterns.

    Row ``j`` of ``matrix`` is a pattern shared by ``trials[j]`` participants of whom
    ``events[j]`` had the outcome; the likelihood is that of the individual rows. Returns the
    coefficients, ``X'WX`` at them, and the number of steps.
    """
    beta = np.zeros(matrix.shape[1])

    def information(p: FloatArray) -> FloatArray:
        weight = trials * p * (1 - p)
        return np.asarray((matrix.T @ matrix.multiply(weight[:, None])).toarray())

    for iteration in range(1, MAX_ITERATIONS + 1):
        p = expit(matrix @ beta)
        step = _solve(information(p), matrix.T @ (events - trials * p))
        beta = beta + step
        if np.max(np.abs(step)) < 1e-10:
            return beta, information(expit(matrix @ beta)), iteration
    raise np.linalg.LinAlgError("the logistic model did not converge (separation?)")


def standardised_risk_difference(
    outcome: ArrayLike,
    group: ArrayLike,
    strata: ArrayLike | None = None,
    covariates: Mapping[str, ArrayLike] | None = None,
    cluster: ArrayLike | None = None,
    *,
    reference: object = None,
    alpha: float = 0.05,
) -> StandardisedResult:
    """Risk difference adjusted for site and stratification factors by standardisation.

    Parameters
    ----------
    outcome : array_like
        1 when the outcome (e.g. sustained exit by the horizon) occurred, else 0.
    group : array_like
        Arm of each participant (two labels).
    strata : array_like, optional
        Site of each participant: a fixed effect per site.
    covariates : mapping of str to array_like, optional
        Stratification factors (e.g. age band, benefit-duration band), each categorical: one
        treatment-coded dummy per level after the first.
    cluster : array_like, optional
        Cluster of each participant (benefit unit or client manager): influence functions are
        summed per cluster before squaring.
    reference : optional
        Label of the reference arm; the first sorted label by default (``"control"``).
    alpha : float, default 0.05
        One minus the confidence level.

    Returns
    -------
    StandardisedResult

    Raises
    ------
    ValueError
        For outcomes other than 0/1, missing labels, mismatched lengths.

    Notes
    -----
    Estimand: the marginal risk difference ``E[Y(1)] - E[Y(0)]`` standardised to the trial's
    own participants (their sites and factors). Fit ``logit P(Y=1) = a + b arm + site + factors``
    by maximum likelihood (statsmodels ``GLM(..., Binomial())`` gives the same coefficients);
    predict ``p1_i`` and ``p0_i`` for each participant with the arm set to 1 and 0; the risks are
    their means (g-computation; statsmodels ``Logit.get_margeff(at="overall", dummy=True)``
    gives the same difference). The variance is the sandwich of the stacked estimating
    equations (Stefanski and Boos 2002): participant ``i`` contributes
    ``phi_i = (p1_i - p0_i - RD) / n + g' H^-1 x_i (y_i - p_i)`` with ``H = X'WX`` and ``g`` the
    gradient of ``RD`` in the coefficients, so that both the model's uncertainty and the
    sampling of the covariates are counted; ``Var = sum_c (sum_{i in c} phi_i)^2``. A bootstrap
    that resamples within sites gives the same to Monte Carlo error.
    """
    check_alpha(alpha)
    y = binary(outcome)
    n = y.size
    groups, x = two_groups(group_of(group, outcome=y), reference)
    s: NDArray[np.intp] | None = None
    if strata is not None:
        s = grouping(strata, n)[1]
    factors: list[NDArray[np.intp]] = []
    for name, values in (covariates or {}).items():
        v = np.asarray(values)
        same_length(outcome=y, **{name: v})
        factors.append(labels(v, name)[1])
    c, n_clusters = clusters(cluster, n)

    # Sites in which everyone had the same outcome have an infinite fixed effect: fit the rest.
    fitted = np.ones(n, dtype=bool)
    flat_sites = 0
    if s is not None:
        site_events = np.bincount(s, weights=y)
        sizes = np.bincount(s)
        flat = (site_events == 0) | (site_events == sizes)
        flat_sites = int(flat.sum())
        fitted = ~flat[s]
        if fitted.any():
            s_fit = np.unique(s[fitted], return_inverse=True)[1]
    nan = float("nan")

    def not_estimable(note: str, parameters: int = 0) -> StandardisedResult:
        return StandardisedResult(
            difference=nan, ci=(nan, nan), se=nan, pvalue=nan,
            risks={label: nan for label in groups}, risk_ratio=nan, risk_ratio_ci=(nan, nan),
            log_odds_ratio=nan, log_odds_ratio_se=nan, groups=groups, n=n,
            parameters=parameters, sites_without_variation=flat_sites, clusters=n_clusters,
            iterations=0, estimable=False, note=note,
        )  # fmt: skip

    y_fit, x_fit = y[fitted], x[fitted]
    if not fitted.any() or np.ptp(y_fit) == 0:
        return not_estimable("every participant had the same outcome: no contrast to estimate")
    if np.ptp(x_fit) == 0:
        return not_estimable("the sites with both outcomes hold one arm only")
    # One row per covariate pattern (arm x site x factor levels): the same likelihood, and a
    # design of a few thousand rows instead of one per participant.
    codes = [x[fitted].astype(np.intp)]
    if s is not None:
        codes.append(s_fit)
    codes += [np.unique(f[fitted], return_inverse=True)[1] for f in factors]
    key = np.zeros(int(fitted.sum()), dtype=np.int64)
    for column in codes:
        key = key * (int(column.max()) + 1) + column
    _, first, pattern = np.unique(key, return_index=True, return_inverse=True)
    pattern_codes = [column[first] for column in codes]
    trials: FloatArray = np.bincount(pattern).astype(np.float64)
    successes: FloatArray = np.bincount(pattern, weights=y_fit).astype(np.float64)
    site_codes = pattern_codes[1] if s is not None else None
    factor_codes = pattern_codes[2:] if s is not None else pattern_codes[1:]
    pattern_x = pattern_codes[0].astype(float)
    matrix = design(pattern_x, site_codes, factor_codes)
    try:
        beta, hessian, iterations = fit_logistic(matrix, successes, trials)
    except np.linalg.LinAlgError:
        return not_estimable(
            "the logistic model cannot be fitted (separation or collinear factors)",
            matrix.shape[1],
        )
    if np.max(np.abs(beta)) > 30:
        return not_estimable(
            "the logistic model has (quasi-)complete separation: coefficients diverge",
            matrix.shape[1],
        )

    treated = design(np.ones(pattern_x.size), site_codes, factor_codes)
    untreated = design(np.zeros(pattern_x.size), site_codes, factor_codes)
    q1, q0 = expit(treated @ beta), expit(untreated @ beta)
    p1, p0 = y.copy(), y.copy()  # exact fit in the sites without variation
    p1[fitted], p0[fitted] = q1[pattern], q0[pattern]
    risk1, risk0 = float(p1.mean()), float(p0.mean())
    difference = risk1 - risk0

    residual = y_fit - expit(matrix @ beta)[pattern]
    grad1 = np.asarray(treated.T @ (trials * q1 * (1 - q1))) / n
    grad0 = np.asarray(untreated.T @ (trials * q0 * (1 - q0))) / n
    unit = np.zeros(grad1.size)
    unit[1] = 1.0
    solved = _solve(hessian, np.column_stack([grad1, grad0, unit]))
    lever1 = (matrix @ solved[:, 0])[pattern]
    lever0 = (matrix @ solved[:, 1])[pattern]
    phi1 = (p1 - risk1) / n
    phi0 = (p0 - risk0) / n
    phi1[fitted] += lever1 * residual
    phi0[fitted] += lever0 * residual

    z = z_quantile(alpha)
    se = float(np.sqrt(clustered_sum_of_squares(phi1 - phi0, c)))
    ci, pvalue = wald(difference, se, z)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_rr = float(np.log(risk1 / risk0))
        log_rr_se = float(np.sqrt(clustered_sum_of_squares(phi1 / risk1 - phi0 / risk0, c)))
    return StandardisedResult(
        difference=difference,
        ci=ci,
        se=se,
        pvalue=pvalue,
        risks={groups[0]: risk0, groups[1]: risk1},
        risk_ratio=float(np.exp(log_rr)),
        risk_ratio_ci=log_scale_interval(log_rr, log_rr_se, z),
        log_odds_ratio=float(beta[1]),
        log_odds_ratio_se=float(np.sqrt(solved[1, 2])),
        groups=groups,
        n=n,
        parameters=int(matrix.shape[1]),
        sites_without_variation=flat_sites,
        clusters=n_clusters,
        iterations=iterations,
    )
