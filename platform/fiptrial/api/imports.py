"""/api/v1/sites/{site}/participant-imports and /outcome-imports; a participant's outcomes
and benefit spells.

Uploads are multipart with the field ``file``. The role check (``requires``) comes before the
file is looked at, so a role that may not import gets 403 whatever it sends. A new import
answers 201 with the report; the same file again answers 200 with a report whose
``duplicate_of`` names the earlier batch (nothing was created).
"""

from __future__ import annotations

from typing import Any

from flask import request
from flask_smorest import Blueprint

from fiptrial.api.auth import principal, requires
from fiptrial.errors import field_error
from fiptrial.extensions import db
from fiptrial.models import ImportBatch, OutcomeEvent, Site
from fiptrial.schemas import (
    ImportBatchSchema,
    OutcomeEventSchema,
    SpellSchema,
)
from fiptrial.services.access import Principal, visible_participant, visible_site
from fiptrial.services.imports import (
    import_outcomes,
    import_participants,
    list_batches,
    participant_outcomes,
)
from fiptrial.services.spells import Spell, participant_spells

blp = Blueprint(
    "imports", __name__, url_prefix="/api/v1", description="Enrolment and outcome imports"
)

UPLOAD_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "mapping_version": {
                            "type": "string",
                            "description": "read under this earlier version of the site's "
                            "reason table (default: the current one)",
                        },
                    },
                    "required": ["file"],
                }
            }
        },
    },
    "responses": {
        "201": {"description": "Imported: the report (counts, rejected lines, unmapped codes)"},
        "200": {"description": "The same file was imported before: duplicate_of names it"},
        "422": {"description": "No file, or a file that cannot be read; nothing changed"},
    },
}


def _site(code: str) -> tuple[Principal, Site]:
    who = principal()
    return who, visible_site(who, db.session.query(Site).filter_by(code=code).one_or_none())


def _upload() -> Any:
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise field_error("file", "send the export as a multipart upload in the field 'file'")
    return upload.stream


def _mapping_version() -> str | None:
    return request.form.get("mapping_version") or None


def _answer(report: dict[str, Any]) -> tuple[dict[str, Any], int]:
    return report, 201 if report["duplicate_of"] is None else 200


@blp.post("/sites/<site_code>/participant-imports")
@requires("import.create")
@blp.doc(**UPLOAD_DOC)
def create_participant_import(site_code: str) -> tuple[dict[str, Any], int]:
    """Register the running benefits of an export as participants."""
    who, site = _site(site_code)
    return _answer(
        import_participants(site, _upload(), actor=who.actor, mapping_version=_mapping_version())
    )


@blp.post("/sites/<site_code>/outcome-imports")
@requires("import.create")
@blp.doc(**UPLOAD_DOC)
def create_outcome_import(site_code: str) -> tuple[dict[str, Any], int]:
    """Import an outcome export: exits, transfers, re-entries and corrections."""
    who, site = _site(site_code)
    return _answer(
        import_outcomes(site, _upload(), actor=who.actor, mapping_version=_mapping_version())
    )


@blp.get("/sites/<site_code>/outcome-imports")
@requires("import.read")
@blp.response(200, ImportBatchSchema(many=True))
def list_outcome_imports(site_code: str) -> list[ImportBatch]:
    """The site's outcome import batches, newest first."""
    _who, site = _site(site_code)
    return list_batches(site, "outcomes")


@blp.get("/participants/<int:participant_id>/outcomes")
@requires("outcome.read")
@blp.response(200, OutcomeEventSchema(many=True))
def list_participant_outcomes(participant_id: int) -> list[OutcomeEvent]:
    """A participant's outcome events, in date order."""
    who = principal()
    return participant_outcomes(visible_participant(who, participant_id))


@blp.get("/participants/<int:participant_id>/spells")
@requires("outcome.read")
@blp.response(200, SpellSchema(many=True))
def list_participant_spells(participant_id: int) -> list[Spell]:
    """A participant's benefit spells, derived from the outcome events: moves inside the site
    merged, re-entries as new spells, each with the corrections that changed its end (in the
    order they were applied) and the events it was derived from."""
    who = principal()
    return participant_spells(visible_participant(who, participant_id))
