"""The analysis export: one pseudonymised row per allocated participant, the report's input,
and the benefit spells of the same participants.

The participant CSV is exactly the input of ``fiptrial_analysis`` (``python -m
fiptrial_analysis report FILE``); SPSS (.sav) and Stata (.dta) carry the same rows with variable
and value labels. Next to it goes the spells file (``<stem>_spells<suffix>``, one row per benefit
spell, format in ``analysis/README.md``) in the same format, a codebook describing both files
(``<name>.codebook.md``) and the CONSORT counts the files cannot hold (``<name>.consort.json``,
the report's ``--consort`` sidecar).

Rules, all decided here so that the CLI, the API and the data freeze agree:

- Rows: every allocation of the trial made on or before the cut-off, except allocations a
  research admin marked ``randomised_in_error`` (counted in ``excluded_randomised_in_error``).
- Pseudonymisation: the participant is the platform's study number (``participant.id``), the
  client manager the user's number, the benefit unit the study number of its first allocated
  member. Never the HMAC pseudonym, the birth date (the age at allocation in whole years and
  the days from allocation to the first day of the AOW month instead, from which the birth
  day does not follow), a benefit registration number or any free text
  (``models.conversations.SITE_ONLY_COLUMNS``).
- Columns: those the field policy (``services.access.FIELD_POLICY``, resources ``export`` and
  ``export_spells``) grants the role that makes the export. An analyst's export, the data
  freezes and the trial report carry study data only (no sex, education, region of birth or
  municipality per participant); a research admin's export adds them.
- Follow-up ends at the earliest of: allocation plus the trial's ``followup_years``, the data
  cut-off (default today) and a consent withdrawal dated on or before the cut-off. Nothing dated
  after the end of follow-up is exported: no exit, no conversation.
- Spells are derived from the outcome events by :mod:`fiptrial.services.spells` (corrections
  applied in recorded order, moves within the site merged, re-entries opening new spells); the
  file holds the spells overlapping each participant's follow-up, censored at its end.
- The exit (``exit_date``, ``exit_code``) is the end of the participant's first spell in
  follow-up: the first exit, kept for compatibility with the report's input.
"""

from __future__ import annotations

import csv
import io
import json
import operator
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
from fiptrial.models.trial import DEFAULT_BENEFIT_STATISTIC_CODES, DEFAULT_MOVE_GAP_DAYS
from fiptrial.services import audit
from fiptrial.services.access import ANALYST, visible_fields
from fiptrial.services.eligibility import whole_months, whole_years
from fiptrial.services.participants import BIRTH_REGIONS, EDUCATION_LEVELS
from fiptrial.services.spells import (
    SPELL_EVENT_COLUMNS,
    SpellEvent,
    derive_spells,
    in_followup,
)
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
    Variable(
        "unit",
        "Benefit unit",
        "Study number of the unit's first allocated member: partners on one benefit share it "
        "(and their arm). A participant's own number for a unit of one. Cluster on it.",
    ),
    Variable(
        "age_at_allocation",
        "Age at allocation (years)",
        "Age in whole years on the day of allocation.",
    ),
    Variable(
        "months_on_benefit_at_allocation",
        "Months on benefit at allocation",
        "Whole months from the start of the spell running at allocation to the allocation; "
        "empty when the participant was not on benefit that day.",
    ),
    Variable(
        "aow_days_from_allocation",
        "Days from allocation to the AOW month",
        "Days from allocation to the first day of the month in which the participant reaches "
        "the state pension (AOW) age known at allocation (computed at registration from the "
        "AOW table then in force). Month precision on purpose: the exact AOW date would give "
        "the birth date. Censor there for pension age.",
    ),
    Variable(
        "education",
        "Education level",
        "As the site registered or exported it; empty when unknown.",
        ", ".join(EDUCATION_LEVELS),
    ),
    Variable(
        "country_of_birth_region",
        "Region of birth",
        "As the site registered or exported it; empty when unknown.",
        ", ".join(BIRTH_REGIONS),
    ),
)
EXPORT_COLUMNS: tuple[str, ...] = tuple(v.name for v in VARIABLES)

