"""Input validation shared by the statistics modules."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import stats

FloatArray = NDArray[np.float64]


class SmallCellsWarning(UserWarning):
    """Expected counts are too small for a chi-square approximation; an exact test is given."""


@lru_cache(maxsize=16)
def z_quantile(alpha: float) -> float:
    """Two-sided standard normal quantile for a ``1 - alpha`` interval."""
    check_alpha(alpha)
    return float(stats.norm.isf(alpha / 2))


def check_alpha(alpha: float, name: str = "alpha") -> None:
    if not (0.0 < float(alpha) < 1.0):
        raise ValueError(f"{name} must lie strictly between 0 and 1, got {alpha!r}")


def counts(values: ArrayLike, name: str) -> FloatArray:
    """Return ``values`` as a float array of finite, non-negative counts."""
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must contain numbers: {exc}") from None
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must contain finite numbers only")
    if np.any(array < 0):
        raise ValueError(f"{name} must not contain negative counts")
    return array


def table_2x2(table: ArrayLike) -> FloatArray:
    """Validate one 2x2 table [[a, b], [c, d]] (rows FIP, control; columns event, no event)."""
    array = counts(table, "table")
    if array.shape != (2, 2):
        raise ValueError(f"table must be 2x2 [[a, b], [c, d]], got shape {array.shape}")
    return array


def tables_2x2(tables: ArrayLike) -> FloatArray:
    """Validate a stack of 2x2 tables with shape (K, 2, 2)."""
    array = counts(tables, "tables")
    if array.ndim != 3 or array.shape[1:] != (2, 2):
        raise ValueError(
            f"tables must have shape (K, 2, 2): one 2x2 table per stratum, got {array.shape}"
        )
    if array.shape[0] < 1:
        raise ValueError("tables must hold at least one stratum")
    return array


def vector(values: ArrayLike, name: str) -> FloatArray:
    """Return a one-dimensional float array of finite values."""
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must contain numbers: {exc}") from None
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must contain finite numbers only")
    return array


def same_length(**arrays: Any) -> int:
    lengths = {name: len(value) for name, value in arrays.items()}
    if len(set(lengths.values())) > 1:
        described = ", ".join(f"{name}={length}" for name, length in lengths.items())
        raise ValueError(f"inputs must have the same length ({described})")
    return next(iter(lengths.values()))


def group_of(group: ArrayLike, **data: Any) -> NDArray[Any]:
    """``group`` as an array, refused unless it has the length of the ``data`` it labels (which
    are named in the message, ``group`` last)."""
    g = np.asarray(group)
    same_length(**data, group=g)
    return g


def labels(values: ArrayLike, name: str) -> tuple[NDArray[Any], NDArray[np.intp]]:
    """Distinct labels and the code of each value, refusing missing labels.

    A NaN would otherwise become a group of its own and ``None`` gives an obscure TypeError
    when sorted, so both are rejected with a message that names the input (never the value).
    """
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if array.dtype.kind == "O":
        missing = np.array([v is None or (isinstance(v, float) and v != v) for v in array])
        if missing.any():
            raise ValueError(
                f"{name} has {int(missing.sum())} missing label(s) (None or NaN); "
                "every participant needs one"
            )
        kinds = {type(v) for v in array}
        if len(kinds) > 1:
            array = array.astype(str)
    elif array.dtype.kind == "f" and np.isnan(array).any():
        raise ValueError(
            f"{name} has {int(np.isnan(array).sum())} missing label(s) (NaN); "
            "every participant needs one"
        )
    if array.size > 10_000:
        # pandas hashes instead of sorting: many times faster at 400,000 labels.
        codes, found = pd.factorize(array, sort=True)
        return np.asarray(found, dtype=array.dtype), codes.astype(np.intp)
    unique, codes = np.unique(array, return_inverse=True)
    return unique, codes.astype(np.intp)


def two_groups(
    group: ArrayLike, reference: object = None, name: str = "group"
) -> tuple[tuple[object, object], NDArray[np.float64]]:
    """``((reference, compared), x)`` with ``x`` 1 for the compared group and 0 for the reference.

    Without ``reference`` the first label in sorted order is the reference: ``"control"``
    before ``"fip"``, ``0`` before ``1``.
    """
    unique, codes = labels(group, name)
    if unique.size != 2:
        raise ValueError(f"{name} must hold exactly two groups, found {unique.size}")
    names = unique.tolist()
    if reference is None:
        ref = 0
    elif reference in names:
        ref = names.index(reference)
    else:
        raise ValueError(f"reference is not one of the two {name} labels")
    x = (codes != ref).astype(float)
    return (names[ref], names[1 - ref]), x


def times(time: ArrayLike) -> FloatArray:
    """Validated, non-empty, non-negative follow-up times."""
    t = vector(time, "time")
    if t.size == 0:
        raise ValueError("time is empty")
    if np.any(t < 0):
        raise ValueError("time must not be negative")
    return t


def binary(values: ArrayLike, name: str = "outcome") -> FloatArray:
    """A 0/1 outcome as floats."""
    y = vector(values, name)
    if not np.all((y == 0) | (y == 1)):
        raise ValueError(f"{name} must be 0 or 1")
    return y


def time_event(time: ArrayLike, event: ArrayLike) -> tuple[FloatArray, NDArray[np.bool_]]:
    """Validated non-negative times and 0/1 event indicators of equal length."""
    t = times(time)
    e = vector(event, "event")
    same_length(time=t, event=e)
    if not np.all((e == 0) | (e == 1)):
        raise ValueError("event must be 0 (censored) or 1 (event)")
    return t, e.astype(bool)


def grouping(
    values: ArrayLike | None, n: int, name: str = "strata"
) -> tuple[NDArray[Any], NDArray[np.intp]]:
    """Labels and codes of an optional grouping (strata, clusters) of ``n`` observations.

    ``None`` is one group holding everyone (labels ``[None]``); otherwise the values must have
    length ``n`` and no missing label.
    """
    if values is None:
        return np.array([None], dtype=object), np.zeros(n, dtype=np.intp)
    array = np.asarray(values)
    if len(array) != n:
        raise ValueError(f"inputs must have the same length ({name}={len(array)}, expected {n})")
    return labels(array, name)


def two_arm_times(
    time: ArrayLike,
    event: ArrayLike,
    group: ArrayLike,
    strata: ArrayLike | None,
    reference: object = None,
) -> tuple[
    FloatArray,
    NDArray[np.bool_],
    tuple[object, object],
    FloatArray,
    NDArray[Any],
    NDArray[np.intp],
]:
    """Validated time-to-event data of two arms in optional strata, as the two-arm models need.

    Returns ``t, e, groups, x, strata_labels, s``: times and event indicators (see
    :func:`time_event`), ``(reference, compared)`` and the 0/1 arm of each participant (see
    :func:`two_groups`), and the strata labels with each participant's code (see
    :func:`grouping`).
    """
    t, e = time_event(time, event)
    groups, x = two_groups(group_of(group, time=t), reference)
    strata_labels, s = grouping(strata, t.size)
    return t, e, groups, x, strata_labels, s
