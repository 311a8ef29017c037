"""Bodies about participants: registration, consent, allocation (one by one and by cohort),
corrections of an allocation, and the pages of allocations.
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from fiptrial.routing import MAX_ID
from fiptrial.schemas.base import PolicySchema, UtcDateTime
from fiptrial.services import randomisation
from fiptrial.services.consent import CONSENT_STATUSES
from fiptrial.services.participants import BIRTH_REGIONS, EDUCATION_LEVELS, SEXES
from fiptrial.services.randomisation import CORRECTION_KINDS


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
    unit_key = fields.String(
        load_default=None,
        validate=validate.Length(max=40),
        metadata={
            "description": "The benefit's registration number (BUS kenmerk 7), shared by "
            "partners on one benefit: they are randomised as one unit. Stored only as a keyed "
            "pseudonym."
        },
    )


class ParticipantSchema(PolicySchema):
    policy_resource = "participant"

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
    age_at_allocation = fields.Function(
        lambda p: randomisation.age_at_allocation(p),
        allow_none=True,
        metadata={"description": "Age in whole years on the day of allocation; null before."},
    )


class ParticipantCreatedSchema(Schema):
    id = fields.Integer()
    stratum = fields.String()
    eligible = fields.Boolean()
    ineligible_reasons = fields.List(fields.String())


class ConsentCreateSchema(Schema):
    status = fields.String(required=True, validate=validate.OneOf(CONSENT_STATUSES))
    version = fields.String(required=True)
    date = fields.Date(required=True)


class ConsentEventSchema(PolicySchema):
    policy_resource = "consent"

    id = fields.Integer()
    participant = fields.Integer(attribute="participant_id")
    status = fields.String()
    version = fields.String(attribute="form_version")
    date = fields.Date()
    recorded_by = fields.String()
    recorded_at = UtcDateTime()


class AllocationSchema(Schema):
    id = fields.Integer()
    participant = fields.Integer(attribute="participant_id")
    site = fields.Function(lambda a: a.participant.site.code)
    arm = fields.String()
    stratum = fields.String()
    sequence = fields.Integer()
    method = fields.String()
    status = fields.String()
    allocated_at = UtcDateTime()
    unit = fields.Function(
        lambda a: a.unit_allocation.participant_id if a.unit_allocation else a.participant_id,
        metadata={
            "description": "The benefit unit: the participant whose allocation decided the arm "
            "of partners on one benefit (the participant's own number for a unit of one)."
        },
    )
    unit_allocation = fields.Integer(
        attribute="unit_allocation_id",
        allow_none=True,
        metadata={"description": "For a partner allocated with the unit (method 'unit')."},
    )


class AllocationPageSchema(Schema):
    items = fields.List(fields.Nested(AllocationSchema))
    next = fields.String(allow_none=True)


class PageArgsSchema(Schema):
    after = fields.Integer(load_default=0, validate=validate.Range(min=0, max=MAX_ID))
    limit = fields.Integer(load_default=1000, validate=validate.Range(min=1, max=1000))


class CohortCreateSchema(Schema):
    # Without fip: the site's free FIP places (at most one less than the cohort).
    fip = fields.Integer(
        load_default=None, allow_none=True, validate=validate.Range(min=0, max=1_000_000)
    )
    reason = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=2000),
        metadata={"description": "Required for a further cohort at a site (research admin)."},
    )


class CohortSchema(Schema):
    id = fields.Integer()
    # The view answers a dict: a Function reading ``c.site_code`` raised after the commit (500).
    site = fields.String(attribute="site_code")
    fip = fields.Integer()
    caseload = fields.Integer()
    allocations = fields.List(fields.Nested(AllocationSchema))


class CorrectionCreateSchema(Schema):
    kind = fields.String(
        load_default="randomised_in_error", validate=validate.OneOf(CORRECTION_KINDS)
    )
    reason = fields.String(required=True, validate=validate.Length(min=3, max=2000))
