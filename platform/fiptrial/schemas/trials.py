"""Bodies of a trial's set-up: the trial with its arms and rules, its sites, consent forms, and
the audit chain's check.
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from fiptrial.models.trial import (
    DEFAULT_AGE_BAND_EDGES,
    DEFAULT_BENEFIT_STATISTIC_CODES,
    DEFAULT_DURATION_BAND_EDGES_MONTHS,
    DEFAULT_MOVE_GAP_DAYS,
)
from fiptrial.schemas.base import CODE
from fiptrial.services.consent import CONSENT_DESIGNS
from fiptrial.services.eligibility import STRATIFICATION_FACTORS
from fiptrial.services.randomisation import METHODS
from fiptrial.services.spells import MAX_MOVE_GAP_DAYS, TRIAL_BENEFIT_CODES


class ArmSchema(Schema):
    code = fields.String(required=True, validate=CODE)
    ratio = fields.Integer(required=True, validate=validate.Range(min=1, max=100))


class TrialCreateSchema(Schema):
    code = fields.String(required=True, validate=CODE)
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    arms = fields.List(
        fields.Nested(ArmSchema),
        load_default=lambda: [{"code": "fip", "ratio": 1}, {"code": "control", "ratio": 4}],
        validate=validate.Length(min=2),
    )
    method = fields.String(load_default="permuted_blocks", validate=validate.OneOf(METHODS))
    block_multipliers = fields.List(
        fields.Integer(validate=validate.Range(min=1, max=10)), load_default=lambda: [1, 2]
    )
    stratify_by = fields.List(
        fields.String(validate=validate.OneOf(STRATIFICATION_FACTORS)),
        load_default=lambda: ["site", "age_band", "benefit_duration_band"],
    )
    minimisation_probability = fields.Float(load_default=0.8)
    consent_design = fields.String(
        load_default="consent_first", validate=validate.OneOf(CONSENT_DESIGNS)
    )
    followup_years = fields.Integer(load_default=3, validate=validate.Range(min=1, max=10))
    cost_per_benefit_year = fields.Integer(
        load_default=14000, validate=validate.Range(min=0, max=10_000_000)
    )
    age_band_edges = fields.List(
        fields.Integer(validate=validate.Range(min=0, max=120)),
        load_default=lambda: list(DEFAULT_AGE_BAND_EDGES),
    )
    duration_band_edges_months = fields.List(
        fields.Integer(validate=validate.Range(min=0, max=1200)),
        load_default=lambda: list(DEFAULT_DURATION_BAND_EDGES_MONTHS),
    )
    start_date = fields.Date(load_default=None)
    move_gap_days = fields.Integer(
        load_default=DEFAULT_MOVE_GAP_DAYS,
        validate=validate.Range(min=0, max=MAX_MOVE_GAP_DAYS),
        metadata={
            "description": "Days between an end with BUS code 32 and a new benefit in another "
            "member municipality within which both are one spell (a move inside the site)."
        },
    )
    benefit_statistic_codes = fields.List(
        # Which codes a trial may study is a rule of services.spells, with its own message.
        fields.String(validate=validate.Length(equal=2)),
        load_default=lambda: list(DEFAULT_BENEFIT_STATISTIC_CODES),
        validate=validate.Length(min=1),
        metadata={
            "description": "BUS statistiekcodes (kenmerk 8) of the benefit in the trial, from "
            + ", ".join(TRIAL_BENEFIT_CODES)
            + "; 01 algemene bijstand by default. Records of other benefits (special "
            "assistance 11/12, Bbz 14) are neither enrolled nor counted as spells."
        },
    )


class SiteSummarySchema(Schema):
    code = fields.String()
    name = fields.String()
    plugin = fields.String()
    municipalities = fields.List(fields.String())
    arm_ratios = fields.Method("ratios")

    def ratios(self, site):  # type: ignore[no-untyped-def]
        return site.ratios()


class TrialSchema(Schema):
    code = fields.String()
    name = fields.String()
    arms = fields.Method("arm_list")
    method = fields.String()
    block_multipliers = fields.List(fields.Integer())
    stratify_by = fields.List(fields.String())
    minimisation_probability = fields.Float()
    consent_design = fields.String()
    followup_years = fields.Integer()
    cost_per_benefit_year = fields.Integer()
    age_band_edges = fields.List(fields.Integer())
    duration_band_edges_months = fields.List(fields.Integer())
    start_date = fields.Date(allow_none=True)
    move_gap_days = fields.Integer()
    benefit_statistic_codes = fields.List(fields.String())
    synthetic = fields.Boolean()
    sites = fields.List(fields.Nested(SiteSummarySchema))

    def arm_list(self, trial):  # type: ignore[no-untyped-def]
        return [{"code": arm.code, "ratio": arm.ratio} for arm in trial.arms]


class SiteCreateSchema(Schema):
    code = fields.String(required=True, validate=CODE)
    name = fields.String(load_default=None, validate=validate.Length(max=200))
    plugin = fields.String(required=True)
    municipalities = fields.List(
        fields.String(validate=validate.Regexp(r"^GM\d{4}$", error="use CBS codes like GM0748")),
        load_default=None,
    )
    arm_ratios = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(validate=validate.Range(min=1, max=100)),
        load_default=None,
    )


class SiteSchema(SiteSummarySchema):
    trial = fields.Function(lambda site: site.trial.code)


class ConsentFormCreateSchema(Schema):
    version = fields.String(required=True, validate=validate.Length(min=1, max=40))
    valid_from = fields.Date(required=True)
    requires_reconsent = fields.Boolean(load_default=False)


class ConsentFormSchema(ConsentFormCreateSchema):
    pass


class AuditVerifySchema(Schema):
    ok = fields.Boolean()
    entries = fields.Integer()
    first_broken = fields.Integer()
    problem = fields.String()
