"""The analysis export: one pseudonymised row per allocated participant, the report's input.

The CSV is exactly the input of ``fiptrial_analysis`` (``python -m fiptrial_analysis report
FILE``); SPSS (.sav) and Stata (.dta) carry the same rows with variable and value labels. Each
export is written with a codebook (``<name>.codebook.md``) and the CONSORT counts the file
cannot hold (``<name>.consort.json``, the report's ``--consort`` sidecar) next to it.

Rules, all decided here so that the CLI, the API and the data freeze agree:

- Rows: every allocation of the trial made on or before the cut-off, except allocations a
  research admin marked ``randomised_in_error`` (counted in ``excluded_randomised_in_error``).
- Pseudonymisation: the participant is the platform's study number (``participant.id``), the
  client manager the user's number. Never the HMAC pseudonym, the birth date, the municipality
  or any free text (``models.conversations.SITE_ONLY_COLUMNS``).
- Follow-up ends at the earliest of: allocation plus the trial's ``followup_years``, the data
  cut-off (default today) and a consent withdrawal dated on or before the cut-off. Nothing dated
  after the end of follow-up is exported: no exit, no conversation.
- The exit is the first exit within follow-up after replaying the participant's outcome events
  in the order they were recorded: a correction replaces the exit it names (``previous_date`` and
  ``previous_bus_code``) by its own date and code, and a correction without a BUS code turns the
  exit into a move within the site, i.e. no exit. Transfers within the site are never exits; a
  re-entry opens a new benefit spell whose end may be a later exit.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from importlib import metadata, resources
from pathlib import Path
from typing import Any

from sqlalchemy import case, func, select

from fiptrial.errors import Unprocessable, field_error
from fiptrial.extensions import db
from fiptrial.models import (
    Allocation,
    CaseloadAssignment,
    ConsentEvent,
    ConversationRecord,
    OutcomeEvent,
    Participant,
    Site,
    Trial,
)
from fiptrial.services import audit
from fiptrial.services.transaction import unit_of_work
from fiptrial.timezone import local_date, local_today

FORMATS = ("csv", "sav", "dta")
EXCLUDED_STATUSES = ("randomised_in_error",)
ARM_CODES = {"fip": 1, "control": 2}
SEX_CODES = {"male": 1, "female": 2}  # as in the BUS files: 1 man, 2 vrouw


@dataclass(frozen=True)
class Variable:
    """One column of the export, as the codebook describes it."""

    name: str
    label: str
    definition: str
    values: str = ""


VARIABLES: tuple[Variable, ...] = (
    Variable(
        "participant",
        "Study number",
        "The platform's participant number; not the pseudonym, never a BSN.",
    ),
    Variable("site", "Randomisation site", "Code of the site (municipality or service)."),
    Variable(
        "arm",
        "Allocated arm",
        "Arm of allocation (intention to treat).",
        "fip; control (sav/dta: 1 = fip, 2 = control)",
    ),
    Variable("allocated_on", "Date of allocation", "Date the participant was randomised."),
    Variable(
        "followup_end",
        "End of follow-up",
        "Earliest of allocation + the trial's follow-up years, the data cut-off and the "
        "date consent was withdrawn.",
    ),
    Variable(
        "exit_date",
        "Date the benefit ended",
        "First exit within follow-up after applying corrections; empty while on benefit. "
        "Transfers within the site are not exits.",
    ),
    Variable(
        "exit_code",
        "Reason the benefit ended (BUS kenmerk 34)",
        "BUS code of that exit; empty while on benefit.",
        "two-digit BUS code (sav/dta: the code as a number, labelled)",
    ),
    Variable("stratum", "Randomisation stratum", "Stratum key used by the randomisation."),
    Variable("age_band", "Age band at registration", "Age band at registration."),
    Variable(
        "benefit_duration_band",
        "Benefit duration band at registration",
        "Months on benefit at registration, banded.",
    ),
    Variable("sex", "Sex", "Sex as registered.", "male; female (sav/dta: 1 = male, 2 = female)"),
    Variable(
        "consent_status",
        "Consent status at the cut-off",
        "Last consent event dated on or before the cut-off; withdrawn is final.",
        "given; declined; withdrawn; empty when none (Zelen control)",
    ),
    Variable(
        "conversations_held",
        "FIP conversations held",
        "Conversations recorded as held between allocation and the end of follow-up; 0 in control.",
    ),
    Variable(
        "client_manager",
        "Client manager number",
        "Number of the participant's first client manager (the FIP cluster); empty in "
        "control and when not yet assigned. A number, never a name.",
    ),
)
EXPORT_COLUMNS: tuple[str, ...] = tuple(v.name for v in VARIABLES)


@cache
def bus_labels() -> dict[str, str]:
    """BUS code -> English label, from the platform's own copy of the national list."""
    text = (
        resources.files("fiptrial.data")
        .joinpath("termination_categories.csv")
        .read_text(encoding="utf-8")
    )
    return {row["bus_code"]: row["label_en"] for row in csv.DictReader(io.StringIO(text))}


