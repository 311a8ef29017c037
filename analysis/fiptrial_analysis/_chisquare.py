"""The fields every chi-square test result starts with, and the score statistic of the k-sample
tests.

Pearson's test, Breslow-Day, the log-rank test and Gray's test all report a chi-square
statistic, its upper-tail p-value and the degrees of freedom it was referred to. Declaring them
once keeps their names, types and order the same in every result, so that code (and the JSON of
a result) can read any of them alike. The log-rank test and Gray's test both refer the quadratic
form of their summed scores to chi-square on the rank of its covariance:
:func:`score_statistic` computes it once for both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Self

import numpy as np
from scipy import stats

from ._checks import FloatArray


@dataclass(frozen=True, eq=False)
class ChiSquareTest:
    """A chi-square statistic and its p-value; the subclasses say what was tested.

    The subclasses add their own fields after these three and keep their own equality and
    hashing (``eq=False`` here, so none is imposed on them).

    Attributes
    ----------
    statistic : float
        The chi-square statistic (NaN when the test is not estimable).
    pvalue : float
        Upper tail probability of the chi-square distribution with ``dof`` degrees of freedom.
    dof : int
        Degrees of freedom.
    """

    statistic: float
    pvalue: float
    dof: int

    @classmethod
    def from_statistic(cls, statistic: float, dof: int, **fields: Any) -> Self:
        """The result for ``statistic`` referred to chi-square on ``dof`` degrees of freedom.

        The p-value is the upper tail ``P(X2 > statistic)``, NaN for a NaN statistic (a test
        that is not estimable); ``fields`` are the subclass's own.
        """
        pvalue = float(stats.chi2.sf(statistic, dof))
        return cls(statistic=statistic, pvalue=pvalue, dof=dof, **fields)


def score_statistic(score: FloatArray, variance: FloatArray) -> tuple[float, int]:
    """``s' V^- s`` (``V^-`` the pseudo-inverse) and the rank of ``V``: the statistic of a
    k-sample score test and its degrees of freedom.

    The pseudo-inverse keeps a test whose groups are not all informative (a group with no one at
    risk at any event time) on the rank it has; a covariance of rank zero (or empty) gives
    ``(NaN, 0)``, a test that is not estimable.
    """
    rank = int(np.linalg.matrix_rank(variance)) if variance.size else 0
    if rank == 0:
        return float("nan"), 0
    return float(score @ np.linalg.pinv(variance) @ score), rank
