"""The fields every chi-square test result starts with.

Pearson's test, Breslow-Day, the log-rank test and Gray's test all report a chi-square
statistic, its upper-tail p-value and the degrees of freedom it was referred to. Declaring them
once keeps their names, types and order the same in every result, so that code (and the JSON of
a result) can read any of them alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Self

from scipy import stats


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
