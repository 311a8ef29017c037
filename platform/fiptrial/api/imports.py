"""/api/v1/sites/{site}/participant-imports and /outcome-imports; a participant's outcomes
and benefit spells.

Uploads are multipart with the field ``file`` (``ImportUploadSchema``). The role check
(``requires``) and then the site come before the file is looked at, so a role that may not
import gets 403, and another site's upload 404, whatever it sends. A file up to
``IMPORT_SYNC_MAX_BYTES`` (``FIPTRIAL_IMPORT_SYNC_MAX_MB``, default 20) is imported in the
request: a new import answers 201 with the report; the same file again answers 200 with a
report whose ``duplicate_of`` names the earlier batch (nothing was created). A larger file is
queued (``services.import_tasks``; a request must not outlive gunicorn's timeout) and answers
202 with the job's status and its URL in ``Location``: ``GET .../import-jobs/<id>`` follows
it to the report.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import current_app, url_for

from fiptrial.api.auth import principal, requires
from fiptrial.api.multipart import LOCATION as MULTIPART
from fiptrial.api.multipart import MultipartBlueprint
from fiptrial.extensions import db
from fiptrial.models import ImportBatch, OutcomeEvent, Site
from fiptrial.schemas import (
    ImportBatchSchema,
    ImportJobSchema,
    ImportUploadSchema,
    OutcomeEventSchema,
    SpellSchema,
)
from fiptrial.services import import_tasks
from fiptrial.services.access import Principal, visible_participant, visible_site
from fiptrial.services.imports import (
    import_outcomes,
    import_participants,
    list_batches,
    participant_outcomes,
)
from fiptrial.services.spells import Spell, participant_spells

blp = MultipartBlueprint(
    "imports", __name__, url_prefix="/api/v1", description="Enrolment and outcome imports"
)

UPLOAD_RESPONSES = {
    "responses": {
        "201": {"description": "Imported: the report (counts, rejected lines, unmapped codes)"},
        "200": {"description": "The same file was imported before: duplicate_of names it"},
        "422": {"description": "No file, or a file that cannot be read; nothing changed"},
    },
}
QUEUED_DOC = {
    "description": "A file above FIPTRIAL_IMPORT_SYNC_MAX_MB (default 20 MB) is queued: the "
    "job's status; Location is its status URL (GET it until finished)",
    "headers": {
        "Location": {"description": "the import job's status URL", "schema": {"type": "string"}}
    },
}


def _site(code: str) -> tuple[Principal, Site]:
    who = principal()
    return who, visible_site(who, db.session.query(Site).filter_by(code=code).one_or_none())


def _size(stream: Any) -> int:
    """The upload's size (werkzeug has it in memory or in a spool file, both seekable)."""
    stream.seek(0, os.SEEK_END)
    size = int(stream.tell())
    stream.seek(0)
    return size


def _job_document(site_code: str, state: import_tasks.TaskState) -> dict[str, Any]:
    report = import_tasks.task_report(state)
    return {
        "id": state.id,
        "site": site_code,
        "kind": state.kind,
        "status": state.status,
        "finished": state.finished,
        "rows_done": state.rows_done,
        "attempts": state.attempts,
        "status_url": url_for("imports.get_import_job", site_code=site_code, task_id=state.id),
        "batch": state.batch_id if report is not None and not state.duplicate else None,
        "duplicate_of": state.batch_id if report is not None and state.duplicate else None,
        "report": report,
        "error_code": state.error_code,
        "error": state.error,
        "created_at": state.created_at,
    }


def _import(
    who: Principal, site: Site, kind: str, body: dict[str, Any]
) -> tuple[dict[str, Any], int, dict[str, str]]:
    site_code, upload, mapping = site.code, body["file"], body["mapping_version"]
    if _size(upload.stream) <= current_app.config["IMPORT_SYNC_MAX_BYTES"]:
        run = import_participants if kind == "participants" else import_outcomes
        report = run(site, upload.stream, actor=who.actor, mapping_version=mapping)
        return report, 201 if report["duplicate_of"] is None else 200, {}
    task_id = import_tasks.start_import(
        site,
        kind,
        upload.stream,
        actor=who.actor,
        filename=upload.filename or "",
        mapping_version=mapping,
    )
    # Built without reading the database again: on SQLite a read would take the write lock
    # that the import's thread needs, until the request ends.
    status_url = url_for("imports.get_import_job", site_code=site_code, task_id=task_id)
    document = {"id": task_id, "site": site_code, "kind": kind, "status": "queued"}
    document |= {"finished": False, "rows_done": 0, "attempts": 0, "status_url": status_url}
    return ImportJobSchema().dump(document), 202, {"Location": status_url}


def _site_first(view: Callable[..., Any]) -> Callable[..., Any]:
    """Find the caller's site before the body is read: another site's upload is a 404
    whatever it sends, as the role check makes a role that may not import a 403. The view
    gets the principal and the site, then the body."""

    @wraps(view)
    def located(site_code: str) -> Any:
        return view(*_site(site_code))

    return located


def _upload_endpoint(path: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare an import upload at ``path``: the one contract of both uploads (the module's
    docstring), so that the two cannot drift apart. ``requires`` sits right under the route,
    as it must, and the site comes next: the role, then the site, then the file
    (``ImportUploadSchema``, read as one multipart body by ``api.multipart``)."""

    def declare(view: Callable[..., Any]) -> Callable[..., Any]:
        view = blp.alt_response(202, schema=ImportJobSchema, success=True, **QUEUED_DOC)(view)
        view = blp.doc(**UPLOAD_RESPONSES)(view)
        view = blp.arguments(ImportUploadSchema, location=MULTIPART)(view)
        return blp.post(path)(requires("import.create")(_site_first(view)))

    return declare


@_upload_endpoint("/sites/<site_code>/participant-imports")
def create_participant_import(
    who: Principal, site: Site, body: dict[str, Any]
) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Register the running benefits of an export as participants."""
    return _import(who, site, "participants", body)


@_upload_endpoint("/sites/<site_code>/outcome-imports")
def create_outcome_import(
    who: Principal, site: Site, body: dict[str, Any]
) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Import an outcome export: exits, transfers, re-entries and corrections."""
    return _import(who, site, "outcomes", body)


@blp.get("/sites/<site_code>/import-jobs/<int:task_id>")
@requires("import.read")
@blp.response(200, ImportJobSchema)
def get_import_job(site_code: str, task_id: int) -> dict[str, Any]:
    """A queued import: queued, running, done (with its batch and report), failed or
    interrupted; ``attempts`` above 1 when a worker died and another took it up again."""
    who, site = _site(site_code)
    return _job_document(site_code, import_tasks.get_task(who, site, task_id))


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