SPELL_VARIABLES: tuple[Variable, ...] = (
    Variable("participant", "Study number", "As in the participant file."),
    Variable("spell", "Spell number", "1, 2, ... in order of start within the participant."),
    Variable(
        "start",
        "First day of the spell",
        "First day on benefit; may lie before allocation (the benefit at allocation).",
    ),
    Variable(
        "end",
        "Last day of the spell",
        "Last day on benefit; empty while the spell runs at the participant's followup_end "
        "(censored there).",
    ),
    Variable(
        "end_code",
        "Reason the spell ended (BUS kenmerk 34)",
        "BUS code of the end; empty when end is empty. A move inside the site is no end.",
        "two-digit BUS code (sav/dta: the code as a number, labelled)",
    ),
    Variable(
        "municipality",
        "Municipality paying the benefit",
        "CBS code of the municipality paying the benefit at the end of the spell (after a move "
        "inside the site, the new one); empty when unknown.",
    ),
    Variable(
        "transfers",
        "Moves inside the site",
        "Moves between member municipalities of the site merged into this spell.",
    ),
)
SPELL_COLUMNS: tuple[str, ...] = tuple(v.name for v in SPELL_VARIABLES)
#: One spell as the export holds it, in SPELL_COLUMNS order.
SpellRow = tuple[int, int, date, date | None, str | None, str | None, int]


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
    spells: list[SpellRow] = field(default_factory=list)
    move_gap_days: int = DEFAULT_MOVE_GAP_DAYS
    benefit_codes: tuple[str, ...] = tuple(DEFAULT_BENEFIT_STATISTIC_CODES)
    #: Whose export this is: its columns are what the field policy grants that role.
    role: str = ANALYST

    @property
    def columns(self) -> tuple[str, ...]:
        allowed = visible_fields(self.role, "export")
        return tuple(name for name in EXPORT_COLUMNS if name in allowed)

    @property
    def spell_columns(self) -> tuple[str, ...]:
        allowed = visible_fields(self.role, "export_spells")
        return tuple(name for name in SPELL_COLUMNS if name in allowed)

    def spell_table(self) -> list[tuple[Any, ...]]:
        """The spells, each reduced to :attr:`spell_columns`."""
        keep = [i for i, name in enumerate(SPELL_COLUMNS) if name in self.spell_columns]
        return [tuple(spell[i] for i in keep) for spell in self.spells]

    #: The trial's analysis plan file (``fiptrial_analysis.plan.PlanFile.to_json``), issue 14.
    plan_json: str | None = None

    def csv_text(self) -> str:
        """Exactly the report's input: comma-separated, ISO dates, empty for missing."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(self.columns)
        values = operator.itemgetter(*self.columns)
        # _csv_value inlined: a function call per cell is a third of the time at 100,000 rows.
        writer.writerows(
            ["" if v is None else v.isoformat() if v.__class__ is date else v for v in values(row)]
            for row in self.rows
        )
        return out.getvalue()

    def csv_bytes(self) -> bytes:
        return self.csv_text().encode("utf-8")

    def spells_csv_text(self) -> str:
        """The spells file (analysis/README.md): comma-separated, ISO dates, empty for missing."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(self.spell_columns)
        writer.writerows(
            ["" if v is None else v.isoformat() if isinstance(v, date) else v for v in spell]
            for spell in self.spell_table()
        )
        return out.getvalue()

    def spells_csv_bytes(self) -> bytes:
        return self.spells_csv_text().encode("utf-8")

    def describe(self) -> dict[str, Any]:
        return {
            "trial": self.trial,
            "cutoff": self.cutoff.isoformat(),
            "participants": len(self.rows),
            "spells": len(self.spells),
            "excluded_randomised_in_error": self.excluded_randomised_in_error,
            "analysis_version": analysis_version(),
        }

    def plan_sha256(self) -> str | None:
        return json.loads(self.plan_json)["sha256"] if self.plan_json else None


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


