"""Imports that run in the background while the person who uploaded follows a status page.

A large export takes longer than anyone should stare at a spinning browser tab, so the web page
only spools the upload to ``instance/uploads`` (mode 0700), records an
:class:`~fiptrial.models.ImportTask` and starts a thread. The thread runs the ordinary import
service on the spooled file, inside its own app context and session: the import stays one
transaction (a failure halfway leaves nothing behind), and the spooled file is deleted when the
task ends, whatever the outcome.

Progress: the import services call ``progress(rows)`` from inside their transaction. On
PostgreSQL that count and the heartbeat go to the task row through a separate, short
connection. On SQLite every transaction takes the database's write lock (``BEGIN IMMEDIATE``,
see :mod:`fiptrial.database`), which the import holds, so the count stays in this process's
memory and the row only records the start and the end.

A task still ``queued`` or ``running`` whose heartbeat is older than :data:`STALE_AFTER`, and
that no thread of this process is working on, lost its worker (a restart, a killed process):
it is shown as interrupted, and nothing of it was committed.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from flask import Flask, current_app
from sqlalchemy import update

from fiptrial.errors import Conflict, NotFound, PlatformError, Unprocessable, field_error
from fiptrial.extensions import db
from fiptrial.models import ImportTask, Site
from fiptrial.services import access, audit, imports
from fiptrial.services.access import Principal
from fiptrial.services.spool import UPLOAD_FOLDER, private_folder
from fiptrial.services.transaction import unit_of_work

log = logging.getLogger(__name__)

KINDS = ("participants", "outcomes")
STALE_AFTER = timedelta(minutes=5)
CHUNK_BYTES = 1024 * 1024
INTERRUPTED = "interrupted"
UNEXPECTED = "the import stopped because of an unexpected error; nothing was saved"
INTERRUPTED_MESSAGE = "the import was interrupted (the worker stopped); nothing was saved"

# Tasks that a thread of this process is working on, with the rows read so far.
_live: dict[int, int] = {}
_threads: dict[int, threading.Thread] = {}
_live_lock = threading.Lock()


@dataclass(frozen=True)
class TaskState:
    """What the status page shows; ``status`` is ``interrupted`` for a task that lost its
    worker, otherwise the stored one."""

    id: int
    site_code: str
    kind: str
    status: str
    rows_done: int
    batch_id: int | None
    duplicate: bool
    error: str | None
    filename: str
    created_at: datetime
    error_code: str | None = None
    error_params: dict[str, Any] | None = None

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed", INTERRUPTED)


def upload_folder(app: Flask | None = None) -> Path:
    """``instance/uploads``, created on first use and readable by the platform's user only."""
    return private_folder(app, UPLOAD_FOLDER)


def _spool(stream: BinaryIO, folder: Path, max_bytes: int | None) -> Path:
    """Copy the upload to a private file in ``folder`` without holding it in memory."""
    descriptor, name = tempfile.mkstemp(prefix="import-", suffix=".upload", dir=folder)
    path = Path(name)
    try:
        with os.fdopen(descriptor, "wb") as spool:
            size = 0
            while chunk := stream.read(CHUNK_BYTES):
                size += len(chunk)
                if max_bytes is not None and size > max_bytes:
                    raise field_error(
                        "file",
                        f"is larger than {max_bytes // (1024 * 1024)} MB",
                        code="file_too_large",
                        max_mb=max_bytes // (1024 * 1024),
                    )
                spool.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def start_import(site: Site, kind: str, stream: BinaryIO, *, actor: str, filename: str = "") -> int:
    """Spool ``stream``, record the task and start its worker; returns the task's id.

    The caller has checked that ``actor`` may import for ``site``. Raises a 422 naming the
    field ``file`` when the upload exceeds ``IMPORT_MAX_BYTES``. Nothing is read from the
    database after the commit: on SQLite that would open a transaction, and with it take the
    write lock that the worker is about to need, for the rest of the request.
    """
    if kind not in KINDS:
        raise Unprocessable(
            f"unknown import kind {kind!r}", fields={"kind": [f"must be one of {', '.join(KINDS)}"]}
        )
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    path = _spool(stream, upload_folder(app), app.config.get("IMPORT_MAX_BYTES"))
    try:
        with unit_of_work():
            task = ImportTask(
                site_id=site.id,
                kind=kind,
                status="queued",
                rows_done=0,
                duplicate=False,
                filename=(filename or "")[:255],
                spool_name=path.name,
                created_by=actor,
            )
            db.session.add(task)
            db.session.flush()
            task_id = task.id
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    with _live_lock:
        _live[task_id] = 0
        thread = threading.Thread(
            target=_work, args=(app, task_id), daemon=True, name=f"import-task-{task_id}"
        )
        _threads[task_id] = thread
    thread.start()
    return task_id


def _work(app: Flask, task_id: int) -> None:
    with app.app_context():
        try:
            run_task(task_id)
        finally:
            db.session.remove()
            with _live_lock:
                _live.pop(task_id, None)
                _threads.pop(task_id, None)


def _now() -> datetime:
    return datetime.now(UTC)


def _set(task_id: int, **values: Any) -> None:
    """Record a state change of the task in a short transaction of its own."""
    with unit_of_work():
        db.session.execute(
            update(ImportTask).where(ImportTask.id == task_id).values(updated_at=_now(), **values)
        )