def analysis_version() -> str:
    """Version of the installed ``fiptrial-analysis`` package (stored with every freeze)."""
    try:
        return metadata.version("fiptrial-analysis")
    except metadata.PackageNotFoundError:
        return "unknown"


@dataclass(frozen=True)
class AnalysisExport:
    """The rows of one export (values as the CSV writes them) and what goes next to them."""

    trial: str
    cutoff: date
    cost_per_benefit_year: float
    rows: list[dict[str, Any]]
    consort: dict[str, Any]
    excluded_randomised_in_error: int = 0
    notes: list[str] = field(default_factory=list)

    def csv_text(self) -> str:
        """Exactly the report's input: comma-separated, ISO dates, empty for missing."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(EXPORT_COLUMNS)
        for row in self.rows:
            writer.writerow([_csv_value(row[name]) for name in EXPORT_COLUMNS])
        return out.getvalue()

    def csv_bytes(self) -> bytes:
        return self.csv_text().encode("utf-8")

    def describe(self) -> dict[str, Any]:
        return {
            "trial": self.trial,
            "cutoff": self.cutoff.isoformat(),
            "participants": len(self.rows),
            "excluded_randomised_in_error": self.excluded_randomised_in_error,
            "analysis_version": analysis_version(),
        }


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


# --- The rules --------------------------------------------------------------------------------


def add_years(day: date, years: int) -> date:
    """``day`` plus whole years; 29 February becomes 28 February in a common year."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def followup_end(
    allocated_on: date, followup_years: int, cutoff: date, withdrawn_on: date | None
) -> date:
    """End of a participant's follow-up (never before the allocation itself)."""
    end = min(add_years(allocated_on, followup_years), cutoff)
    if withdrawn_on is not None:
        end = min(end, withdrawn_on)
    return max(end, allocated_on)


#: (kind, event_date, bus_code, previous_date, previous_bus_code), in the order recorded.
EventRow = tuple[str, date, str | None, date | None, str | None]


def _corrected_exit(exits: list[list[Any] | None], current: int | None, previous: list[Any]
                    ) -> int | None:  # fmt: skip
    """Index of the exit a correction names (the current one first); else the current exit."""
    candidates = ([current] if current is not None else []) + list(range(len(exits)))
    return next((i for i in candidates if exits[i] == previous), current)


def resolve_exits(events: Iterable[EventRow]) -> list[tuple[date, str]]:
    """Replay outcome events in recorded order; the exits that stand, sorted by date.

    A correction replaces the exit whose date and code it names as ``previous_*`` (the current
    exit if none matches, as the importer corrects the current spell); with a NULL BUS code it
    removes that exit. A correction with nothing to correct and a code stands as an exit.
    """
    exits: list[list[Any] | None] = []
    current: int | None = None
    for kind, day, bus, previous_date, previous_bus in events:
        if kind == "exit" and bus is not None:
            exits.append([day, bus])
            current = len(exits) - 1
        elif kind == "reentry":
            current = None
        elif kind == "correction":
            target = _corrected_exit(exits, current, [previous_date, previous_bus])
            if target is None or exits[target] is None:
                if bus is not None:
                    exits.append([day, bus])
                    current = len(exits) - 1
            elif bus is None:
                exits[target] = None
                current = None if target == current else current
            else:
                exits[target] = [day, bus]
    return sorted((e[0], e[1]) for e in exits if e is not None)


def first_exit(
    events: Iterable[EventRow], start: date, end: date
) -> tuple[date, str] | tuple[None, None]:
    """The first exit dated within ``[start, end]``, or (None, None)."""
    for day, code in resolve_exits(events):
        if start <= day <= end:
            return day, code
    return None, None


