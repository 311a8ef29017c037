"""The variables of the analysis export, and the codebook that describes them.

One ``Variable`` per column of the participant file and of the spells file: name, label,
definition and values. The SPSS and Stata files take their variable labels from here and the
codebook is written from the same lists, so a column and its description cannot drift apart.
Also the names of the files that go next to an export (spells file, codebook, CONSORT sidecar,
analysis plan), which the codebook names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from fiptrial.plugins.mapping import shared_codes
from fiptrial.services.participants import BIRTH_REGIONS, EDUCATION_LEVELS

if TYPE_CHECKING:  # type only: the rows are built on these variables
    from fiptrial.services.exports.rows import AnalysisExport


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


def analysis_version() -> str:
    """Version of the installed ``fiptrial-analysis`` package (stored with every freeze)."""
    try:
        return metadata.version("fiptrial-analysis")
    except metadata.PackageNotFoundError:
        return "unknown"


# --- The files of an export ----------------------------------------------------------------


def spells_path(path: Path) -> Path:
    """Where the spells file of an export at ``path`` goes: ``export.csv`` ->
    ``export_spells.csv`` (OUT's stem + ``_spells`` + OUT's suffix)."""
    path = Path(path)
    return path.with_name(f"{path.stem}_spells{path.suffix}")


def sidecar_paths(path: Path) -> tuple[Path, Path]:
    """(codebook, CONSORT sidecar) written next to an export at ``path``."""
    stem = path.with_suffix("")
    return stem.with_name(stem.name + ".codebook.md"), stem.with_name(stem.name + ".consort.json")


def plan_path(path: Path) -> Path:
    """Where the analysis plan goes next to an export: ``export.csv`` -> ``export.plan.json``
    (where ``python -m fiptrial_analysis report`` looks for it)."""
    path = Path(path)
    return path.with_name(f"{path.stem}.plan.json")


# --- The codebook ---------------------------------------------------------------------------


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
    lines += [f"| {code} | {label} |" for code, label in shared_codes().items()]
    return "\n".join(lines) + "\n"
