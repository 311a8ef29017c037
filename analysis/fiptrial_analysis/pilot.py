"""Rebuild the pilot's participants from Table 4.1 of the pilot report.

The table gives, per BUS reason and arm, how many clients left the benefit during the pilot
year (1 November 2014 to 1 November 2015, ISD Brabantse Wal, one site). It has no dates, so the
exit dates made here are spread evenly over the year with the reasons interleaved: the counts,
ratios and tests are the report's. The timing is a placeholder, not data: no Kaplan-Meier curve,
log-rank test, Cox model or restricted mean may be drawn from it (``PILOT_HAS_DATES`` is False).
:func:`pilot_reproduction` reproduces what the pilot report itself computed, from the counts
alone, and says so.
"""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from os import PathLike
from typing import TextIO

from .codes import PENSION_AGE_CODE, read_data_file
from .contingency import chi_square, odds_ratio, risk_difference
from .participants import REQUIRED_COLUMNS

PILOT_SITE = "ISD Brabantse Wal"
PILOT_START = date(2014, 11, 1)
PILOT_END = date(2015, 11, 1)
STILL_ON_BENEFIT = "still_on_benefit"
PILOT_HAS_DATES = False
NO_DATES = (
    "The pilot report (Table 4.1) gives counts per reason, not exit dates: time-to-event "
    "estimates (Kaplan-Meier, log-rank, Cox, restricted mean) cannot be computed for the pilot."
)


def read_table_4_1(path: str | PathLike[str] | None = None) -> dict[str, dict[str, int]]:
    """Counts of Table 4.1 per arm: ``{"fip": {"11": 3, ..., "": 245}, "control": {...}}``.

    Parameters
    ----------
    path : str or path-like, optional
        A copy of ``fip_report_table_4_1.csv``; the one shipped with the package by default.
        The row without a BUS code (``still_on_benefit``) is keyed by ``""``.

    Returns
    -------
    dict

    Raises
    ------
    ValueError
        If a count is not a non-negative whole number.
    """
    if path is None:
        text = read_data_file("fip_report_table_4_1.csv")
    else:
        with open(path, encoding="utf-8-sig") as handle:
            text = handle.read()
    table: dict[str, dict[str, int]] = {"fip": {}, "control": {}}
    for row in csv.DictReader(io.StringIO(text)):
        code = row["bus_code"].strip()
        if not code and row["category"] != STILL_ON_BENEFIT:
            raise ValueError(f"row {row['category']!r} has no BUS code")
        for arm, column in (("fip", "fip_group"), ("control", "control_group")):
            value = row[column].strip()
            if not value.isdigit():
                raise ValueError(f"{column} for {row['category']!r} is not a count: {value!r}")
            table[arm][code] = int(value)
    return table


def _interleaved(counts: dict[str, int]) -> list[str]:
    """Codes in round-robin order, so that no reason bunches at one end of the year."""
    remaining = {code: count for code, count in sorted(counts.items()) if code and count}
    order: list[str] = []
    while remaining:
        for code in list(remaining):
            order.append(code)
            remaining[code] -= 1
            if remaining[code] == 0:
                del remaining[code]
    return order


def pilot_participants(path: str | PathLike[str] | None = None) -> dict[str, list[str]]:
    """The pilot's participants as columns of the report's input.

    Parameters
    ----------
    path : str or path-like, optional
        A copy of Table 4.1 (``fip_report_table_4_1.csv``); the packaged copy by default.

    Returns
    -------
    dict of str to list of str
        Columns ``participant, site, arm, allocated_on, followup_end, exit_date, exit_code``:
        308 FIP and 1,625 control clients, one site, allocated on 1 November 2014 and followed
        up to 1 November 2015. The i-th of E exits in an arm is dated
        ``round((i + 1) * 365 / (E + 1))`` days after allocation.
    """
    table = read_table_4_1(path)
    columns: dict[str, list[str]] = {name: [] for name in REQUIRED_COLUMNS}
    days = (PILOT_END - PILOT_START).days
    for arm in ("fip", "control"):
        exits = _interleaved(table[arm])
        staying = table[arm].get("", 0)
        dates = [
            (PILOT_START + timedelta(days=round((i + 1) * days / (len(exits) + 1)))).isoformat()
            for i in range(len(exits))
        ]
        records = list(zip(dates, exits, strict=True)) + [("", "")] * staying
        for number, (exit_date, code) in enumerate(records, start=1):
            columns["participant"].append(f"pilot-{arm}-{number:04d}")
            columns["site"].append(PILOT_SITE)
            columns["arm"].append(arm)
            columns["allocated_on"].append(PILOT_START.isoformat())
            columns["followup_end"].append(PILOT_END.isoformat())
            columns["exit_date"].append(exit_date)
            columns["exit_code"].append(code)
    return columns


def write_csv(columns: dict[str, list[str]], handle: TextIO) -> None:
    """Write columns as a comma-separated participant file."""
    writer = csv.writer(handle, lineterminator="\n")
    names = list(columns)
    writer.writerow(names)
    writer.writerows(zip(*(columns[name] for name in names), strict=True))


#: The pilot's sensitivity to which end reasons count as its outcome: each step
#: counts the exits of more reasons as "no exit", keeping everyone in the denominator.
PILOT_SENSITIVITY = (
    ("leaving out moves to another municipality (32)", ("32",)),
    ("also leaving out the administrative ends (31, 34, 35)", ("32", "31", "34", "35")),
)


def _table(counts: dict[str, dict[str, int]], left_out: tuple[str, ...]) -> list[list[int]]:
    table = []
    for arm in ("fip", "control"):
        row = counts[arm]
        exits = sum(n for code, n in row.items() if code and code != PENSION_AGE_CODE)
        moved = sum(row.get(code, 0) for code in left_out)
        table.append([exits - moved, row.get("", 0) + moved])
    return table


def pilot_reproduction(path: str | PathLike[str] | None = None) -> dict[str, object]:
    """The pilot report's own comparison, from Table 4.1's counts only.

    Parameters
    ----------
    path : str or path-like, optional
        A copy of Table 4.1; the packaged copy by default.

    Returns
    -------
    dict
        ``table``: ``[[exits, still on benefit], ...]`` for FIP then control, exits of any
        reason except pension age (03), pension-age exits left out of the denominator as the
        report did; ``chi_square`` (Pearson, no continuity correction: 3.5733, p = 0.0587 in
        the report), ``risk_difference`` (Newcombe) and ``odds_ratio`` (Woolf) results;
        ``has_dates`` (False) and ``time_to_event`` (None) with ``note`` saying why;
        ``sensitivity``: the same comparison when the exits of some reasons are counted as no
        exit (:data:`PILOT_SENSITIVITY`): leaving out moves gives p = 0.080, leaving out the
        administrative ends too p = 0.48. Which reasons count is the study's main analytic
        decision, for the analysis plan to fix.
    """
    counts = read_table_4_1(path)
    table = _table(counts, ())
    sensitivity = []
    for name, left_out in PILOT_SENSITIVITY:
        other = _table(counts, left_out)
        sensitivity.append(
            {
                "analysis": name,
                "left_out": list(left_out),
                "table": other,
                "chi_square": chi_square(other),
                "risk_difference": risk_difference(other),
            }
        )
    return {
        "sensitivity": sensitivity,
        "table": table,
        "chi_square": chi_square(table),
        "risk_difference": risk_difference(table),
        "odds_ratio": odds_ratio(table),
        "has_dates": PILOT_HAS_DATES,
        "time_to_event": None,
        "note": NO_DATES,
    }
