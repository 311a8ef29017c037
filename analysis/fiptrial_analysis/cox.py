"""Cox proportional hazards model for the arm effect, stratified by site, cluster-robust.

The only covariate is the arm, so every sum over a risk set is a count of participants at risk per
arm weighted by ``exp(beta)``: the data are sorted once, counts are taken per (stratum, time)
block, and each Newton step then costs one pass over the event times.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._checks import FloatArray, check_alpha, two_arm_times, z_quantile
from ._inference import clustered_sum_of_squares, clusters, log_scale_interval, wald_pvalue
from ._risksets import RiskSets, risk_sets

TIES = ("efron", "breslow")
MAX_ITERATIONS = 50


@dataclass(frozen=True)
class CoxResult:
    """Hazard ratio of the compared arm against the reference arm.

    Attributes
    ----------
    hazard_ratio : float
        ``exp(beta)``: the hazard of the event (e.g. sustained exit from benefit) in the compared
        arm relative to the reference arm, assumed constant over time and common to all strata
        (sites), each stratum keeping its own baseline hazard. NaN when not estimable.
    ci : tuple of float
        Wald interval ``exp(beta +/- z se)`` at level ``1 - alpha``.
    pvalue : float
        Two-sided Wald test of ``beta = 0`` with the same standard error.
    log_hazard_ratio, se : float
        ``beta`` and its standard error (cluster-robust when ``robust``).
    model_se : float
        The model-based (inverse information) standard error, for comparison.
    robust : bool
        Whether ``se`` is the cluster sandwich (a ``cluster`` was given).
    ties : str
        ``"efron"`` or ``"breslow"``.
    groups : tuple
        ``(reference, compared)`` labels.
    n, events, strata, clusters : int
        Participants, events, strata and clusters (``n`` when no cluster was given).
    loglik : float
        Log partial likelihood at the estimate.
    iterations : int
        Newton steps taken.
    estimable : bool
        False when the data cannot identify a finite hazard ratio; ``note`` says why.
    note : str
        Empty, or the reason the estimate is not available.
    """

    hazard_ratio: float
    ci: tuple[float, float]
    pvalue: float
    log_hazard_ratio: float
    se: float
    model_se: float
    robust: bool
    ties: str
    groups: tuple[object, object]
    n: int
    events: int
    strata: int
    clusters: int
    loglik: float
    iterations: int
    estimable: bool = True
    note: str = ""


@dataclass(frozen=True)
class _Blocks:
    """Risk sets per (stratum, time) block and one slot per event (Efron's sub-steps)."""

    sets: RiskSets
    at_risk: FloatArray  # (blocks, 2): reference, compared
    died: FloatArray  # (blocks, 2)
    slot_block: NDArray[np.intp]
    slot_fraction: FloatArray  # l / d under Efron, 0 under Breslow


def _blocks(t: FloatArray, e: NDArray[np.bool_], x: FloatArray, s: NDArray[np.intp], ties: str):
    sets = risk_sets(t, s, x.astype(np.intp), 2, died=e)
    died = sets.counts["died"]
    d = died.sum(axis=1).astype(np.intp)
    slot_block = np.repeat(np.arange(d.size), d)
    if ties == "efron":
        start = np.cumsum(d) - d
        rank = np.arange(slot_block.size) - start[slot_block]
        fraction = rank / d[slot_block]
    else:
        fraction = np.zeros(slot_block.size)
    return _Blocks(sets, sets.at_risk, died, slot_block, fraction)


def _slots(blocks: _Blocks, theta: float) -> tuple[FloatArray, FloatArray]:
    """Efron-adjusted risk-set total ``S0`` and compared-arm share ``xbar`` of every slot."""
    b, f = blocks.slot_block, blocks.slot_fraction
    n0, n1 = blocks.at_risk[b, 0], blocks.at_risk[b, 1]
    d0, d1 = blocks.died[b, 0], blocks.died[b, 1]
    compared = theta * (n1 - f * d1)
    total = (n0 - f * d0) + compared
    return total, compared / total


def _finite_maximum(blocks: _Blocks) -> bool:
    """Whether the partial likelihood has a finite maximum (the score changes sign).

    The score ``sum(d1) - sum(xbar)`` falls from ``sum(d1) - #slots where only the compared arm
    is at risk`` (beta -> -inf) to ``sum(d1) - #slots where the compared arm is at risk``
    (beta -> +inf); a root exists only when the first is positive and the second negative.
    """
    b, f = blocks.slot_block, blocks.slot_fraction
    n0 = blocks.at_risk[b, 0] - f * blocks.died[b, 0]
    n1 = blocks.at_risk[b, 1] - f * blocks.died[b, 1]
    d1 = float(blocks.died[:, 1].sum())
    low = d1 - float(np.sum((n0 <= 1e-12) & (n1 > 1e-12)))
    high = d1 - float(np.sum(n1 > 1e-12))
    return low > 1e-9 and high < -1e-9


def _score_residuals(blocks: _Blocks, x: FloatArray, e: NDArray[np.bool_], beta: float):
    """Per-participant score residuals, in sorted order, as R's ``residuals(fit, "score")``.

    Under Efron's approximation a death tied with ``d - 1`` others is spread over ``d``
    sub-steps, at sub-step ``l`` weighted ``1 - l/d`` in the risk set (Therneau and Grambsch
    2000, section 3.3; R survival's ``coxscore``).
    """
    theta = float(np.exp(beta))
    total, xbar = _slots(blocks, theta)
    n_blocks = blocks.at_risk.shape[0]
    b, f = blocks.slot_block, blocks.slot_fraction
    a0 = np.bincount(b, weights=1.0 / total, minlength=n_blocks).astype(float)
    a1 = np.bincount(b, weights=xbar / total, minlength=n_blocks).astype(float)
    b0 = np.bincount(b, weights=(1.0 - f) / total, minlength=n_blocks)
    b1 = np.bincount(b, weights=(1.0 - f) * xbar / total, minlength=n_blocks)
    deaths = blocks.died.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_xbar = np.bincount(b, weights=xbar, minlength=n_blocks) / deaths

    h0, h1 = blocks.sets.before(a0), blocks.sets.before(a1)
    k = blocks.sets.block
    xs, es = x[blocks.sets.order], e[blocks.sets.order]
    risk = np.where(xs == 1, theta, 1.0)
    residual = -risk * (xs * h0[k] - h1[k])
    censored_own = -risk * (xs * a0[k] - a1[k])
    died_own = (xs - np.nan_to_num(mean_xbar[k])) - risk * (xs * b0[k] - b1[k])
    return residual + np.where(es, died_own, censored_own)


def cox_stratified(
    time: ArrayLike,
    event: ArrayLike,
    group: ArrayLike,
    strata: ArrayLike | None = None,
    cluster: ArrayLike | None = None,
    *,
    ties: str = "efron",
    reference: object = None,
    alpha: float = 0.05,
) -> CoxResult:
    """Hazard ratio between two arms from a Cox model stratified by site.

    Parameters
    ----------
    time : array_like
        Time from allocation to the event or censoring (e.g. days to sustained exit).
    event : array_like
        1 when the event was observed, 0 when censored.
    group : array_like
        Arm of each participant: exactly two labels, none missing.
    strata : array_like, optional
        Stratum (site) of each participant: each has its own baseline hazard. Strata holding a
        single arm, or no event, carry no information about the hazard ratio and are kept
        without effect.
    cluster : array_like, optional
        Cluster (the benefit unit, or a client manager) of each participant. When given, the
        standard error is the cluster sandwich of Lin and Wei (1989): score residuals summed per
        cluster, ``V = I^-1 (sum_c U_c^2) I^-1``, as R's ``coxph(..., cluster = unit)`` and
        statsmodels' ``PHReg(...).fit(groups=unit)`` (no small-sample factor).
    ties : {"efron", "breslow"}, default "efron"
        Handling of tied event times: Efron's approximation (R ``coxph`` and lifelines
        default), or Breslow's (statsmodels ``PHReg`` default). With daily data ties are many,
        and Efron's is the closer approximation to the exact partial likelihood.
    reference : optional
        The label of the reference arm (the denominator of the hazard ratio). By default the
        first label in sorted order: ``"control"`` before ``"fip"``, ``0`` before ``1``.
    alpha : float, default 0.05
        One minus the confidence level.

    Returns
    -------
    CoxResult
        Marked ``estimable=False`` (NaN estimate, with a note) when there is no event, when no
        event time has both arms at risk in its stratum, or when the likelihood has no finite
        maximum (e.g. all events in one arm).

    Raises
    ------
    ValueError
        For invalid time or event values, missing or more than two group labels, missing
        strata or cluster labels, mismatched lengths, or an unknown ``ties``.

    Notes
    -----
    Estimand: the conditional (site-stratified) hazard ratio of the compared arm, under
    proportional hazards. The log partial likelihood for event-time block ``k`` with ``d``
    events, Efron's version, is ``sum_{i in D_k} beta x_i - sum_{l<d} log(S0 - (l/d) S0_D)``
    with ``S0`` the risk-set total of ``exp(beta x)`` in the block's stratum and ``S0_D`` that
    of the block's events; Breslow's drops the ``(l/d)`` term. Newton-Raphson with step
    halving from ``beta = 0`` to ``|step| < 1e-10``.
    """
    if ties not in TIES:
        raise ValueError(f"ties must be 'efron' or 'breslow', got {ties!r}")
    check_alpha(alpha)
    t, e, groups, x, strata_labels, s = two_arm_times(time, event, group, strata, reference)
    n_strata = int(strata_labels.size)
    c, n_clusters = clusters(cluster, int(t.size))

    blocks = _blocks(t, e, x, s, ties)
    common = dict(
        robust=cluster is not None,
        ties=ties,
        groups=groups,
        n=int(t.size),
        events=int(e.sum()),
        strata=n_strata,
        clusters=n_clusters,
    )

    def not_estimable(note: str, iterations: int = 0) -> CoxResult:
        nan = float("nan")
        return CoxResult(
            hazard_ratio=nan,
            ci=(nan, nan),
            pvalue=nan,
            log_hazard_ratio=nan,
            se=nan,
            model_se=nan,
            loglik=nan,
            iterations=iterations,
            estimable=False,
            note=note,
            **common,  # type: ignore[arg-type]
        )

    if not e.any():
        return not_estimable("no events: the hazard ratio is not estimable")
    _, xbar0 = _slots(blocks, 1.0)
    if float(np.sum(xbar0 * (1 - xbar0))) <= 0:
        return not_estimable(
            "no event time has both arms at risk in its stratum: the hazard ratio is not estimable"
        )
    if not _finite_maximum(blocks):
        return not_estimable(
            "the partial likelihood has no finite maximum (the events fall in one arm only): "
            "the hazard ratio is 0 or infinite and not estimable"
        )

    d1 = float(blocks.died[:, 1].sum())

    def evaluate(beta: float) -> tuple[float, float, float]:
        total, xbar = _slots(blocks, float(np.exp(beta)))
        loglik = beta * d1 - float(np.sum(np.log(total)))
        return loglik, d1 - float(xbar.sum()), float(np.sum(xbar * (1 - xbar)))

    beta = 0.0
    loglik, score, information = evaluate(beta)
    iterations = 0
    for iterations in range(1, MAX_ITERATIONS + 1):  # noqa: B007
        step = score / information
        while True:
            candidate = beta + step
            new = evaluate(candidate)
            if new[0] >= loglik - 1e-12 * abs(loglik) or abs(step) < 1e-12:
                break
            step /= 2
        beta, (loglik, score, information) = candidate, new
        if abs(step) < 1e-10:
            break
    else:  # pragma: no cover - the likelihood is concave with a finite maximum here
        return not_estimable("the Newton iterations did not converge", iterations)

    model_variance = 1.0 / information
    if c is None:
        variance = model_variance
    else:
        residuals = _score_residuals(blocks, x, e, beta)
        variance = clustered_sum_of_squares(residuals, c[blocks.sets.order]) * model_variance**2
    se = float(np.sqrt(variance))
    return CoxResult(
        hazard_ratio=float(np.exp(beta)),
        ci=log_scale_interval(beta, se, z_quantile(alpha)),
        pvalue=wald_pvalue(beta, se),
        log_hazard_ratio=float(beta),
        se=se,
        model_se=float(np.sqrt(model_variance)),
        loglik=float(loglik),
        iterations=iterations,
        **common,  # type: ignore[arg-type]
    )
