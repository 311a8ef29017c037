"""Bodies of the read log (privacy): who read which participant's data, and when."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from fiptrial.schemas.base import ID, UtcDateTime


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