# --- Building the export ----------------------------------------------------------------------


def _as_date(value: Any) -> date:
    return local_date(value) if isinstance(value, datetime) else value


def build_export(trial: Trial, cutoff: date | None = None) -> AnalysisExport:
    """Collect the analysis export of ``trial`` at the data cut-off ``cutoff`` (default today).

    Read-only; a handful of set-based queries, whatever the number of participants.
    """
    cutoff = cutoff or local_today()  # allocation days are Dutch days (timezone.local_date)
    if cutoff > local_today():
        raise field_error("cutoff", "lies in the future")
    allocations = db.session.execute(
        select(
            Participant.id,
            Site.code,
            Allocation.arm,
            Allocation.allocated_at,
            Allocation.status,
            Participant.stratum,
            Participant.age_band,
            Participant.benefit_duration_band,
            Participant.sex,
        )
        .join(Participant, Participant.id == Allocation.participant_id)
        .join(Site, Site.id == Participant.site_id)
        .where(Allocation.trial_id == trial.id)
        .order_by(Participant.id)
    )
    people: list[tuple[Any, ...]] = []
    randomised = excluded = 0
    for row in allocations:
        if _as_date(row[3]) > cutoff:
            continue
        randomised += 1
        if row[4] in EXCLUDED_STATUSES:
            excluded += 1
            continue
        people.append(row)
    ids = {row[0] for row in people}

    consent_status: dict[int, str] = {}
    withdrawn: dict[int, date] = {}
    for pid, status, day in db.session.execute(
        select(ConsentEvent.participant_id, ConsentEvent.status, ConsentEvent.date)
        .join(Participant, Participant.id == ConsentEvent.participant_id)
        .where(Participant.trial_id == trial.id, ConsentEvent.date <= cutoff)
        .order_by(ConsentEvent.id)
    ):
        if pid in withdrawn:
            continue  # a withdrawal is final
        consent_status[pid] = status
        if status == "withdrawn":
            withdrawn[pid] = day

    events: dict[int, list[EventRow]] = defaultdict(list)
    for pid, *event in db.session.execute(
        select(
            OutcomeEvent.participant_id,
            OutcomeEvent.kind,
            OutcomeEvent.event_date,
            OutcomeEvent.bus_code,
            OutcomeEvent.previous_date,
            OutcomeEvent.previous_bus_code,
        )
        .join(Participant, Participant.id == OutcomeEvent.participant_id)
        .where(Participant.trial_id == trial.id)
        .order_by(OutcomeEvent.id)
    ):
        if pid in ids:
            events[pid].append(tuple(event))  # type: ignore[arg-type]

    held: dict[int, list[date]] = defaultdict(list)
    for pid, day in db.session.execute(
        select(ConversationRecord.participant_id, ConversationRecord.held_on)
        .join(Participant, Participant.id == ConversationRecord.participant_id)
        .where(Participant.trial_id == trial.id, ConversationRecord.status == "held")
    ):
        held[pid].append(day)

    managers: dict[int, int] = {}
    for pid, manager in db.session.execute(
        select(CaseloadAssignment.participant_id, CaseloadAssignment.client_manager_id)
        .join(Participant, Participant.id == CaseloadAssignment.participant_id)
        .where(Participant.trial_id == trial.id, CaseloadAssignment.assigned_on <= cutoff)
        .order_by(CaseloadAssignment.assigned_on.desc(), CaseloadAssignment.id.desc())
    ):
        managers[pid] = manager  # the last write is the earliest assignment

    rows: list[dict[str, Any]] = []
    for pid, site, arm, allocated_at, _status, stratum, age_band, duration_band, sex in people:
        start = _as_date(allocated_at)
        end = followup_end(start, trial.followup_years, cutoff, withdrawn.get(pid))
        exit_date, exit_code = first_exit(events.get(pid, ()), start, end)
        fip = arm == "fip"
        rows.append(
            {
                "participant": pid,
                "site": site,
                "arm": arm,
                "allocated_on": start,
                "followup_end": end,
                "exit_date": exit_date,
                "exit_code": exit_code,
                "stratum": stratum,
                "age_band": age_band,
                "benefit_duration_band": duration_band,
                "sex": sex,
                "consent_status": consent_status.get(pid, ""),
                "conversations_held": sum(start <= d <= end for d in held.get(pid, ()))
                if fip
                else 0,
                "client_manager": managers.get(pid) if fip else None,
            }
        )

    registered = db.session.execute(
        select(func.count(), func.sum(case((Participant.eligible.is_(True), 1), else_=0))).where(
            Participant.trial_id == trial.id, Participant.registered_on <= cutoff
        )
    ).one()
    consort = {
        "assessed": int(registered[0] or 0),
        "eligible": int(registered[1] or 0),
        "randomised": randomised,
    }
    notes = []
    if excluded:
        notes.append(
            f"{excluded} allocation(s) marked randomised_in_error are left out of the rows; "
            "'randomised' in the CONSORT sidecar still counts them."
        )
    return AnalysisExport(
        trial=trial.code,
        cutoff=cutoff,
        cost_per_benefit_year=float(trial.cost_per_benefit_year),
        rows=rows,
        consort=consort,
        excluded_randomised_in_error=excluded,
        notes=notes,
    )


