"""The analysis export: one pseudonymised row per allocated participant, the report's input,
and the benefit spells of the same participants.

The participant CSV is exactly the input of ``fiptrial_analysis`` (``python -m
fiptrial_analysis report FILE``); SPSS (.sav) and Stata (.dta) carry the same rows with variable
and value labels. Next to it goes the spells file (``<stem>_spells<suffix>``, one row per benefit
spell, format in ``analysis/README.md``) in the same format, a codebook describing both files
(``<name>.codebook.md``) and the CONSORT counts the files cannot hold (``<name>.consort.json``,
the report's ``--consort`` sidecar).

The package, bottom up:

- ``variables``: the columns of both files (label, definition, values), the codebook written
  from them, the names of the files next to an export;
- ``rows``: the rules of the export (who is in it, which columns, follow-up, spells) and
  ``build_export``, which applies them;
- ``report``: the analysis report on an export, through its CSV text;
- ``writers``: the files in CSV, SPSS or Stata, and ``export_trial`` (build, write, audit).

Callers use the names re-exported here (``exports.build_export``, ``exports.analyse``, ...).
"""

from fiptrial.services.exports.report import analyse, canonical_json, report_from_csv
from fiptrial.services.exports.rows import (
    EXCLUDED_STATUSES,
    AnalysisExport,
    add_years,
    build_export,
    followup_end,
)
from fiptrial.services.exports.variables import (
    EXPORT_COLUMNS,
    SPELL_COLUMNS,
    SPELL_VARIABLES,
    VARIABLES,
    SpellRow,
    Variable,
    analysis_version,
    codebook_markdown,
    plan_path,
    sidecar_paths,
    spells_path,
)
from fiptrial.services.exports.writers import (
    ARM_CODES,
    FORMATS,
    SEX_CODES,
    export_trial,
    value_labels,
    write_export,
)

__all__ = [
    "ARM_CODES",
    "EXCLUDED_STATUSES",
    "EXPORT_COLUMNS",
    "FORMATS",
    "SEX_CODES",
    "SPELL_COLUMNS",
    "SPELL_VARIABLES",
    "VARIABLES",
    "AnalysisExport",
    "SpellRow",
    "Variable",
    "add_years",
    "analyse",
    "analysis_version",
    "build_export",
    "canonical_json",
    "codebook_markdown",
    "export_trial",
    "followup_end",
    "plan_path",
    "report_from_csv",
    "sidecar_paths",
    "spells_path",
    "value_labels",
    "write_export",
]
