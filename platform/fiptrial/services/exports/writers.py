"""Writing an export: the participant file in CSV, SPSS (.sav) or Stata (.dta), and next to it
the spells file, the codebook, the CONSORT sidecar and the analysis plan.

.sav and .dta carry the same rows as the CSV, with variable and value labels (pyreadstat);
dates are written as numbers with a date format. :func:`export_trial` builds, writes and audits
the disclosure in one transaction.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from fiptrial.errors import field_error
from fiptrial.models import Trial
from fiptrial.plugins.mapping import shared_codes
from fiptrial.services import audit
from fiptrial.services.access import ANALYST
from fiptrial.services.exports.rows import AnalysisExport, build_export
from fiptrial.services.exports.variables import (
    EXPORT_COLUMNS,
    SPELL_VARIABLES,
    VARIABLES,
    Variable,
    codebook_markdown,
    plan_path,
    sidecar_paths,
    spells_path,
)
from fiptrial.services.minimisation import suppress_small_cells
from fiptrial.services.transaction import unit_of_work

FORMATS = ("csv", "sav", "dta")
ARM_CODES = {"fip": 1, "control": 2}
SEX_CODES = {"male": 1, "female": 2}  # as in the BUS files: 1 man, 2 vrouw


#: Where each format counts dates from, and in which unit: dates are written as plain numbers
#: with a date display format, so that a column without any date (nobody exited yet) is still
#: a date variable, not an empty string.
DATE_ENCODING = {
    "dta": (date(1960, 1, 1), 1, "%td"),  # Stata: days since 1960-01-01
    "sav": (date(1582, 10, 14), 86400, "DATE11"),  # SPSS: seconds since 1582-10-14
}
DATE_COLUMNS = ("allocated_on", "followup_end", "exit_date", "start", "end")
BUS_CODE_COLUMNS = ("exit_code", "end_code")
#: Numeric columns with their display widths (digits).
NUMBER_WIDTHS = {
    "participant": 10, "arm": 1, "exit_code": 2, "end_code": 2, "sex": 1,
    "conversations_held": 4, "client_manager": 10, "unit": 10, "age_at_allocation": 3,
    "months_on_benefit_at_allocation": 4, "aow_days_from_allocation": 6, "spell": 3,
    "transfers": 3,
}  # fmt: skip
SCALE_COLUMNS = (
    "conversations_held", "age_at_allocation", "months_on_benefit_at_allocation",
    "aow_days_from_allocation", "transfers",
)  # fmt: skip


def _dataframe(columns: dict[str, list[Any]], fmt: str) -> Any:
    """Columns as a pandas frame for pyreadstat: coded variables numeric, dates numbers."""
    # pandas and pyreadstat load for a Stata or SPSS file only, not with every export.
    import pandas as pd

    epoch, scale, _display = DATE_ENCODING[fmt]

    def numbers(values: Iterable[Any]) -> Any:
        return pd.Series([None if v is None else float(v) for v in values], dtype="float64")

    data: dict[str, Any] = {}
    for name, values in columns.items():
        if name in DATE_COLUMNS:
            data[name] = numbers(None if d is None else (d - epoch).days * scale for d in values)
        elif name == "arm":
            data[name] = numbers(ARM_CODES[v] for v in values)
        elif name == "sex":
            data[name] = numbers(SEX_CODES.get(v) for v in values)
        elif name in BUS_CODE_COLUMNS:
            data[name] = numbers(int(v) if v else None for v in values)
        elif name in NUMBER_WIDTHS:
            data[name] = numbers(values)
        else:
            data[name] = pd.Series(["" if v is None else v for v in values], dtype="object")
    return pd.DataFrame(data, columns=list(columns))


def value_labels(names: Iterable[str] = EXPORT_COLUMNS) -> dict[str, dict[float, str]]:
    """Value labels of the coded variables in .sav and .dta (codes keep their two digits)."""
    bus = {float(code): f"{code} {label}" for code, label in shared_codes().items()}
    labels = {
        "arm": {float(code): arm for arm, code in ARM_CODES.items()},
        "sex": {float(code): sex for sex, code in SEX_CODES.items()},
        **dict.fromkeys(BUS_CODE_COLUMNS, bus),
    }
    return {name: labels[name] for name in names if name in labels}


def _write_statistical(
    columns: dict[str, list[Any]],
    variables: Sequence[Variable],
    path: Path,
    fmt: str,
    file_label: str,
) -> None:
    # Loaded for a Stata or SPSS file only (see _dataframe).
    import pyreadstat

    frame = _dataframe(columns, fmt)
    labels: dict[str, str | None] = {v.name: v.label for v in variables}
    formats = {name: DATE_ENCODING[fmt][2] for name in DATE_COLUMNS if name in columns}
    formats.update(
        {
            name: f"F{width}.0" if fmt == "sav" else f"%{width}.0f"
            for name, width in NUMBER_WIDTHS.items()
            if name in columns
        }
    )
    coded = value_labels(columns)
    if fmt == "sav":
        measures = {name: "nominal" for name in coded}
        measures.update({name: "scale" for name in SCALE_COLUMNS if name in columns})
        pyreadstat.write_sav(
            frame, str(path), file_label=file_label, column_labels=labels,
            variable_value_labels=coded, variable_format=formats, variable_measure=measures,
        )  # fmt: skip
    else:
        pyreadstat.write_dta(
            frame, str(path), file_label=file_label[:80], column_labels=labels,
            variable_value_labels=coded, variable_format=formats,
        )  # fmt: skip


def write_export(export: AnalysisExport, path: Path, fmt: str) -> list[Path]:
    """Write the participant file in ``fmt`` at ``path``, the spells file next to it
    (:func:`spells_path`), the codebook, the CONSORT sidecar and the analysis plan
    (:func:`plan_path`); returns the five paths."""
    if fmt not in FORMATS:
        raise field_error("format", f"must be one of {', '.join(FORMATS)}")
    path = Path(path)
    spells = spells_path(path)
    if fmt == "csv":
        path.write_bytes(export.csv_bytes())
        spells.write_bytes(export.spells_csv_bytes())
    else:
        label = f"FIP trial {export.trial}, cut-off {export.cutoff.isoformat()}"
        participants = {name: [r[name] for r in export.rows] for name in export.columns}
        _write_statistical(participants, VARIABLES, path, fmt, label)
        table = export.spell_table()
        width = len(export.spell_columns)
        by_column = zip(*table, strict=True) if table else ((),) * width
        spell_columns = dict(zip(export.spell_columns, map(list, by_column), strict=True))
        _write_statistical(spell_columns, SPELL_VARIABLES, spells, fmt, f"{label}, spells")
    codebook, consort = sidecar_paths(path)
    codebook.write_text(codebook_markdown(export, path.name), encoding="utf-8")
    consort.write_text(json.dumps(export.consort, indent=1) + "\n", encoding="utf-8")
    written = [path, spells, codebook, consort]
    if export.plan_json is not None:
        plan_path(path).write_text(export.plan_json, encoding="utf-8")
        written.append(plan_path(path))
    return written


def export_trial(
    trial: Trial,
    path: Path,
    fmt: str,
    *,
    actor: str,
    cutoff: date | None = None,
    role: str = ANALYST,
    small_cells: int | None = None,
) -> tuple[AnalysisExport, list[Path]]:
    """Build and write the export of ``trial`` with ``role``'s columns; the disclosure is
    audited (one transaction).

    ``small_cells``: suppress values shared by fewer participants (the analyst role's export,
    ``services.minimisation``)."""
    if fmt not in FORMATS:
        raise field_error("format", f"must be one of {', '.join(FORMATS)}")
    with unit_of_work():
        export = build_export(trial, cutoff, role=role)
        extra: dict[str, Any] = {}
        if small_cells is not None:
            export, suppressed = suppress_small_cells(export, small_cells)
            extra = {"small_cells_below": small_cells, "suppressed": suppressed}
        written = write_export(export, path, fmt)
        audit.record(
            "analysis.exported",
            actor=actor,
            entity="trial",
            entity_id=trial.code,
            data={
                **export.describe(),
                "format": fmt,
                "file": Path(path).name,
                "spells_file": written[1].name,
                "columns": list(export.columns),
                "plan_sha256": export.plan_sha256(),
                **extra,
            },
        )
    return export, written
