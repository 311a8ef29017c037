"""/api/v1/trials/{trial}/analysis and /freezes: the trial report and the stored data freezes.

Research admins and analysts only (``analysis.read``): the report pools every site.
"""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from fiptrial.api.auth import principal, requires
from fiptrial.schemas import (
    AnalysisQuerySchema,
    FreezeSchema,
)
from fiptrial.services import analysis_plans, exports, freezes, trials

blp = Blueprint(
    "analysis", __name__, url_prefix="/api/v1", description="Trial report and data freezes"
)


@blp.get("/trials/<trial_code>/analysis")
@requires("analysis.read")
@blp.arguments(AnalysisQuerySchema, location="query")
@blp.response(200)
def trial_analysis(query: dict[str, Any], trial_code: str) -> dict[str, Any]:
    """The trial report (fiptrial_analysis JSON) on the current data, plus ``export``: what was
    analysed (trial, cut-off, participants, analysis package version). 422 when the data
    cannot be analysed yet (e.g. an arm without participants)."""
    trial = trials.get_trial(trial_code)
    export = exports.build_export(trial, query["cutoff"])
    report = exports.analyse(export)
    analysis_plans.mark_unblinded_report(trial, principal().actor)
    return {**report, "export": export.describe()}


@blp.get("/trials/<trial_code>/freezes")
@requires("analysis.read")
@blp.response(200, FreezeSchema(many=True))
def trial_freezes(trial_code: str) -> list[dict[str, Any]]:
    """The trial's data freezes, oldest first (hashes and metadata, not the rows)."""
    return [freezes.describe(f) for f in freezes.list_freezes(trials.get_trial(trial_code))]
