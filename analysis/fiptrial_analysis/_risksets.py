"""Risk sets per (stratum, distinct time) block, per group, from one sort.

Cox, restricted means and competing risks all need, at each distinct time of each stratum, the
number at risk and the number with each kind of event, per group. Sorting once by (stratum,
time) and counting per block keeps every estimator linear in the number of participants, with
no Python loop over strata or times.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ._checks import FloatArray


@dataclass(frozen=True)
class RiskSets:
    """Counts per block of tied times within a stratum, one column per group.

    Attributes
    ----------
    order : ndarray of int
        The sort of the observations by (stratum, time).
    block : ndarray of int
        Block of each *sorted* observation.
    time, stratum : ndarray
        Time and stratum of each block, blocks in (stratum, time) order.
    first : ndarray of int
        Index of the first block of each block's stratum.
    at_risk : ndarray, shape (blocks, groups)
        Number at risk just before the block's time.
    counts : dict of str to ndarray, shape (blocks, groups)
        For each indicator passed in, how many of the block's observations have it.
    """

    order: NDArray[np.intp]
    block: NDArray[np.intp]
    time: FloatArray
    stratum: NDArray[np.intp]
    first: NDArray[np.intp]
    at_risk: FloatArray
    counts: dict[str, FloatArray]

    def cumulative(self, values: FloatArray) -> FloatArray:
        """Running sum of per-block ``values`` restarting at each stratum (inclusive)."""
        total = np.cumsum(values, axis=0)
        return total - (total - values)[self.first]

    def before(self, values: FloatArray) -> FloatArray:
        """Running sum over the earlier blocks of the same stratum (exclusive)."""
        return self.cumulative(values) - values

    @property
    def is_first(self) -> NDArray[np.bool_]:
        return self.first == np.arange(self.first.size)


def risk_sets(
    time: FloatArray,
    stratum: NDArray[np.intp],
    group: NDArray[np.intp],
    groups: int,
    **indicators: NDArray[np.bool_] | FloatArray,
) -> RiskSets:
    """Count, per (stratum, time) block and group, those at risk and each indicator."""
    order = np.lexsort((time, stratum))
    t_sorted, s_sorted = time[order], stratum[order]
    new_block = np.empty(time.size, dtype=bool)
    new_block[0] = True
    new_block[1:] = (t_sorted[1:] != t_sorted[:-1]) | (s_sorted[1:] != s_sorted[:-1])
    block = np.cumsum(new_block) - 1
    n_blocks = int(block[-1]) + 1
    cell = block * groups + group[order]
    size = n_blocks * groups

    def per_block(weights: FloatArray | None) -> FloatArray:
        counted = np.bincount(cell, weights=weights, minlength=size).astype(float)
        return counted.reshape(n_blocks, groups)

    removed = per_block(None)
    counts = {
        name: per_block(np.asarray(values, dtype=float)[order])
        for name, values in indicators.items()
    }
    block_stratum = s_sorted[new_block]
    starts = np.empty(n_blocks, dtype=bool)
    starts[0] = True
    starts[1:] = block_stratum[1:] != block_stratum[:-1]
    first = np.maximum.accumulate(np.where(starts, np.arange(n_blocks), 0))
    # At risk: those removed in this block or later in the same stratum.
    boundaries = np.append(np.flatnonzero(starts), n_blocks)
    past_stratum = np.repeat(boundaries[1:], np.diff(boundaries))
    removed_after = np.vstack([np.cumsum(removed[::-1], axis=0)[::-1], np.zeros((1, groups))])
    at_risk = removed_after[:-1] - removed_after[past_stratum]
    return RiskSets(
        order=order,
        block=block,
        time=t_sorted[new_block],
        stratum=block_stratum,
        first=first,
        at_risk=at_risk,
        counts=counts,
    )


def segmented_product(sets: RiskSets, factor: FloatArray) -> FloatArray:
    """Running product of per-block ``factor`` (>= 0) within each stratum, exact zeros kept."""
    is_zero = factor <= 0
    logs = np.where(is_zero, 0.0, np.log(np.where(is_zero, 1.0, factor)))
    return np.where(sets.cumulative(is_zero.astype(float)) > 0, 0.0, np.exp(sets.cumulative(logs)))
