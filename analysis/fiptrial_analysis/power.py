"""Sample size and power for comparing two proportions (individual or cluster randomisation)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats

from ._checks import check_alpha


@dataclass(frozen=True)
class SampleSizeResult:
    """Participants needed per arm.

    Attributes
    ----------
    n_fip, n_control : int
        Participants per arm, rounded up, design effect included.
    n_total : int
        ``n_fip + n_control``.
    n_fip_exact, n_control_exact : float
        The same before rounding.
    n_fip_individual : float
        FIP participants needed under individual randomisation (design effect 1), before
        rounding; for ``ratio = 1`` it is R's ``power.prop.test(...)$n``.
    design_effect : float
        ``1 + (cluster_size - 1) * icc``: applied to both arms (``nesting="both"``) or to
        the FIP arm only (``nesting="fip"``).
    nesting : str
        ``"both"`` or ``"fip"``.
    ratio : float
        Control participants per FIP participant.
    """

    n_fip: int
    n_control: int
    n_total: int
    n_fip_exact: float
    n_control_exact: float
    n_fip_individual: float
    design_effect: float
    ratio: float
    nesting: str = "both"


def _check_design(p1: float, p2: float, alpha: float, ratio: float) -> None:
    for name, value in (("p1", p1), ("p2", p2)):
        if not (0.0 < value < 1.0):
            raise ValueError(f"{name} must lie strictly between 0 and 1, got {value!r}")
    check_alpha(alpha)
    if not (ratio > 0 and math.isfinite(ratio)):
        raise ValueError(f"ratio (control per FIP participant) must be positive, got {ratio!r}")


def sample_size_two_proportions(
    p1: float,
    p2: float,
    alpha: float = 0.05,
    power: float = 0.8,
    ratio: float = 1.0,
    icc: float = 0.0,
    cluster_size: float = 1,
    nesting: str = "both",
) -> SampleSizeResult:
    """Participants per arm for a two-sided test of two proportions.

    Parameters
    ----------
    p1 : float
        Expected proportion (e.g. net exit ratio) in the FIP arm.
    p2 : float
        Expected proportion in the control arm.
    alpha : float, default 0.05
        Two-sided significance level.
    power : float, default 0.8
        Power wanted.
    ratio : float, default 1.0
        Allocation ratio: control participants per FIP participant (4 for a 1:4 allocation, as
        in the pilot with 360 FIP clients among about 2,000).
    icc : float, default 0.0
        Intra-cluster correlation of the outcome within a cluster (a client manager's caseload).
    cluster_size : float, default 1
        Mean number of participants per cluster.
    nesting : {"both", "fip"}, default "both"
        ``"both"``: both arms clustered alike (the design effect multiplies both arms).
        ``"fip"``: partially nested, clustered in the FIP arm only (one client manager
        delivers FIP to many clients; usual care has no shared delivery), see
        :func:`~fiptrial_analysis.clustering.partially_nested_design_effect`.

    Returns
    -------
    SampleSizeResult

    Raises
    ------
    ValueError
        For proportions outside (0, 1), equal proportions, or invalid alpha, power, ratio, icc
        or cluster size.

    Notes
    -----
    For ``ratio = 1`` this is the method of R's ``power.prop.test`` (two-sided,
    ``strict = FALSE``): the normal approximation with the pooled variance under the null and
    the unpooled one under the alternative, without continuity correction. For unequal
    allocation the same approximation generalises (Fleiss, Levin and Paik 2003, without the
    continuity correction)::

        n_fip = (z_a sqrt(pbar qbar (1 + 1/r)) + z_b sqrt(p1 q1 + p2 q2 / r))^2 / (p1 - p2)^2

    with ``pbar = (p1 + r p2) / (1 + r)``, and ``n_control = r n_fip``. Both are multiplied by
    the design effect ``1 + (cluster_size - 1) icc`` and then rounded up separately.

    Partially nested (``nesting="fip"``, Moerbeek and Wong 2008; Baldwin et al. 2011;
    Candlish et al. 2018) the design effect ``D`` enters the FIP arm's variance only::

        n_fip = (z_a sqrt(pbar qbar (D + 1/r)) + z_b sqrt(D p1 q1 + p2 q2 / r))^2 / (p1 - p2)^2

    and ``n_control = r n_fip``; for ``D = 1`` both forms agree.
    """
    _check_design(p1, p2, alpha, ratio)
    if p1 == p2:
        raise ValueError("p1 and p2 are equal: no sample size can detect a zero difference")
    check_alpha(power, "power")
    if not (0.0 <= icc <= 1.0):
        raise ValueError(f"icc must lie between 0 and 1, got {icc!r}")
    if not (cluster_size >= 1 and math.isfinite(cluster_size)):
        raise ValueError(f"cluster_size must be at least 1, got {cluster_size!r}")
    if nesting not in ("both", "fip"):
        raise ValueError(f"nesting must be 'both' or 'fip', got {nesting!r}")
    z_alpha = float(stats.norm.isf(alpha / 2))
    z_beta = float(stats.norm.isf(1 - power))
    p_bar = (p1 + ratio * p2) / (1 + ratio)

    def n_needed(fip_effect: float) -> float:
        null_sd = math.sqrt(p_bar * (1 - p_bar) * (fip_effect + 1 / ratio))
        alternative_sd = math.sqrt(fip_effect * p1 * (1 - p1) + p2 * (1 - p2) / ratio)
        return ((z_alpha * null_sd + z_beta * alternative_sd) / (p1 - p2)) ** 2

    n_individual = n_needed(1.0)
    design_effect = 1 + (cluster_size - 1) * icc
    n_fip_exact = n_individual * design_effect if nesting == "both" else n_needed(design_effect)
    n_control_exact = n_fip_exact * ratio
    # Round away float noise (e.g. 77.000000000001) before rounding up.
    n_fip = math.ceil(round(n_fip_exact, 9))
    n_control = math.ceil(round(n_control_exact, 9))
    return SampleSizeResult(
        n_fip=n_fip,
        n_control=n_control,
        n_total=n_fip + n_control,
        n_fip_exact=n_fip_exact,
        n_control_exact=n_control_exact,
        n_fip_individual=n_individual,
        design_effect=design_effect,
        ratio=float(ratio),
        nesting=nesting,
    )


def power_two_proportions(
    n_fip: float, p1: float, p2: float, alpha: float = 0.05, ratio: float = 1.0
) -> float:
    """Power of the two-sided test of two proportions for a given number of FIP participants.

    Parameters
    ----------
    n_fip : float
        Participants in the FIP arm (the control arm has ``ratio * n_fip``), after dividing by
        any design effect.
    p1, p2 : float
        Expected proportions in the FIP and control arms.
    alpha : float, default 0.05
        Two-sided significance level.
    ratio : float, default 1.0
        Control participants per FIP participant.

    Returns
    -------
    float
        The power; for ``ratio = 1`` that of R's ``power.prop.test(n, p1, p2)``
        (``strict = FALSE``: the rejection region on the far side is ignored).

    Raises
    ------
    ValueError
        For invalid proportions, alpha, ratio or a non-positive ``n_fip``.
    """
    _check_design(p1, p2, alpha, ratio)
    if not (n_fip > 0):
        raise ValueError(f"n_fip must be positive, got {n_fip!r}")
    z_alpha = float(stats.norm.isf(alpha / 2))
    p_bar = (p1 + ratio * p2) / (1 + ratio)
    null_sd = math.sqrt(p_bar * (1 - p_bar) * (1 + 1 / ratio))
    alternative_sd = math.sqrt(p1 * (1 - p1) + p2 * (1 - p2) / ratio)
    z = (math.sqrt(n_fip) * abs(p1 - p2) - z_alpha * null_sd) / alternative_sd
    return float(stats.norm.cdf(z))
