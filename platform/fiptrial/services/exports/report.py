"""The report on an export: ``fiptrial_analysis`` run on the export's own CSV text.

Always through the text the files hold, exactly as ``python -m fiptrial_analysis report``
reads them, so the report the platform shows and freezes equals the one an analyst computes
from the files. :func:`canonical_json` is the one form in which a report is hashed and stored.
"""

from __future__ import annotations

import json
from typing import Any

from fiptrial.errors import Unprocessable
from fiptrial.services.exports.rows import AnalysisExport


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
    # fiptrial_analysis brings numpy, scipy and pandas (seconds): loaded for a report only.
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
