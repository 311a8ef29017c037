"""Bodies of the enrolment and outcome imports: the upload, a batch, its outcome events, and
the benefit spells derived from them with their corrections.
"""

from __future__ import annotations

from typing import Any

from flask_smorest.fields import Upload
from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load
from werkzeug.datastructures import FileStorage

from fiptrial.schemas.base import PolicySchema, UtcDateTime

UPLOAD_MESSAGE = "send the export as a multipart upload in the field 'file'"


def _is_upload(value: Any) -> None:
    """A file part with a name: a text field called ``file``, or a file input left empty
    (a part without a filename), is no export."""
    if not isinstance(value, FileStorage) or not value.filename:
        raise ValidationError(UPLOAD_MESSAGE)


class ImportUploadSchema(Schema):
    """The multipart body of an import upload (``api.multipart``: files and text together).

    Other form fields are left out, not refused: a form may send more than the API reads."""

    class Meta:
        unknown = EXCLUDE

    file = Upload(required=True, validate=_is_upload, error_messages={"required": UPLOAD_MESSAGE})
    mapping_version = fields.String(
        metadata={
            "description": "read under this earlier version of the site's reason table "
            "(default: the current one)"
        }
    )

    @post_load
    def _current_by_default(self, data: dict[str, Any], **_kwargs: Any) -> dict[str, Any]:
        """An empty ``mapping_version`` (a form's blank field) means the current version."""
        return {"file": data["file"], "mapping_version": data.get("mapping_version") or None}


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
