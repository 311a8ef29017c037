"""Minimisation: only what the analysis needs leaves the platform, and no small cells for analysts.

What never leaves at all is settled where the data are shaped: the analysis export and the
API carry ages and bands, never a birth date (``services.exports``, ``schemas``), and no BSN,
pseudonym or site-only free text. What this module adds is small-cell suppression for the
analyst role: in an analyst's export every value of a quasi-identifying column that fewer than
``SMALL_CELL_THRESHOLD`` (default 5) participants share is blanked, so a rare education level,
region of birth, age, site or client manager cannot single anybody out. The file's notes (and
so its codebook) say per column how many values were suppressed; research admins get the
export as it is. Suppression is per column (univariate), the usual first line of statistical
disclosure control; combinations are left to the approval (``services.approvals``).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import TYPE_CHECKING, Any

from flask import current_app

if TYPE_CHECKING:  # the export calls this module; the class only types the arguments
    from fiptrial.services.exports import AnalysisExport

DEFAULT_THRESHOLD = 5
#: Columns of the participant file that could single someone out when a value is rare.
QUASI_IDENTIFIERS = (
    "site",
    "age_at_allocation",
    "age_band",
    "sex",
    "education",
    "country_of_birth_region",
    "client_manager",
)
#: The spells file's tuple position of the municipality (services.exports.SPELL_COLUMNS).
SPELL_MUNICIPALITY = 5


def threshold() -> int:
    return int(current_app.config.get("SMALL_CELL_THRESHOLD", DEFAULT_THRESHOLD))


def small_values(values: list[Any], k: int) -> set[Any]:
    counts = Counter(v for v in values if v not in (None, ""))
    return {value for value, n in counts.items() if n < k}


def suppress_small_cells(
    export: AnalysisExport, k: int | None = None
) -> tuple[AnalysisExport, dict[str, int]]:
    """A copy of ``export`` with every small cell of the quasi-identifiers blanked; and per
    column, how many values were blanked."""
    k = threshold() if k is None else k
    suppressed: dict[str, int] = {}
    rows = [dict(row) for row in export.rows]
    for column in QUASI_IDENTIFIERS:
        if not rows or column not in rows[0]:
            continue
        rare = small_values([row[column] for row in rows], k)
        if not rare:
            continue
        count = 0
        for row in rows:
            if row[column] in rare:
                row[column] = None
                count += 1
        suppressed[column] = count
    spells = list(export.spells)
    rare_places = small_values([spell[SPELL_MUNICIPALITY] for spell in spells], k)
    if rare_places:
        blanked = 0
        for index, spell in enumerate(spells):
            if spell[SPELL_MUNICIPALITY] in rare_places:
                pid, number, start, end, code, _place, transfers = spell
                spells[index] = (pid, number, start, end, code, None, transfers)
                blanked += 1
        suppressed["spells.municipality"] = blanked
    note = (
        f"Small cells suppressed for the analyst role: values shared by fewer than {k} "
        "participants are empty"
        + (
            ": " + ", ".join(f"{c} {n}" for c, n in sorted(suppressed.items()))
            if suppressed
            else " (none were)"
        )
        + "."
    )
    minimised = dataclasses.replace(export, rows=rows, spells=spells, notes=[*export.notes, note])
    return minimised, suppressed
