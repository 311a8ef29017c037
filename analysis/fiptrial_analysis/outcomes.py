"""The plan's outcomes of every participant, derived from the spells file.

The spells file (format in the package README) holds each participant's benefit spells in
follow-up. Under an :class:`~fiptrial_analysis.plan.AnalysisPlan` this module derives, all
vectorised over the spells:

- the outcome follow-up: from allocation to the earlier of ``followup_end`` and the AOW date
  known at allocation (``aow_days_from_allocation``), never an observed pension-age exit;
- the *sustained end*: the first end of a spell after which the participant is not back on
  benefit within ``R`` days (the next spell starts more than ``R`` days later, or never). An
  end is only judged once ``R`` days after it lie inside the outcome follow-up, so the time to
  a sustained end is observed on ``[0, c - R]`` and censored at ``max(0, c - R)`` (``c`` the
  end of the outcome follow-up) when no judged end was sustained;
- its class under the plan (primary, competing, administrative): the cause of the competing-
  risks analysis; for the primary outcome competing and administrative ends are not successes;
- per horizon (calendar months after allocation): whether the horizon has passed inside the
  outcome follow-up, whether a sustained primary exit was confirmed by it (``e + R <= H``), the
  first end of any reason by it (the pilot's "any exit"), and the days on benefit up to it
  (every spell counts: re-entries add their days).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from .codes import normalise_code
from .participants import Participants
from .plan import OUTCOME_CLASSES, AnalysisPlan

SPELL_COLUMNS = ("participant", "spell", "start", "end", "end_code")
CAUSES = {name: index + 1 for index, name in enumerate(OUTCOME_CLASSES)}  # 0 = censored
NEVER = np.iinfo(np.int64).max // 4


@dataclass(frozen=True)
class Spells:
    """The spells file as typed arrays, rows in participant order (index into Participants)."""

    owner: NDArray[np.intp]
    start: NDArray[np.int64]  # days from allocation (may be negative)
    end: NDArray[np.int64]  # days from allocation; NEVER while running
    end_code: NDArray[np.str_]


def _day_numbers(values: Any, name: str) -> NDArray[np.int64]:
    array = np.asarray(values)
    if array.dtype.kind != "M":
        text = np.char.strip(np.asarray(array, dtype=str))
        text = np.where((text == "nan") | (text == "NaT"), "", text)
        try:
            array = text.astype("datetime64[D]")
        except ValueError:
            raise ValueError(f"spells column {name} holds a value that is not a date") from None
    days = array.astype("datetime64[D]")
    out = days.astype(np.int64)
    return np.where(np.isnat(days), NEVER, out)


def prepare_spells(columns: dict[str, Any], participants: Participants) -> Spells:
    """Check the spells file against the participant file and turn it into arrays.

    Raises
    ------
    ValueError
        For a missing column, a participant not in the participant file, a start after its
        end, an end without code (or the reverse), or a code that is not a BUS reason.
    """
    columns = {str(k).strip().lower(): v for k, v in columns.items()}
    missing = [name for name in SPELL_COLUMNS if name not in columns]
    if missing:
        raise ValueError(f"the spells file lacks the column(s): {missing}")
    ids = np.char.strip(np.asarray(columns["participant"], dtype=str))
    order = np.argsort(participants.ids, kind="stable")
    sorted_ids = participants.ids[order]
    where = np.searchsorted(sorted_ids, ids)
    where = np.clip(where, 0, max(sorted_ids.size - 1, 0))
    known = sorted_ids.size > 0 and np.all(sorted_ids[where] == ids) if ids.size else True
    if not known:
        count = int(np.sum(sorted_ids[where] != ids))
        raise ValueError(f"the spells file has {count} row(s) of participants not in the file")
    owner = order[where].astype(np.intp)
    allocated = participants.allocated.astype(np.int64)[owner]
    start = _day_numbers(columns["start"], "start")
    if np.any(start == NEVER):
        raise ValueError("spells column start is empty in some rows")
    end = _day_numbers(columns["end"], "end")
    raw = np.char.strip(np.asarray(columns["end_code"], dtype=str))
    raw = np.where(raw == "nan", "", raw)
    unique, inverse = np.unique(raw, return_inverse=True)
    code = (
        np.array([normalise_code(str(value)) for value in unique.tolist()], dtype=str)[
            inverse.reshape(-1)
        ]
        if raw.size
        else raw
    )
    if np.any((end == NEVER) != (code == "")):
        raise ValueError("spells: end and end_code must be both filled or both empty")
    if np.any((end != NEVER) & (end < start)):
        raise ValueError("spells: a spell ends before it starts")
    rel_end = np.where(end == NEVER, NEVER, end - allocated)
    keys = np.lexsort((start, owner))
    return Spells(
        owner=owner[keys],
        start=(start - allocated)[keys],
        end=rel_end[keys],
        end_code=code[keys],
    )


def _first_of_each(owner: NDArray[np.intp]) -> NDArray[np.bool_]:
    """The first row of each participant in rows sorted by participant."""
    return np.concatenate([[True], owner[1:] != owner[:-1]]) if owner.size else owner.astype(bool)


def add_months(days: NDArray[np.datetime64], months: int) -> NDArray[np.datetime64]:
    """Calendar months after each date; the 31st becomes the month's last day (29 Feb -> 28)."""
    month = days.astype("datetime64[M]")
    offset = (days - month.astype("datetime64[D]")).astype(np.int64)
    target = month + months
    length = ((target + 1).astype("datetime64[D]") - target.astype("datetime64[D]")).astype(
        np.int64
    )
    return target.astype("datetime64[D]") + np.minimum(offset, length - 1)