def _progress_recorder(task_id: int) -> Callable[[int], None]:
    """Keep the count in memory; on PostgreSQL also in the row, through its own connection
    (never the import's session, whose transaction must stay the import's alone)."""
    to_database = db.engine.dialect.name != "sqlite"

    def record(rows: int) -> None:
        with _live_lock:
            _live[task_id] = rows
        if to_database:
            with db.engine.begin() as connection:
                connection.execute(
                    update(ImportTask)
                    .where(ImportTask.id == task_id)
                    .values(rows_done=rows, updated_at=_now())
                )

    return record


def run_task(task_id: int) -> None:
    """Run one queued task to its end (the worker thread's body; callable directly)."""
    task = db.session.get(ImportTask, task_id)
    if task is None:
        return
    path = upload_folder() / task.spool_name
    site, kind, actor = task.site, task.kind, task.created_by
    try:
        _set(task_id, status="running")
        run = imports.import_participants if kind == "participants" else imports.import_outcomes
        try:
            report = run(site, path, actor=actor, progress=_progress_recorder(task_id))
        except PlatformError as error:
            _set(
                task_id,
                status="failed",
                error=_message(error)[:2000],
                error_code=error.code,
                error_params={
                    k: v for k, v in error.extra.items() if isinstance(v, str | int | float)
                },
            )
        except Exception:
            log.exception("import task %s failed", task_id)
            db.session.rollback()
            _set(task_id, status="failed", error=UNEXPECTED, error_code="import_unexpected")
        else:
            duplicate = report.get("duplicate_of") is not None
            _set(
                task_id,
                status="done",
                rows_done=int(report.get("rows") or 0),
                batch_id=report["duplicate_of"] if duplicate else report["batch"],
                duplicate=duplicate,
            )
    finally:
        path.unlink(missing_ok=True)


def _message(error: PlatformError) -> str:
    """The messages of the ``file`` field when the service names it, else the message."""
    messages = [
        m for name, ms in error.fields.items() for m in ms if name in ("file", "source", "export")
    ]
    return "; ".join(messages) if messages else error.message


def get_task(principal: Principal, site: Site, task_id: int) -> TaskState:
    """A task of ``site`` for someone who may read its imports; 404 for any other task."""
    access.authorise(principal, "import.read")
    access.visible_site(principal, site)
    task = db.session.get(ImportTask, task_id)
    if task is None or task.site_id != site.id:
        raise NotFound(f"import task {task_id} does not exist")
    return describe(task)


def describe(task: ImportTask, now: datetime | None = None) -> TaskState:
    with _live_lock:
        live_rows = _live.get(task.id)
    status, error, code = task.status, task.error, task.error_code
    stale = (now or _now()) - task.updated_at > STALE_AFTER
    if status in ("queued", "running") and live_rows is None and stale:
        status, error, code = INTERRUPTED, INTERRUPTED_MESSAGE, "import_interrupted"
        (upload_folder() / task.spool_name).unlink(missing_ok=True)
    return TaskState(
        id=task.id,
        site_code=task.site.code,
        kind=task.kind,
        status=status,
        rows_done=max(task.rows_done or 0, live_rows or 0),
        batch_id=task.batch_id,
        duplicate=bool(task.duplicate),
        error=error,
        filename=task.filename,
        created_at=task.created_at,
        error_code=code,
        error_params=task.error_params,
    )


def site_tasks(site: Site, limit: int = 5, days: int = 7) -> list[TaskState]:
    """The site's imports of the last ``days`` that have not (yet) led to a report."""
    tasks = (
        db.session.query(ImportTask)
        .filter(
            ImportTask.site_id == site.id,
            ImportTask.status != "done",
            ImportTask.cleared_at.is_(None),
            ImportTask.created_at >= _now() - timedelta(days=days),
        )
        .order_by(ImportTask.id.desc())
        .limit(limit)
        .all()
    )
    return [describe(task) for task in tasks]


def clear_task(principal: Principal, site: Site, task_id: int) -> None:
    """Take a failed or interrupted upload off the site's list (nothing of it was stored);
    the row stays, marked cleared, and the clearing is audited."""
    access.authorise(principal, "import.create")
    state = get_task(principal, site, task_id)
    if not state.finished or state.status == "done":
        raise Conflict("an import that is still running cannot be cleared", code="import_task_open")
    with unit_of_work():
        task = db.session.get_one(ImportTask, task_id)
        task.cleared_at = _now()
        task.cleared_by = principal.actor
        audit.record(
            "import_task.cleared",
            actor=principal.actor,
            entity="import_task",
            entity_id=task_id,
            site=site.code,
            data={"kind": task.kind, "status": state.status},
        )


def wait(task_id: int, timeout: float | None = None) -> bool:
    """Wait for this process's worker of a task; True when it has ended (for tests, the CLI)."""
    with _live_lock:
        thread = _threads.get(task_id)
    if thread is not None:
        thread.join(timeout)
        return not thread.is_alive()
    return True


def remove_stale_uploads(app: Flask | None = None) -> int:
    """Delete the web uploads that no live import task waits for (needs the database)."""
    folder = upload_folder(app)
    names = {path.name for path in folder.iterdir()}
    if not names:
        return 0
    live = set()
    for task in db.session.query(ImportTask).filter(ImportTask.spool_name.in_(sorted(names))):
        if not describe(task).finished:
            live.add(task.spool_name)
    removed = 0
    for name in names - live:
        (folder / name).unlink(missing_ok=True)
        removed += 1
    return removed