# --- Building the export ----------------------------------------------------------------------


def _as_date(value: Any) -> date:
    return local_date(value) if isinstance(value, datetime) else value


def _followed_spells(
    pid: int,
    benefit_start: date,
    municipality: str | None,
    events: list[SpellEvent] | None,
    first: date,
    last: date,
) -> tuple[list[SpellRow], date | None]:
    """A participant's spells in follow-up ``[first, last]`` as rows of the spells file, and
    the start of the spell running on ``first`` (the allocation), if any.

    Most participants have no outcome event: their one running spell is written directly,
    which keeps the export of 100,000 participants within half as much again as the export
    of first exits it replaced (bench/bench_spells.py).
    """
    if not events:
        since = benefit_start if benefit_start <= first else None
        if benefit_start > last:
            return [], since
        return [(pid, 1, benefit_start, None, None, municipality, 0)], since
    spells = derive_spells(benefit_start, municipality, events)
    since = next(
        (s.start for s in spells if s.start <= first and (s.end is None or s.end >= first)), None
    )
    rows: list[SpellRow] = [
        (pid, s.number, s.start, s.end, s.end_code, s.municipality, s.transfers)
        for s in in_followup(spells, first, last)
    ]
    return rows, since


def build_export(
    trial: Trial, cutoff: date | None = None, *, role: str = ANALYST
) -> AnalysisExport:
    """Collect the analysis export of ``trial`` at the data cut-off ``cutoff`` (default today),
    with the columns the field policy grants ``role`` (study data only by default).

    Read-only; a handful of set-based queries, whatever the number of participants.
    """
    cutoff = cutoff or local_today()  # allocation days are Dutch days (timezone.local_date)
    if cutoff > local_today():
        raise field_error("cutoff", "lies in the future")
    # Core, not ORM, execution: plain rows, a third cheaper at 100,000 participants.
    execute = db.session.connection().execute
    allocations = execute(
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
            Allocation.id,
            Allocation.unit_allocation_id,
            Participant.birth_date,
            Participant.benefit_start,
            Participant.municipality,
            Participant.pension_age_date,
            Participant.education,
            Participant.country_of_birth_region,
        )
        .join(Participant, Participant.id == Allocation.participant_id)
        .join(Site, Site.id == Participant.site_id)
        .where(Allocation.trial_id == trial.id)
        .order_by(Participant.id)
    )
    people: list[tuple[Any, ...]] = []
    allocated_participant: dict[int, int] = {}  # allocation id -> participant (for units)
    randomised = excluded = 0
    for row in allocations:
        allocated_participant[row[9]] = row[0]
        allocated_on = _as_date(row[3])
        if allocated_on > cutoff:
            continue
        randomised += 1
        if row[4] in EXCLUDED_STATUSES:
            excluded += 1
            continue
        people.append((allocated_on, *row))
    ids = {row[1] for row in people}

    consent_status: dict[int, str] = {}
    withdrawn: dict[int, date] = {}
    for pid, status, day in execute(
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

    events: dict[int, list[SpellEvent]] = defaultdict(list)
    for pid, *event in execute(
        select(OutcomeEvent.participant_id, *SPELL_EVENT_COLUMNS)
        .join(Participant, Participant.id == OutcomeEvent.participant_id)
        .where(Participant.trial_id == trial.id)
        .order_by(OutcomeEvent.id)
    ):
        if pid in ids:
            events[pid].append(SpellEvent._make(event))

    held: dict[int, list[date]] = defaultdict(list)
    for pid, day in execute(
        select(ConversationRecord.participant_id, ConversationRecord.held_on)
        .join(Participant, Participant.id == ConversationRecord.participant_id)
        .where(Participant.trial_id == trial.id, ConversationRecord.status == "held")
    ):
        held[pid].append(day)

    managers: dict[int, int] = {}
    for pid, manager in execute(
        select(CaseloadAssignment.participant_id, CaseloadAssignment.client_manager_id)
        .join(Participant, Participant.id == CaseloadAssignment.participant_id)
        .where(Participant.trial_id == trial.id, CaseloadAssignment.assigned_on <= cutoff)
        .order_by(CaseloadAssignment.assigned_on.desc(), CaseloadAssignment.id.desc())
    ):
        managers[pid] = manager  # the last write is the earliest assignment

    rows: list[dict[str, Any]] = []
    spell_rows: list[SpellRow] = []
    for (start, pid, site, arm, _at, _status, stratum, age_band, duration_band, sex, _id,
         unit_of, birth_date, benefit_start, municipality, pension_date, education,
         birth_region) in people:  # fmt: skip
        end = followup_end(start, trial.followup_years, cutoff, withdrawn.get(pid))
        followed, on_benefit_since = _followed_spells(
            pid, benefit_start, municipality, events.get(pid), start, end
        )
        first = followed[0] if followed else None
        fip = arm == "fip"
        rows.append(
            {
                "participant": pid,
                "site": site,
                "arm": arm,
                "allocated_on": start,
                "followup_end": end,
                "exit_date": first[3] if first else None,
                "exit_code": first[4] if first else None,
                "stratum": stratum,
                "age_band": age_band,
                "benefit_duration_band": duration_band,
                "sex": sex,
                "consent_status": consent_status.get(pid, ""),
                "conversations_held": sum(start <= d <= end for d in held.get(pid, ()))
                if fip
                else 0,
                "client_manager": managers.get(pid) if fip else None,
                "unit": allocated_participant.get(unit_of, pid) if unit_of else pid,
                "age_at_allocation": whole_years(birth_date, start),
                "months_on_benefit_at_allocation": whole_months(on_benefit_since, start)
                if on_benefit_since
                else None,
                "aow_days_from_allocation": (pension_date.replace(day=1) - start).days,
                "education": education,
                "country_of_birth_region": birth_region,
            }
        )
        spell_rows.extend(followed)

    registered = execute(
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
    from fiptrial.services.analysis_plans import plan_file

    return AnalysisExport(
        plan_json=plan_file(trial).to_json(),
        trial=trial.code,
        cutoff=cutoff,
        cost_per_benefit_year=float(trial.cost_per_benefit_year),
        rows=rows,
        consort=consort,
        excluded_randomised_in_error=excluded,
        notes=notes,
        spells=spell_rows,
        move_gap_days=trial.move_gap_days,
        benefit_codes=tuple(trial.benefit_statistic_codes),
        role=role,
    )


# --- The report -------------------------------------------------------------------------------


def report_from_csv(
    csv_text: str,
    *,
    cost_per_benefit_year: float,
    consort: dict[str, Any] | None,
    spells_text: str | None = None,
    plan_json: str | None = None,
) -> dict[str, Any]:
    """Run ``fiptrial_analysis`` on CSV text exactly as its command line would read the files
    (the participant file, the spells file and the plan file next to it).

    Raises :class:`Unprocessable` (422) when the data cannot be analysed, e.g. an arm is empty.
    """
    from fiptrial_analysis import build_report
    from fiptrial_analysis.participants import parse_participants, parse_spells
    from fiptrial_analysis.plan import parse_plan_file

    try:
        return build_report(
            parse_participants(csv_text),
            cost_per_benefit_year=cost_per_benefit_year,
            consort=consort,
            spells=parse_spells(spells_text) if spells_text is not None else None,
            plan=parse_plan_file(plan_json) if plan_json is not None else None,
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
        spells_text=export.spells_csv_text(),
        plan_json=export.plan_json,
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


def spells_path(path: Path) -> Path:
    """Where the spells file of an export at ``path`` goes: ``export.csv`` ->
    ``export_spells.csv`` (OUT's stem + ``_spells`` + OUT's suffix)."""
    path = Path(path)
    return path.with_name(f"{path.stem}_spells{path.suffix}")


def _dataframe(columns: dict[str, list[Any]], fmt: str) -> Any:
    """Columns as a pandas frame for pyreadstat: coded variables numeric, dates numbers."""
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
    bus = {float(code): f"{code} {label}" for code, label in bus_labels().items()}
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


def _variable_table(variables: Sequence[Variable]) -> list[str]:
    lines = ["| variable | label | values | definition |", "| --- | --- | --- | --- |"]
    lines += [f"| {v.name} | {v.label} | {v.values} | {v.definition} |" for v in variables]
    return lines


def codebook_markdown(export: AnalysisExport, name: str = "export.csv") -> str:
    """The codebook of both files: one table row per variable (label, values, definition),
    the rules of the spells, then the BUS codes."""
    spells_name = spells_path(Path(name)).name
    lines = [
        f"# Codebook: analysis export of trial {export.trial}",
        "",
        f"- Data cut-off: {export.cutoff.isoformat()}",
        f"- Participants (rows of {name}): {len(export.rows)}",
        f"- Spells (rows of {spells_name}): {len(export.spells)}",
        f"- Analysis package: fiptrial-analysis {analysis_version()}",
        f"- Cost per benefit-year: EUR {export.cost_per_benefit_year:,.0f}",
        "- Pseudonymised: study numbers only; no BSN, birth date or registration number.",
        *(f"- {note}" for note in export.notes),
        "",
        f"## Participant file: {name}",
        "",
        "One row per allocated participant.",
        "",
        *_variable_table([v for v in VARIABLES if v.name in export.columns]),
        "",
        f"## Spells file: {spells_name}",
        "",
        "One row per benefit spell of the participants above that overlaps their follow-up "
        "(allocated_on to followup_end), sorted by participant and spell.",
        "",
        *_variable_table([v for v in SPELL_VARIABLES if v.name in export.spell_columns]),
        "",
        f"- A move between member municipalities of the site is no end: an end with BUS code "
        f"32 followed within {export.move_gap_days} days by a benefit in another member "
        "municipality is one spell (counted in transfers), whether or not the municipality's "
        "export named the new municipality.",
        "- A re-entry after an end opens the next spell.",
        "- Corrections from later exports are applied, in the order the files were imported.",
        "- Spells that ended before allocation or start after followup_end are left out; a "
        "spell ending after followup_end has an empty end (censored at followup_end).",
        "- exit_date and exit_code of the participant file are end and end_code of spell 1.",
        f"- Only benefits with BUS statistiekcode {', '.join(export.benefit_codes)} are spells "
        "(special assistance and Bbz never).",
        "",
        "## exit_code and end_code: BUS reasons (kenmerk 34)",
        "",
        "| code | label |",
        "| --- | --- |",
    ]
    lines += [f"| {code} | {label} |" for code, label in bus_labels().items()]
    return "\n".join(lines) + "\n"


def sidecar_paths(path: Path) -> tuple[Path, Path]:
    """(codebook, CONSORT sidecar) written next to an export at ``path``."""
    stem = path.with_suffix("")
    return stem.with_name(stem.name + ".codebook.md"), stem.with_name(stem.name + ".consort.json")


def plan_path(path: Path) -> Path:
    """Where the analysis plan goes next to an export: ``export.csv`` -> ``export.plan.json``
    (where ``python -m fiptrial_analysis report`` looks for it)."""
    path = Path(path)
    return path.with_name(f"{path.stem}.plan.json")


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
            from fiptrial.services.minimisation import suppress_small_cells

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


def export_columns(
    rows: Sequence[dict[str, Any]], columns: Sequence[str] = EXPORT_COLUMNS
) -> dict[str, list[str]]:
    """The rows as the CSV reader would give them back (strings), for tests and callers."""
    return {name: [_csv_value(r[name]) for r in rows] for name in columns}
