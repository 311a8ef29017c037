"""The national BUS reasons for ending a benefit (kenmerk 34), as shipped with the package.

Source: Bijlage 1 of the Regeling statistiek Participatiewet, IOAW en IOAZ (BWBR0031830), the
same categories as Table 4.1 of the pilot report. Codes are strings ("03", never 3).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from functools import cache
from importlib import resources

PENSION_AGE_CODE = "03"
WORK_CODES: tuple[str, ...] = ("11", "13")


@dataclass(frozen=True)
class TerminationCategory:
    """One BUS reason for ending a benefit.

    Attributes
    ----------
    bus_code : str
        Two-digit code, e.g. ``"11"``.
    code : str
        Short English name, e.g. ``"employment"``.
    label_nl, label_en : str
        Dutch and English labels.
    group : str
        Coarse grouping (work, household, demographic, ...).
    excluded_from_net_ratio : bool
        True for reasons left out of the net exit ratio (only reaching pension age).
    """

    bus_code: str
    code: str
    label_nl: str
    label_en: str
    group: str
    excluded_from_net_ratio: bool


def read_data_file(name: str) -> str:
    """Text of a CSV file shipped in the package's ``data`` folder."""
    return (resources.files("fiptrial_analysis") / "data" / name).read_text(encoding="utf-8")


@cache
def termination_categories() -> dict[str, TerminationCategory]:
    """The current BUS reasons, keyed by their two-digit code, in the order of the regulation."""
    rows = csv.DictReader(io.StringIO(read_data_file("termination_categories.csv")))
    return {
        row["bus_code"]: TerminationCategory(
            bus_code=row["bus_code"],
            code=row["code"],
            label_nl=row["label_nl"],
            label_en=row["label_en"],
            group=row["group"],
            excluded_from_net_ratio=row["excluded_from_net_ratio"].strip().lower() == "true",
        )
        for row in rows
    }


def normalise_code(raw: str) -> str:
    """Strip a code and restore the leading zero that spreadsheets drop (``"3"`` -> ``"03"``)."""
    code = raw.strip()
    return code.zfill(2) if code.isdigit() and len(code) == 1 else code
