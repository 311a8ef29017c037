"""Writing the template's generic BUS-coded CSV: synthetic exports for the demo and the tests.

The inverse of :mod:`fiptrial_plugin_template.reader`: the rows a reader would return, written
as ``bsn;geboortedatum;...`` with dates as jjjjmmdd, geslacht as the BUS codes 1 and 2, and the
optional columns (new municipality, benefit registration number, statistiekcode) always present.
A municipality that copies the template changes this writer together with its reader.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import date
from typing import BinaryIO

from fiptrial.plugins import ExportRow
from fiptrial_plugin_template.reader import COLUMNS, OPTIONAL_COLUMNS

GENERAL_ASSISTANCE = "01"


def _ymd(day: date | None) -> str:
    return f"{day.year:04d}{day.month:02d}{day.day:02d}" if day else ""


def write_rows(rows: Iterable[ExportRow], out: BinaryIO, encoding: str = "utf-8") -> int:
    """Write normalised rows in the template's format; returns the number of rows written."""
    text = io.TextIOWrapper(out, encoding=encoding, newline="")
    written = 0
    try:
        writer = csv.writer(text, delimiter=";", lineterminator="\n")
        writer.writerow(COLUMNS + OPTIONAL_COLUMNS)
        for row in rows:
            writer.writerow(
                (
                    row.bsn,
                    _ymd(row.birth_date),
                    "1" if row.sex == "male" else "2",
                    row.municipality or "",
                    _ymd(row.benefit_start),
                    _ymd(row.benefit_end),
                    row.local_reason or "",
                    row.new_municipality or "",
                    row.unit_key or "",
                    row.statistic_code or GENERAL_ASSISTANCE,
                )
            )
            written += 1
    finally:
        text.flush()
        text.detach()  # the caller owns ``out``
    return written
