"""Request and response bodies of the JSON API (marshmallow); the OpenAPI document follows.

Response bodies about participants derive from :class:`PolicySchema`: whatever the view hands
them, they dump only the fields ``services.access.FIELD_POLICY`` grants the caller's role.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from flask import g
from marshmallow import INCLUDE, Schema, fields, post_dump, validate, validates_schema
from marshmallow import ValidationError as SchemaError

from fiptrial.models.trial import (
    DEFAULT_AGE_BAND_EDGES,
    DEFAULT_BENEFIT_STATISTIC_CODES,
    DEFAULT_DURATION_BAND_EDGES_MONTHS,
    DEFAULT_MOVE_GAP_DAYS,
)
from fiptrial.routing import MAX_ID
from fiptrial.services import access, randomisation
from fiptrial.services.consent import CONSENT_DESIGNS, CONSENT_STATUSES
from fiptrial.services.conversations import MISSED_REASONS, RESPONSIBLE
from fiptrial.services.eligibility import STRATIFICATION_FACTORS
from fiptrial.services.participants import BIRTH_REGIONS, EDUCATION_LEVELS, SEXES
from fiptrial.services.randomisation import CORRECTION_KINDS, METHODS
from fiptrial.services.spells import MAX_MOVE_GAP_DAYS, TRIAL_BENEFIT_CODES

ID = validate.Range(min=1, max=MAX_ID)


class UtcDateTime(fields.DateTime):
    """A moment as RFC 3339 with its offset: SQLite hands back stored UTC moments without one."""

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> Any:
        if isinstance(value, datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return super()._serialize(value, attr, obj, **kwargs)


class ErrorDetailSchema(Schema):
    """What went wrong; some errors add their parameters (e.g. ``existing_id``)."""

    class Meta:
        unknown = INCLUDE  # documented as open: errors add their parameters

    code = fields.String(required=True, metadata={"description": "What is wrong, for programs."})
    status = fields.Integer(required=True)
    message = fields.String(required=True, metadata={"description": "In English, for people."})
    fields_ = fields.Dict(
        data_key="fields",
        keys=fields.String(),
        values=fields.List(fields.String()),
        required=True,
        metadata={"description": "Per offending field (dotted path), what is wrong with it."},
    )


class ErrorSchema(Schema):
    """The body of every error answer of the API."""

    error = fields.Nested(ErrorDetailSchema, required=True)


class PolicySchema(Schema):
    """A response body that shows only what the field policy grants the request's principal.

    Fails closed: outside a request with a principal nothing is dumped but an error.
    """

    policy_resource: ClassVar[str]

    @post_dump
    def _apply_field_policy(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        who = g.get("principal")
        if who is None:
            raise RuntimeError(f"{type(self).__name__} dumps only for a known principal")
        return access.redact(who, self.policy_resource, data)


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


class AuditVerifySchema(Schema):
    ok = fields.Boolean()
    entries = fields.Integer()
    first_broken = fields.Integer()
    problem = fields.String()


# --- FIP conversations, agendas and plans ---------------------------------------------------------


class DomainSchema(Schema):
    domain = fields.String(required=True)
    moved_forward = fields.Boolean(load_default=None, allow_none=True)


class AgreementCreateSchema(Schema):
    description = fields.String(
        required=True,
        validate=validate.Length(min=1, max=2000),
        metadata={"description": "free text: stays at the site"},
    )
    responsible = fields.String(load_default="client", validate=validate.OneOf(RESPONSIBLE))
    due_on = fields.Date(load_default=None, allow_none=True)


class FollowupSchema(Schema):
    agreement_id = fields.Integer(required=True, validate=ID)
    kept = fields.Boolean(required=True)


class InterventionStartSchema(Schema):
    type = fields.String(required=True)
    provider = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))
    start = fields.Date(required=True)
    end = fields.Date(load_default=None, allow_none=True)


class InterventionEndSchema(Schema):
    intervention_id = fields.Integer(required=True, validate=ID)
    end = fields.Date(required=True)


class ConversationCreateSchema(Schema):
    date = fields.Date(required=True)
    status = fields.String(load_default="held", validate=validate.OneOf(["held", "missed"]))
    planned_conversation_id = fields.Integer(load_default=None, allow_none=True, validate=ID)
    duration_minutes = fields.Integer(
        load_default=None, allow_none=True, validate=validate.Range(min=1, max=480)
    )
    missed_reason = fields.String(
        load_default=None, allow_none=True, validate=validate.OneOf(MISSED_REASONS)
    )
    domains = fields.List(fields.Nested(DomainSchema), load_default=list)
    agreements = fields.List(fields.Nested(AgreementCreateSchema), load_default=list)
    agreement_followups = fields.List(fields.Nested(FollowupSchema), load_default=list)
    interventions_started = fields.List(fields.Nested(InterventionStartSchema), load_default=list)
    interventions_ended = fields.List(fields.Nested(InterventionEndSchema), load_default=list)
    notes = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=4000),
        metadata={"description": "free text: stays at the site"},
    )


class AgreementSchema(PolicySchema):
    policy_resource = "agreement"

    id = fields.Integer()
    description = fields.String()
    responsible = fields.String()
    due_on = fields.Date(allow_none=True)
    kept = fields.Boolean(allow_none=True)
    followup_record_id = fields.Integer(allow_none=True)


class ConversationSchema(PolicySchema):
    policy_resource = "conversation"

    id = fields.Integer()
    participant_id = fields.Integer()
    client_manager_id = fields.Integer(allow_none=True)
    planned_conversation_id = fields.Integer(allow_none=True)
    date = fields.Date(attribute="held_on")
    status = fields.String()
    duration_minutes = fields.Integer(allow_none=True)
    missed_reason = fields.String(allow_none=True)
    domains = fields.List(fields.Nested(DomainSchema))
    agreements = fields.List(fields.Nested(AgreementSchema))
    notes = fields.String(allow_none=True)


class PlannedConversationSchema(Schema):
    id = fields.Integer()
    participant_id = fields.Integer()
    client_manager_id = fields.Integer()
    sequence = fields.Integer()
    date = fields.Date(attribute="planned_date")
    minutes = fields.Integer()
    status = fields.String()


class AgendaArgsSchema(Schema):
    from_ = fields.Date(data_key="from", load_default=None)
    to = fields.Date(load_default=None)

    @validates_schema
    def check_range(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("from_") and data.get("to") and data["to"] < data["from_"]:
            raise SchemaError("must not lie before from", field_name="to")


class MoveSchema(Schema):
    sequence = fields.Integer(required=True, validate=validate.Range(min=1, max=10_000))
    date = fields.Date(required=True)


class NotificationSchema(PolicySchema):
    policy_resource = "notification"

    id = fields.Integer()
    kind = fields.String()
    title = fields.String()
    data = fields.Method("visible_data")
    created_at = UtcDateTime()

    def visible_data(self, notification: Any) -> dict[str, Any]:
        return access.redact(g.principal, "notification_data", dict(notification.data or {}))


# --- Enrolment and outcome imports ----------------------------------------------------------------


class ImportBatchSchema(Schema):
    id = fields.Integer()
    kind = fields.String()
    file_sha256 = fields.String()
    plugin = fields.String()
    plugin_version = fields.String()
    mapping_version = fields.String()
    rows = fields.Integer()
    report = fields.Dict()
    created_by = fields.String()
    created_at = UtcDateTime()


class OutcomeEventSchema(Schema):
    id = fields.Integer()
    participant_id = fields.Integer()
    kind = fields.String()
    event_date = fields.Date()
    bus_code = fields.String(allow_none=True)
    local_code = fields.String()
    new_municipality = fields.String(allow_none=True)
    previous_date = fields.Date(allow_none=True)
    previous_bus_code = fields.String(allow_none=True)
    previous_local_code = fields.String(allow_none=True)
    mapping_version = fields.String()
    batch_id = fields.Integer()
    line = fields.Integer()
    created_at = UtcDateTime()


class SpellCorrectionSchema(Schema):
    event = fields.Integer()
    previous_end = fields.Date(allow_none=True)
    previous_code = fields.String(allow_none=True)
    end = fields.Date(allow_none=True)
    code = fields.String(allow_none=True)
    to_move = fields.Boolean(metadata={"description": "The end turned out to be a move."})


class SpellSchema(PolicySchema):
    policy_resource = "spell"

    spell = fields.Integer(attribute="number")
    start = fields.Date()
    end = fields.Date(allow_none=True)
    end_code = fields.String(allow_none=True)
    municipality = fields.String(allow_none=True)
    transfers = fields.Integer()
    events = fields.List(fields.Integer())
    corrections = fields.List(fields.Nested(SpellCorrectionSchema))


# --- Analysis and data freezes --------------------------------------------------------------------


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


# --- Issue 16 (privacy): the read log --------------------------------------------------------


class ReadLogArgsSchema(Schema):
    actor = fields.String(load_default="", validate=validate.Length(max=80))
    action = fields.String(load_default="", validate=validate.Length(max=60))
    participant_id = fields.Integer(load_default=None, validate=ID)
    site = fields.String(load_default="", validate=validate.Length(max=40))
    since = fields.DateTime(load_default=None)
    until = fields.DateTime(load_default=None)
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    page_size = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))


class ReadLogEntrySchema(Schema):
    id = fields.Integer()
    recorded_at = UtcDateTime()
    actor = fields.String()
    role = fields.String()
    action = fields.String()
    channel = fields.String()
    endpoint = fields.String()
    path = fields.String()
    query = fields.Dict()
    status = fields.Integer()
    site = fields.String(allow_none=True)
    participants = fields.Integer()
    participant_ids = fields.List(fields.Integer())


class ReadLogPageSchema(Schema):
    entries = fields.List(fields.Nested(ReadLogEntrySchema))
    total = fields.Integer()
    page = fields.Integer()
    pages = fields.Integer()


class ImportJobSchema(Schema):
    """A queued import (an API upload above ``IMPORT_SYNC_MAX_BYTES``): where it stands.

    ``status``: queued, running, done, failed, or interrupted (its worker stopped and no other
    finished it; nothing was saved). ``attempts`` above 1: a worker died and another took the
    import up again. Once done, ``batch`` and ``report`` are the import's (for a file imported
    before, ``duplicate_of`` names the earlier batch, as the 200 of a direct upload does)."""

    id = fields.Integer()
    site = fields.String()
    kind = fields.String()
    status = fields.String()
    finished = fields.Boolean()
    rows_done = fields.Integer()
    attempts = fields.Integer()
    status_url = fields.String()
    batch = fields.Integer(allow_none=True)
    duplicate_of = fields.Integer(allow_none=True)
    report = fields.Dict(allow_none=True)
    error_code = fields.String(allow_none=True)
    error = fields.String(allow_none=True)
    created_at = UtcDateTime()
