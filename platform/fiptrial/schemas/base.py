"""What every body of the API builds on: ids and codes, moments in UTC, the error body, and
:class:`PolicySchema`.

Response bodies about participants derive from :class:`PolicySchema`: whatever the view hands
them, they dump only the fields ``services.access.FIELD_POLICY`` grants the caller's role.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from flask import g
from marshmallow import INCLUDE, Schema, fields, post_dump, validate

from fiptrial.routing import MAX_ID
from fiptrial.services import access

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
