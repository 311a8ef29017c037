"""Site-standardised differences in means (benefit days, costs) and the complier-average effect.

Both arms are standardised to the same site mix, as the site-stratified primary analysis
compares them: ``D = sum_s w_s (mean_s,compared - mean_s,reference)`` with ``w_s = n_s / N``
over the sites holding both arms. Its variance comes from the influence function of each
participant, summed per cluster (the benefit unit) before squaring, so partners on one benefit
are not counted as independent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from ._checks import FloatArray, check_alpha, group_of, grouping, two_groups, z_quantile
from ._inference import clustered_sum_of_squares, clusters, wald


@dataclass(frozen=True)
class MeanDifferenceResult:
    """Site-standardised difference in means, compared minus reference.

    Attributes
    ----------
    difference, se, pvalue : float
        The standardised difference, its cluster-robust standard error and Wald p-value.
    ci : tuple of float
        Wald interval at level ``1 - alpha``.
    means : dict
        Standardised mean per arm label.
    groups : tuple
        ``(reference, compared)``.
    n, sites_used, clusters : int
        Participants in the sites used, those sites, and the clusters among them.
    influence : ndarray
        Per participant (0 outside the sites used): its contribution to ``difference``, for
        combining with another estimate on the same participants (delta method).
    estimable : bool
        False when no site holds both arms.
    """

    difference: float
    ci: tuple[float, float]
    se: float
    pvalue: float
    means: Mapping[object, float]
    groups: tuple[object, object]
    n: int
    sites_used: int
    clusters: int
    influence: FloatArray
    estimable: bool = True


def standardised_mean_difference(
    value: ArrayLike,
    group: ArrayLike,
    strata: ArrayLike | None = None,
    cluster: ArrayLike | None = None,
    *,
    reference: object = None,
    alpha: float = 0.05,
) -> MeanDifferenceResult:
    """Difference in mean ``value`` between the arms, standardised over sites.

    Parameters
    ----------
    value : array_like
        One number per participant (e.g. days on benefit up to a horizon, or euros).
    group : array_like
        Arm of each participant (two labels).
    strata : array_like, optional
        Site of each participant.
    cluster : array_like, optional
        Cluster of each participant (the benefit unit).
    reference : optional
        Label of the reference arm (the first sorted label by default: ``"control"``).
    alpha : float, default 0.05

    Returns
    -------
    MeanDifferenceResult

    Notes
    -----
    Estimand: ``sum_s w_s (E[Y | compared, s] - E[Y | reference, s])`` with the trial's own
    site shares ``w_s``. Participant ``i`` in site ``s`` and arm ``g`` has influence
    ``+/- w_s (y_i - mean_sg) / n_sg``; ``Var = sum_c (sum_{i in c} IF_i)^2`` (the weights
    taken as fixed). With one site and no cluster this is the unpooled two-sample variance
    with denominators ``n`` (statsmodels ``OLS(...).fit(cov_type="HC0")`` on the arm dummy).
    """
    check_alpha(alpha)
    y = np.asarray(value, dtype=float)
    if y.ndim != 1 or not np.all(np.isfinite(y)):
        raise ValueError("value must be one-dimensional and finite")
    groups, x = two_groups(group_of(group, value=y), reference)
    n = y.size
    _, s = grouping(strata, n)
    c, _ = clusters(cluster, n)
    k = int(s.max()) + 1 if n else 0
    cell = s * 2 + x.astype(np.intp)
    size = np.bincount(cell, minlength=2 * k).reshape(k, 2).astype(float)
    total = np.bincount(cell, weights=y, minlength=2 * k).reshape(k, 2)
    used = (size > 0).all(axis=1)
    nan = float("nan")
    if not used.any():
        return MeanDifferenceResult(
            nan, (nan, nan), nan, nan, {groups[0]: nan, groups[1]: nan}, groups, 0, 0, 0,
            np.zeros(n), estimable=False,
        )  # fmt: skip
    mean = np.divide(total, size, out=np.zeros_like(total), where=size > 0)
    weight = np.where(used, size.sum(axis=1), 0.0) / size[used].sum()
    means = (weight[:, None] * mean).sum(axis=0)
    difference = float(means[1] - means[0])
    sign = np.where(x == 1, 1.0, -1.0)
    inside = np.asarray(used)[s]
    arm = x.astype(np.intp)
    with np.errstate(divide="ignore", invalid="ignore"):
        influence = np.where(inside, sign * weight[s] * (y - mean[s, arm]) / size[s, arm], 0.0)
    se = float(np.sqrt(clustered_sum_of_squares(influence, c)))
    ci, p = wald(difference, se, z_quantile(alpha))
    used_clusters = np.count_nonzero(np.bincount(c[inside])) if c is not None else inside.sum()
    return MeanDifferenceResult(
        difference=difference,
        ci=ci,
        se=se,
        pvalue=p,
        means={groups[0]: float(means[0]), groups[1]: float(means[1])},
        groups=groups,
        n=int(inside.sum()),
        sites_used=int(used.sum()),
        clusters=int(used_clusters),
        influence=influence,
    )


@dataclass(frozen=True)
class ComplierAverageResult:
    """Complier-average causal effect by the Wald (instrumental variable) estimator.

    ``effect = ITT effect on the outcome / ITT effect on receiving FIP``, both site-
    standardised; the allocation is the instrument. ``compliance`` is the standardised share
    receiving FIP in the compared arm minus that in the reference arm.
    """

    effect: float
    ci: tuple[float, float]
    se: float
    pvalue: float
    itt: float
    compliance: float
    estimable: bool = True
    note: str = ""


def complier_average_effect(
    outcome: ArrayLike,
    received: ArrayLike,
    group: ArrayLike,
    strata: ArrayLike | None = None,
    cluster: ArrayLike | None = None,
    *,
    reference: object = None,
    alpha: float = 0.05,
) -> ComplierAverageResult:
    """Effect among compliers (those who receive FIP when allocated to it): IV / Wald.

    Notes
    -----
    Under the exclusion restriction (allocation acts only through receiving FIP) and
    monotonicity (nobody in usual care receives FIP), the ratio of the two intention-to-treat
    differences is the average effect among compliers (Angrist, Imbens and Rubin 1996). With
    one site it equals the two-stage least squares coefficient of ``received`` instrumented by
    the allocation. The variance is the delta method on the stacked influence functions,
    ``IF = (IF_itt - effect IF_compliance) / compliance``, summed per cluster.
    """
    itt = standardised_mean_difference(
        outcome, group, strata, cluster, reference=reference, alpha=alpha
    )
    take = standardised_mean_difference(
        received, group, strata, cluster, reference=reference, alpha=alpha
    )
    nan = float("nan")
    if not (itt.estimable and take.estimable) or abs(take.difference) < 1e-12:
        return ComplierAverageResult(
            nan, (nan, nan), nan, nan, itt.difference, take.difference, False,
            "no difference in receiving FIP between the arms: compliers cannot be told apart",
        )  # fmt: skip
    effect = itt.difference / take.difference
    influence = (itt.influence - effect * take.influence) / take.difference
    c, _ = clusters(cluster, influence.size)
    se = float(np.sqrt(clustered_sum_of_squares(influence, c)))
    ci, p = wald(effect, se, z_quantile(alpha))
    return ComplierAverageResult(
        effect=effect,
        ci=ci,
        se=se,
        pvalue=p,
        itt=itt.difference,
        compliance=take.difference,
    )
