"""Bodies of the analysis: the data cut-off of a report, and a data freeze."""

from __future__ import annotations

from marshmallow import Schema, fields


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
    spells_sha256 = fields.String(allow_none=True)
    report_sha256 = fields.String()
    analysis_version = fields.String()
    platform_version = fields.String()
    cost_per_benefit_year = fields.Float()
    created_by = fields.String()
    created_at = fields.String()
