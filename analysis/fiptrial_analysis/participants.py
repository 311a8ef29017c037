"""Reading and checking the participant file that the report analyses.

One row per allocated participant. Columns are described in the package README; dates are ISO
``YYYY-MM-DD`` strings (or ``datetime64`` / ``datetime.date`` values when called from Python).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from os import PathLike
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from .codes import PENSION_AGE_CODE, WORK_CODES, normalise_code, termination_categories

REQUIRED_COLUMNS = (
    "participant",
    "site",
    "arm",
    "allocated_on",
    "followup_end",
    "exit_date",
    "exit_code",
)
BASELINE_COLUMNS = ("stratum", "age_band", "benefit_duration_band", "sex")
#: Columns the platform's export adds for adjustment, censoring and clustering (README).
EXPORT_EXTRA_COLUMNS = (
    "unit",
    "age_at_allocation",
    "months_on_benefit_at_allocation",
    "aow_days_from_allocation",
    "education",
    "country_of_birth_region",
)
NUMERIC_COLUMNS = (
    "conversations_held",
    "age_at_allocation",
    "months_on_benefit_at_allocation",
    "aow_days_from_allocation",
)
OPTIONAL_COLUMNS = (
    *BASELINE_COLUMNS,
    "consent_status",
    "conversations_held",
    "client_manager",
    *EXPORT_EXTRA_COLUMNS,
)
ARMS = ("fip", "control")

Columns = Mapping[str, Any]


DATE_COLUMNS = ("allocated_on", "followup_end", "exit_date", "start", "end")
_FIELDS = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


def _read_csv(source: str | PathLike[str] | io.StringIO, what: str) -> dict[str, NDArray[Any]]:
    """A CSV file read by pandas' C parser straight into typed numpy arrays.

    Dates (ISO) become ``datetime64[D]`` (NaT when empty), the numeric columns float (NaN when
    empty) and everything else stripped strings (``""`` when empty). ``,`` or ``;`` as the
    delimiter, UTF-8 with or without BOM.
    """
    if isinstance(source, io.StringIO):
        first_line = source.getvalue().split("\n", 1)[0]
    else:
        with open(source, encoding="utf-8-sig", newline="") as handle:
            first_line = handle.readline()
    if not first_line.strip():
        raise ValueError(f"the {what} file is empty")
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    try:
        frame = pd.read_csv(
            source, sep=delimiter, dtype=str, keep_default_na=False, na_filter=False,
            encoding="utf-8-sig", engine="c", skip_blank_lines=True,
        )  # fmt: skip
    except pd.errors.ParserError as error:
        found = _FIELDS.search(str(error))
        if found:
            expected, line, saw = found.groups()
            raise ValueError(f"line {line} has {saw} fields, the header has {expected}") from None
        raise ValueError(f"the {what} file is not valid CSV") from None
    except pd.errors.EmptyDataError:
        raise ValueError(f"the {what} file is empty") from None
    header = [str(name).strip().lower() for name in frame.columns]
    if len(set(header)) != len(header) or any("." in name for name in frame.columns):
        raise ValueError(f"the header repeats a column name: {header}")
    columns: dict[str, NDArray[Any]] = {}
    for name, original in zip(header, frame.columns, strict=True):
        values = frame[original]
        if name in DATE_COLUMNS:
            text = values.str.strip()
            try:
                dates = pd.to_datetime(text.where(text != "", None), format="%Y-%m-%d")
            except (ValueError, TypeError):
                raise ValueError(
                    f"column {name} holds a value that is not a date (write YYYY-MM-DD)"
                ) from None
            columns[name] = dates.to_numpy(dtype="datetime64[D]")
        elif name in NUMERIC_COLUMNS:
            try:
                columns[name] = pd.to_numeric(values.str.strip().replace("", None)).to_numpy(
                    dtype=float
                )
            except (ValueError, TypeError):
                raise ValueError(f"column {name} must hold numbers") from None
        else:
            columns[name] = np.char.strip(values.to_numpy(dtype=str))
    return columns


def read_participants(path: str | PathLike[str]) -> dict[str, NDArray[Any]]:
    """Read the participant CSV into typed columns (pandas' C parser).

    Parameters
    ----------
    path : str or path-like
        A CSV file with a header row; ``,`` or ``;`` as delimiter, UTF-8 with or without BOM.

    Returns
    -------
    dict of str to ndarray
        One array per column, keyed by the lower-cased header name: dates as
        ``datetime64[D]``, counts as float, the rest as stripped strings.

    Raises
    ------
    ValueError
        If the file is empty, a header is repeated, a row has the wrong number of fields, or
        a date or number cannot be read (the column is named, never the value).
    """
    return _read_csv(path, "participant")


def parse_participants(text: str) -> dict[str, NDArray[Any]]:
    """Parse CSV text like :func:`read_participants` does."""
    return _read_csv(io.StringIO(text.removeprefix("\ufeff")), "participant")


def read_spells(path: str | PathLike[str]) -> dict[str, NDArray[Any]]:
    """Read the spells file (README) like :func:`read_participants`."""
    return _read_csv(path, "spells")


def parse_spells(text: str) -> dict[str, NDArray[Any]]:
    return _read_csv(io.StringIO(text.removeprefix("\ufeff")), "spells")


def columns_from_rows(rows: Iterable[Mapping[str, Any]]) -> dict[str, list[Any]]:
    """Turn a sequence of row dictionaries into columns (missing keys become empty)."""
    rows = list(rows)
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row))
    return {name: [row.get(name) for row in rows] for name in names}


@dataclass(frozen=True, eq=False)
class Participants:
    """Checked, analysis-ready participant data (one entry per participant).

    Attributes
    ----------
    site_labels : ndarray of str
        The distinct sites, sorted; ``site`` indexes into it.
    site : ndarray of int
        Site index of each participant.
    fip : ndarray of bool
        True for the FIP arm, False for control.
    exit_code : ndarray of str
        BUS code of an exit within the follow-up, ``""`` otherwise.
    exited : ndarray of bool
        The benefit ended within the follow-up.
    pension : ndarray of bool
        The benefit ended within the follow-up because the participant reached pension age.
    work : ndarray of bool
        The benefit ended within the follow-up for work (BUS 11 or 13).
    days : ndarray of float
        Days on benefit from allocation to the exit or the end of follow-up.
    exits_after_followup : int
        Exits dated after ``followup_end``, which were not counted.
    first_allocation, last_followup_end : str
        ISO dates bounding the follow-up.
    optional : dict
        Optional columns that were present, as arrays (numbers as float, NaN when empty).
    ids : ndarray of str
        The participant column as given.
    allocated, followup_end : ndarray of datetime64[D]
        Allocation and end of follow-up.
    """

    site_labels: NDArray[np.str_]
    site: NDArray[np.intp]
    fip: NDArray[np.bool_]
    exit_code: NDArray[np.str_]
    exited: NDArray[np.bool_]
    pension: NDArray[np.bool_]
    work: NDArray[np.bool_]
    days: NDArray[np.float64]
    exits_after_followup: int
    first_allocation: str
    last_followup_end: str
    optional: dict[str, NDArray[Any]]
    ids: NDArray[np.str_] = field(default_factory=lambda: np.empty(0, dtype=str))
    allocated: NDArray[np.datetime64] = field(
        default_factory=lambda: np.empty(0, dtype="datetime64[D]")
    )
    followup_end: NDArray[np.datetime64] = field(
        default_factory=lambda: np.empty(0, dtype="datetime64[D]")
    )

    @property
    def n(self) -> int:
        return int(self.fip.size)


def _strings(values: Any, name: str) -> NDArray[np.str_]:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"column {name} must be one-dimensional")
    if array.dtype.kind == "U":
        return array
    if array.dtype.kind == "O" or array.dtype.kind not in "SU":
        return np.array(["" if value is None else str(value) for value in array.tolist()])
    return array.astype(str)


def _normalised(values: NDArray[np.str_], normalise: Any) -> NDArray[np.str_]:
    """Apply a string normalisation once per distinct value."""
    inverse, unique = pd.factorize(values)  # hashing, not sorting: fast on 400,000 strings
    cleaned = np.array([normalise(str(value)) for value in unique.tolist()], dtype=str)
    if cleaned.size == 0:
        return values
    return cleaned[inverse]


def _rows(mask: NDArray[np.bool_], limit: int = 5) -> str:
    rows = (np.flatnonzero(mask)[:limit] + 1).tolist()
    more = " ..." if mask.sum() > limit else ""
    return ", ".join(str(row) for row in rows) + more


def _dates(values: Any, name: str, required: bool) -> NDArray[np.datetime64]:
    array = np.asarray(values)
    if array.dtype.kind == "M":
        dates = array.astype("datetime64[D]")
    else:
        text = _normalised(_strings(array, name), str.strip)
        try:
            dates = text.astype("datetime64[D]")
        except ValueError:
            for position, value in enumerate(text.tolist()):
                try:
                    np.datetime64(value, "D")
                except ValueError:
                    raise ValueError(
                        f"column {name}, row {position + 1}: {value!r} is not a date "
                        f"(write YYYY-MM-DD)"
                    ) from None
            raise
    if required and np.any(np.isnat(dates)):
        raise ValueError(f"column {name} is empty in rows {_rows(np.isnat(dates))}")
    return dates


def prepare_participants(data: Columns | Sequence[Mapping[str, Any]]) -> Participants:
    """Check the participant data and derive what the analysis needs.

    Parameters
    ----------
    data : mapping of column name to values, or sequence of row mappings
        The columns of the participant file (see the package README): lists or numpy arrays,
        dates as ISO strings, ``datetime.date`` or ``datetime64``.

    Returns
    -------
    Participants

    Raises
    ------
    ValueError
        For a missing required column, columns of different lengths, an unknown arm, an invalid
        or missing date, a follow-up ending before allocation, an exit before allocation, an
        exit date without code or the reverse, a BUS code that is not in the current list, a
        repeated participant, or an arm without participants.
    """
    if not isinstance(data, Mapping):
        data = columns_from_rows(data)
    columns = {str(name).strip().lower(): values for name, values in data.items()}
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    if missing:
        raise ValueError(f"the participant data lacks the required column(s): {missing}")
    lengths = {name: len(columns[name]) for name in REQUIRED_COLUMNS}
    lengths.update({name: len(columns[name]) for name in OPTIONAL_COLUMNS if name in columns})
    if len(set(lengths.values())) != 1:
        raise ValueError(f"columns differ in length: {lengths}")
    n = lengths["participant"]
    if n == 0:
        raise ValueError("the participant data has no rows")

    # Ids are compared as given (the CSV reader strips them); one sort finds repeats.
    participant = _strings(columns["participant"], "participant")
    unique_ids, counts = np.unique(participant, return_counts=True)
    if unique_ids.size != n:
        repeated = unique_ids[counts > 1][:5].tolist()
        raise ValueError(f"participants appear more than once: {repeated}")
    if unique_ids[0].strip() == "":
        raise ValueError(
            f"column participant is empty in rows {_rows(np.char.strip(participant) == '')}"
        )

    arm = _normalised(_strings(columns["arm"], "arm"), lambda value: value.strip().lower())
    unknown_arm = ~np.isin(arm, ARMS)
    if unknown_arm.any():
        values = sorted(set(arm[unknown_arm].tolist()))[:5]
        raise ValueError(
            f"column arm must be 'fip' or 'control'; found {values} in rows {_rows(unknown_arm)}"
        )
    fip = arm == "fip"
    if fip.all() or not fip.any():
        raise ValueError("both arms, fip and control, need participants")

    site_raw = _normalised(_strings(columns["site"], "site"), str.strip)
    if np.any(site_raw == ""):
        raise ValueError(f"column site is empty in rows {_rows(site_raw == '')}")
    site_labels, site = np.unique(site_raw, return_inverse=True)

    allocated = _dates(columns["allocated_on"], "allocated_on", required=True)
    followup_end = _dates(columns["followup_end"], "followup_end", required=True)
    exit_date = _dates(columns["exit_date"], "exit_date", required=False)
    if np.any(followup_end < allocated):
        raise ValueError(
            f"followup_end lies before allocated_on in rows {_rows(followup_end < allocated)}"
        )

    code = _normalised(_strings(columns["exit_code"], "exit_code"), normalise_code)
    has_date, has_code = ~np.isnat(exit_date), code != ""
    if np.any(has_date != has_code):
        raise ValueError(
            "exit_date and exit_code must be both filled or both empty; they are not in rows "
            f"{_rows(has_date != has_code)}"
        )
    known = np.array(list(termination_categories()), dtype=str)
    unknown_code = has_code & ~np.isin(code, known)
    if unknown_code.any():
        values = sorted(set(code[unknown_code].tolist()))
        raise ValueError(
            f"exit_code holds code(s) {values} that are not current BUS reasons (kenmerk 34) "
            f"(rows {_rows(unknown_code)}); map codes from the 2010 regulation or local codes "
            "explicitly before the analysis"
        )
    early = has_date & (exit_date < allocated)
    if early.any():
        raise ValueError(f"exit_date lies before allocated_on in rows {_rows(early)}")
    late = has_date & (exit_date > followup_end)
    exited = has_date & ~late
    exit_code = np.where(exited, code, "")
    end = np.where(exited, exit_date, followup_end)
    days = (end - allocated).astype("timedelta64[D]").astype(float)

    optional: dict[str, NDArray[Any]] = {}
    for name in OPTIONAL_COLUMNS:
        if name not in columns:
            continue
        raw = np.asarray(columns[name])
        if name in NUMERIC_COLUMNS and raw.dtype.kind in "fiu":
            optional[name] = raw.astype(float)
            continue
        text = _normalised(_strings(raw, name), str.strip)
        if name in NUMERIC_COLUMNS:
            numbers = np.full(n, np.nan)
            filled = (text != "") & (text != "nan")
            try:
                numbers[filled] = text[filled].astype(float)
            except ValueError:
                raise ValueError(f"column {name} must hold numbers") from None
            optional[name] = numbers
        else:
            optional[name] = text

    return Participants(
        site_labels=site_labels,
        site=site.astype(np.intp),
        fip=fip,
        exit_code=exit_code,
        exited=exited,
        pension=exited & (exit_code == PENSION_AGE_CODE),
        work=exited & np.isin(exit_code, WORK_CODES),
        days=days,
        exits_after_followup=int(late.sum()),
        first_allocation=str(allocated.min()),
        last_followup_end=str(followup_end.max()),
        optional=optional,
        ids=participant,
        allocated=allocated,
        followup_end=followup_end,
    )
