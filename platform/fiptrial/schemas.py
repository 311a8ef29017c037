"""Request and response bodies of the JSON API (marshmallow); the OpenAPI document follows."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from fiptrial.models.identity import ROLES
from fiptrial.models.trial import DEFAULT_AGE_BAND_EDGES, DEFAULT_DURATION_BAND_EDGES_MONTHS
from fiptrial.services.consent import CONSENT_DESIGNS, CONSENT_STATUSES
from fiptrial.services.eligibility import STRATIFICATION_FACTORS
from fiptrial.services.participants import BIRTH_REGIONS, EDUCATION_LEVELS, SEXES
from fiptrial.services.randomisation import CORRECTION_KINDS, METHODS

CODE = validate.Regexp(r"^[a-z0-9][a-z0-9_-]{0,39}$", error="use 1-40 of a-z, 0-9, _ and -")


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
    cost_per_benefit_year = fields.Integer(load_default=14000, validate=validate.Range(min=0))
    age_band_edges = fields.List(
        fields.Integer(), load_default=lambda: list(DEFAULT_AGE_BAND_EDGES)
    )
    duration_band_edges_months = fields.List(
        fields.Integer(), load_default=lambda: list(DEFAULT_DURATION_BAND_EDGES_MONTHS)
    )
    start_date = fields.Date(load_default=None)


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
        values=fields.Integer(validate=validate.Range(min=1)),
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


class ParticipantCreateSchema(Schema):
    bsn = fields.String(required=True)
    birth_date = fields.Date(required=True)
    sex = fields.String(required=True, validate=validate.OneOf(SEXES))
    benefit_start = fields.Date(required=True)
    municipality = fields.String(load_default=None)
    education = fields.String(load_default=None, validate=validate.OneOf(EDUCATION_LEVELS))
    country_of_birth_region = fields.String(
        load_default=None, validate=validate.OneOf(BIRTH_REGIONS)
    )
    registered_on = fields.Date(load_default=None)


class ParticipantSchema(Schema):
    id = fields.Integer()
    site = fields.Function(lambda p: p.site.code)
    stratum = fields.String()
    age_band = fields.String()
    benefit_duration_band = fields.String()
    sex = fields.String()
    municipality = fields.String(allow_none=True)
    education = fields.String(allow_none=True)
    country_of_birth_region = fields.String(allow_none=True)
    registered_on = fields.Date()
    eligible = fields.Boolean()
    ineligible_reasons = fields.List(fields.String())


class ParticipantCreatedSchema(Schema):
    id = fields.Integer()
    stratum = fields.String()
    eligible = fields.Boolean()
    ineligible_reasons = fields.List(fields.String())


class ConsentCreateSchema(Schema):
    status = fields.String(required=True, validate=validate.OneOf(CONSENT_STATUSES))
    version = fields.String(required=True)
    date = fields.Date(required=True)


class ConsentEventSchema(Schema):
    id = fields.Integer()
    participant = fields.Integer(attribute="participant_id")
    status = fields.String()
    version = fields.String(attribute="form_version")
    date = fields.Date()
    recorded_by = fields.String()
    recorded_at = fields.DateTime()


class AllocationSchema(Schema):
    id = fields.Integer()
    participant = fields.Integer(attribute="participant_id")
    site = fields.Function(lambda a: a.participant.site.code)
    arm = fields.String()
    stratum = fields.String()
    sequence = fields.Integer()
    method = fields.String()
    status = fields.String()
    allocated_at = fields.DateTime()


class AllocationPageSchema(Schema):
    items = fields.List(fields.Nested(AllocationSchema))
    next = fields.String(allow_none=True)


class PageArgsSchema(Schema):
    after = fields.Integer(load_default=0, validate=validate.Range(min=0))
    limit = fields.Integer(load_default=1000, validate=validate.Range(min=1, max=1000))


class CohortCreateSchema(Schema):
    # Without fip: the site's FIP places, the sum of its client managers' capacities.
    fip = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=0))


class CohortSchema(Schema):
    id = fields.Integer()
    site = fields.Function(lambda c: c.site_code)
    fip = fields.Integer()
    caseload = fields.Integer()
    allocations = fields.List(fields.Nested(AllocationSchema))


class CorrectionCreateSchema(Schema):
    kind = fields.String(
        load_default="randomised_in_error", validate=validate.OneOf(CORRECTION_KINDS)
    )
    reason = fields.String(required=True, validate=validate.Length(min=3, max=2000))


class AuditVerifySchema(Schema):
    ok = fields.Boolean()
    entries = fields.Integer()
    first_broken = fields.Integer()
    problem = fields.String()


class TokenCreateSchema(Schema):
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    site = fields.String(load_default=None)
    user = fields.String(load_default=None)
    label = fields.String(load_default="")
