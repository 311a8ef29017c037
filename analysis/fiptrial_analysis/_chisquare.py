"""The fields every chi-square test result starts with.

Pearson's test, Breslow-Day, the log-rank test and Gray's test all report a chi-square
statistic, its upper-tail p-value and the degrees of freedom it was referred to. Declaring them
once keeps their names, types and order the same in every result, so that code (and the JSON of
a result) can read any of them alike.
"""

from __future__ import annotations

from dataclasses import dataclass


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
