"""Bodies of the FIP conversations: a record with its domains, agreements and interventions,
the planned conversations, a manager's agenda, moves, and notifications.

Free text (notes, agreements) is documented as staying at the site; the field policy keeps it
there.
"""

from __future__ import annotations

from typing import Any

from flask import g
from marshmallow import Schema, fields, validate, validates_schema
from marshmallow import ValidationError as SchemaError

from fiptrial.schemas.base import ID, PolicySchema, UtcDateTime
from fiptrial.services import access
from fiptrial.services.conversations import MISSED_REASONS, RESPONSIBLE


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