# --- The report -------------------------------------------------------------------------------


def report_from_csv(
    csv_text: str, *, cost_per_benefit_year: float, consort: dict[str, Any] | None
) -> dict[str, Any]:
    """Run ``fiptrial_analysis`` on CSV text exactly as its command line would read the file.

    Raises :class:`Unprocessable` (422) when the data cannot be analysed, e.g. an arm is empty.
    """
    from fiptrial_analysis import build_report
    from fiptrial_analysis.participants import parse_participants

    try:
        return build_report(
            parse_participants(csv_text),
            cost_per_benefit_year=cost_per_benefit_year,
            consort=consort,
        )
    except ValueError as error:
        raise Unprocessable(
            f"the report cannot be computed: {error}", code="analysis_not_possible"
        ) from None


def analyse(export: AnalysisExport) -> dict[str, Any]:
    """The report on an export (always through its CSV text, so it equals the CLI's report)."""
    return report_from_csv(
        export.csv_text(),
        cost_per_benefit_year=export.cost_per_benefit_year,
        consort=export.consort,
    )


def canonical_json(value: Any) -> str:
    """The one JSON form that is hashed and stored (sorted keys, no NaN)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)  # fmt: skip


# --- Writing ----------------------------------------------------------------------------------


#: Where each format counts dates from, and in which unit: dates are written as plain numbers
#: with a date display format, so that a column without any date (nobody exited yet) is still
#: a date variable, not an empty string.
DATE_ENCODING = {
    "dta": (date(1960, 1, 1), 1, "%td"),  # Stata: days since 1960-01-01
    "sav": (date(1582, 10, 14), 86400, "DATE11"),  # SPSS: seconds since 1582-10-14
}
DATE_COLUMNS = ("allocated_on", "followup_end", "exit_date")


def _dataframe(export: AnalysisExport, fmt: str) -> Any:
    """The rows as a pandas frame for pyreadstat: coded variables numeric, dates numbers."""
    import pandas as pd

    epoch, scale, _display = DATE_ENCODING[fmt]
    rows = export.rows

    def numbers(values: Iterable[Any]) -> Any:
        return pd.Series([None if v is None else float(v) for v in values], dtype="float64")

    def column(name: str) -> list[Any]:
        return [r[name] for r in rows]

    data: dict[str, Any] = {}
    for name in EXPORT_COLUMNS:
        values = column(name)
        if name in DATE_COLUMNS:
            data[name] = numbers(None if d is None else (d - epoch).days * scale for d in values)
        elif name == "arm":
            data[name] = numbers(ARM_CODES[v] for v in values)
        elif name == "sex":
            data[name] = numbers(SEX_CODES.get(v) for v in values)
        elif name == "exit_code":
            data[name] = numbers(int(v) if v else None for v in values)
        elif name in ("participant", "conversations_held", "client_manager"):
            data[name] = numbers(values)
        else:
            data[name] = pd.Series(values, dtype="object")
    return pd.DataFrame(data, columns=list(EXPORT_COLUMNS))


def value_labels() -> dict[str, dict[float, str]]:
    """Value labels of the coded variables in .sav and .dta (codes keep their two digits)."""
    return {
        "arm": {float(code): arm for arm, code in ARM_CODES.items()},
        "sex": {float(code): sex for sex, code in SEX_CODES.items()},
        "exit_code": {float(code): f"{code} {label}" for code, label in bus_labels().items()},
    }


def _write_statistical(export: AnalysisExport, path: Path, fmt: str) -> None:
    import pyreadstat

    frame = _dataframe(export, fmt)
    labels: dict[str, str | None] = {v.name: v.label for v in VARIABLES}
    file_label = f"FIP trial {export.trial}, cut-off {export.cutoff.isoformat()}"
    formats = {name: DATE_ENCODING[fmt][2] for name in DATE_COLUMNS}
    widths = {"participant": 10, "arm": 1, "exit_code": 2, "sex": 1, "conversations_held": 4,
              "client_manager": 10}  # fmt: skip
    formats.update(
        {name: f"F{width}.0" if fmt == "sav" else f"%{width}.0f" for name, width in widths.items()}
    )
    if fmt == "sav":
        pyreadstat.write_sav(
            frame, str(path), file_label=file_label, column_labels=labels,
            variable_value_labels=value_labels(), variable_format=formats,
            variable_measure={"arm": "nominal", "sex": "nominal", "exit_code": "nominal",
                              "conversations_held": "scale"},
        )  # fmt: skip
    else:
        pyreadstat.write_dta(
            frame, str(path), file_label=file_label[:80], column_labels=labels,
            variable_value_labels=value_labels(), variable_format=formats,
        )  # fmt: skip


def codebook_markdown(export: AnalysisExport) -> str:
    """The codebook: one table row per variable (label, values, definition), then the codes."""
    lines = [
        f"# Codebook: analysis export of trial {export.trial}",
        "",
        f"- Data cut-off: {export.cutoff.isoformat()}",
        f"- Participants (rows): {len(export.rows)}",
        f"- Analysis package: fiptrial-analysis {analysis_version()}",
        f"- Cost per benefit-year: EUR {export.cost_per_benefit_year:,.0f}",
        "- One row per allocated participant; pseudonymised (study numbers only).",
        *(f"- {note}" for note in export.notes),
        "",
        "| variable | label | values | definition |",
        "| --- | --- | --- | --- |",
    ]
    for v in VARIABLES:
        lines.append(f"| {v.name} | {v.label} | {v.values} | {v.definition} |")
    lines += ["", "## exit_code: BUS reasons (kenmerk 34)", "", "| code | label |", "| --- | --- |"]
    lines += [f"| {code} | {label} |" for code, label in bus_labels().items()]
    return "\n".join(lines) + "\n"


def sidecar_paths(path: Path) -> tuple[Path, Path]:
    """(codebook, CONSORT sidecar) written next to an export at ``path``."""
    stem = path.with_suffix("")
    return stem.with_name(stem.name + ".codebook.md"), stem.with_name(stem.name + ".consort.json")


def write_export(export: AnalysisExport, path: Path, fmt: str) -> list[Path]:
    """Write the export in ``fmt`` with its codebook and CONSORT sidecar; returns the paths."""
    if fmt not in FORMATS:
        raise field_error("format", f"must be one of {', '.join(FORMATS)}")
    path = Path(path)
    if fmt == "csv":
        path.write_bytes(export.csv_bytes())
    else:
        _write_statistical(export, path, fmt)
    codebook, consort = sidecar_paths(path)
    codebook.write_text(codebook_markdown(export), encoding="utf-8")
    consort.write_text(json.dumps(export.consort, indent=1) + "\n", encoding="utf-8")
    return [path, codebook, consort]


def export_trial(
    trial: Trial, path: Path, fmt: str, *, actor: str, cutoff: date | None = None
) -> tuple[AnalysisExport, list[Path]]:
    """Build and write the export of ``trial``; the disclosure is audited (one transaction)."""
    if fmt not in FORMATS:
        raise field_error("format", f"must be one of {', '.join(FORMATS)}")
    with unit_of_work():
        export = build_export(trial, cutoff)
        written = write_export(export, path, fmt)
        audit.record(
            "analysis.exported",
            actor=actor,
            entity="trial",
            entity_id=trial.code,
            data={**export.describe(), "format": fmt, "file": Path(path).name},
        )
    return export, written


def export_columns(rows: Sequence[dict[str, Any]]) -> dict[str, list[str]]:
    """The rows as the CSV reader would give them back (strings), for tests and callers."""
    return {name: [_csv_value(r[name]) for r in rows] for name in EXPORT_COLUMNS}
