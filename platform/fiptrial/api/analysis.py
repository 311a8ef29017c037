"""/api/v1/trials/{trial}/analysis and /freezes: the trial report and the stored data freezes.

Research admins and analysts only (``analysis.read``): the report pools every site.
"""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint
from marshmallow import Schema, fields

from fiptrial.api.auth import requires
from fiptrial.services import exports, freezes, trials

blp = Blueprint(
    "analysis", __name__, url_prefix="/api/v1", description="Trial report and data freezes"
)


class AnalysisQuerySchema(Schema):
    cutoff = fields.Date(
        load_default=None, metadata={"description": "Data cut-off (default today)."}
    )


class FreezeSchema(Schema):
    id = fields.Integer()
    trial = fields.String()
    cutoff = fields.String()
    participants = fields.Integer()
    export_sha256 = fields.String()
    report_sha256 = fields.String()
    analysis_version = fields.String()
    platform_version = fields.String()
    cost_per_benefit_year = fields.Float()
    created_by = fields.String()
    created_at = fields.String()


@blp.get("/trials/<trial_code>/analysis")
@requires("analysis.read")
@blp.arguments(AnalysisQuerySchema, location="query")
@blp.response(200)
def trial_analysis(query: dict[str, Any], trial_code: str) -> dict[str, Any]:
    """The trial report (fiptrial_analysis JSON) on the current data, plus ``export``: what was
    analysed (trial, cut-off, participants, analysis package version). 422 when the data
    cannot be analysed yet (e.g. an arm without participants)."""
    export = exports.build_export(trials.get_trial(trial_code), query["cutoff"])
    return {**exports.analyse(export), "export": export.describe()}


@blp.get("/trials/<trial_code>/freezes")
@requires("analysis.read")
@blp.response(200, FreezeSchema(many=True))
def trial_freezes(trial_code: str) -> list[dict[str, Any]]:
    """The trial's data freezes, oldest first (hashes and metadata, not the rows)."""
    return [freezes.describe(f) for f in freezes.list_freezes(trials.get_trial(trial_code))]