@dataclass(frozen=True)
class HorizonOutcome:
    """One horizon's outcomes (arrays over participants)."""

    months: int
    days: NDArray[np.int64]  # the horizon in days from allocation, per participant
    passed: NDArray[np.bool_]  # horizon inside the outcome follow-up (AOW-censored)
    passed_any: NDArray[np.bool_]  # horizon inside followup_end (the pilot's definition)
    sustained: NDArray[np.bool_]  # sustained primary exit confirmed by the horizon
    any_exit: NDArray[np.bool_]  # first end of any reason by the horizon
    pension_exit: NDArray[np.bool_]  # that first end is pension age (03)
    benefit_days: NDArray[np.float64]  # days on benefit in [0, horizon), every spell


@dataclass(frozen=True)
class PlannedOutcomes:
    """Per participant: time to the first sustained end, its cause, and each horizon."""

    time: NDArray[np.float64]
    cause: NDArray[np.intp]  # 0 censored, else CAUSES[class]
    end_code: NDArray[np.str_]  # BUS code of the first sustained end ("" when censored)
    horizons: tuple[HorizonOutcome, ...]
    off_benefit_at_allocation: int
    unconfirmed_ends: int  # ends too close to the end of follow-up to judge


def derive_outcomes(p: Participants, spells: Spells, plan: AnalysisPlan) -> PlannedOutcomes:
    """Derive the plan's outcomes; see the module docstring for the rules."""
    n = p.n
    r = int(plan.sustained_exit_days)
    follow = (p.followup_end - p.allocated).astype(np.int64)
    aow = p.optional.get("aow_days_from_allocation")
    outcome_end = follow.copy()
    if aow is not None:
        known = np.isfinite(aow)
        outcome_end[known] = np.minimum(follow[known], np.maximum(aow[known], 0).astype(np.int64))
    owner, start, end, code = spells.owner, spells.start, spells.end, spells.end_code
    # The next spell of the same participant, for the return gap.
    same_next = np.zeros(owner.size, dtype=bool)
    if owner.size > 1:
        same_next[:-1] = owner[1:] == owner[:-1]
    next_start = np.full(owner.size, NEVER, dtype=np.int64)
    next_start[:-1] = np.where(same_next[:-1], start[1:], NEVER)
    ended = end != NEVER
    sustained = ended & (next_start - end > r)
    judged = ended & (end + r <= outcome_end[owner])
    classes = plan.class_of()
    inverse, unique = pd.factorize(code)
    cause_of_code = np.array([CAUSES.get(classes.get(c, ""), 0) for c in unique.tolist()])
    spell_cause = cause_of_code[inverse] if code.size else np.zeros(0, np.intp)

    time = np.maximum(outcome_end - r, 0).astype(float)
    cause = np.zeros(n, dtype=np.intp)
    end_code = np.full(n, "", dtype="<U2")
    hit = np.flatnonzero(sustained & judged)
    if hit.size:
        first = hit[_first_of_each(owner[hit])]
        who = owner[first]
        time[who] = end[first].astype(float)
        cause[who] = spell_cause[first]
        end_code[who] = code[first]

    first_end = np.full(n, NEVER, dtype=np.int64)
    first_code = np.full(n, "", dtype="<U2")
    ends = np.flatnonzero(ended)
    if ends.size:
        first = ends[_first_of_each(owner[ends])]
        first_end[owner[first]] = end[first]
        first_code[owner[first]] = code[first]
    covered = np.zeros(n, dtype=bool)
    covered[owner[start <= 0]] = True

    primary_time = np.where(cause == CAUSES["primary"], time, np.inf)
    horizons = []
    for months in plan.horizons_months:
        h = (add_months(p.allocated, months) - p.allocated).astype(np.int64)
        passed = outcome_end >= h
        passed_any = follow >= h
        any_exit = first_end < h
        stop = np.minimum(np.where(end == NEVER, follow[owner], end + 1), h[owner])
        days = np.clip(stop - np.maximum(start, 0), 0, None).astype(float)
        benefit = np.bincount(owner, weights=days, minlength=n).astype(float)
        horizons.append(
            HorizonOutcome(
                months=int(months),
                days=h,
                passed=passed,
                passed_any=passed_any,
                sustained=primary_time + r <= h,
                any_exit=any_exit,
                pension_exit=any_exit & (first_code == "03"),
                benefit_days=benefit,
            )
        )
    return PlannedOutcomes(
        time=time,
        cause=cause,
        end_code=end_code,
        horizons=tuple(horizons),
        off_benefit_at_allocation=int(n - covered.sum()),
        unconfirmed_ends=int(np.sum(ended & ~judged & (end < outcome_end[owner]))),
    )
