"""Imports that run in the background while the person who uploaded follows a status page.

A large export takes longer than anyone should stare at a spinning browser tab (or hold a
request open), so the web page, and the API above ``IMPORT_SYNC_MAX_BYTES``, only spool the
upload to ``instance/uploads`` (mode 0700), record an :class:`~fiptrial.models.ImportTask` and
queue its import as a job (:mod:`fiptrial.services.job_queue`). The job runs the ordinary
import service on the spooled file, in its own app context and session: the import stays one
transaction (a failure halfway leaves nothing behind), and the spooled file is deleted when the
task ends, whatever the outcome.

On PostgreSQL the job is a row in procrastinate's queue, recorded in the same transaction as
the task, and any ``fiptrial worker`` process takes it. A worker killed halfway (kill -9, a
deploy) rolls nothing in: its import transaction dies with its connection, and the queue gives
the job to another worker (the spooled file is still there), which runs the import again; an
import that its first worker did commit is found by its SHA-256 and not imported twice. After
:data:`MAX_ATTEMPTS` starts the task fails as interrupted. The status page reads the task's row
and, while the row says queued or running, the job's state in the queue.

On SQLite the job runs in a thread of the web process (enough for development and the demo,
which have no worker). Every transaction there takes the database's write lock (``BEGIN
IMMEDIATE``, see :mod:`fiptrial.database`), which the import holds, so the progress count stays
in this process's memory and the row only records the start and the end; a task still ``queued`` or
``running`` whose row is older than :data:`STALE_AFTER`, and that no thread of this process
works on, lost its process: it is shown as interrupted, and nothing of it was committed.

Progress: the import services call ``progress(rows)`` from inside their transaction; on
PostgreSQL the count goes to the task row through a separate, short connection.
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

from fiptrial.errors import Conflict, NotFound, PlatformError, Unprocessable
from fiptrial.extensions import db
from fiptrial.models import ImportBatch, ImportTask, Site
from fiptrial.services import access, audit, imports, job_queue
from fiptrial.services.access import Principal
from fiptrial.services.imports.common import chosen_mapping, read_chunks, site_plugin
from fiptrial.services.spool import UPLOAD_FOLDER, private_folder
from fiptrial.services.transaction import unit_of_work

log = logging.getLogger(__name__)

KINDS = ("participants", "outcomes")
STALE_AFTER = timedelta(minutes=5)
#: A task whose worker died this many times fails (an export that kills every worker).
MAX_ATTEMPTS = 3
INTERRUPTED = "interrupted"
UNEXPECTED = "the import stopped because of an unexpected error; nothing was saved"
INTERRUPTED_MESSAGE = "the import was interrupted (the worker stopped); nothing was saved"

# SQLite: the tasks that a thread of this process is working on, with the rows read so far.
_live: dict[int, int] = {}
_live_lock = threading.Lock()
#: Queue states of a job that ended without the task recording its end.
JOB_ENDED = ("failed", "cancelled", "aborted")


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
    attempts: int = 0

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed", INTERRUPTED)

    @property
    def retried(self) -> bool:
        """A worker died under the import and another one took it up again."""
        return self.attempts > 1


def upload_folder(app: Flask | None = None) -> Path:
    """``instance/uploads``, created on first use and readable by the platform's user only."""
    return private_folder(app, UPLOAD_FOLDER)


def _spool(stream: BinaryIO, folder: Path, max_bytes: int | None) -> Path:
    """Copy the upload to a private file in ``folder`` without holding it in memory."""
    descriptor, name = tempfile.mkstemp(prefix="import-", suffix=".upload", dir=folder)
    path = Path(name)
    try:
        with os.fdopen(descriptor, "wb") as spool:
            for chunk in read_chunks(stream, max_bytes):
                spool.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def start_import(
    site: Site,
    kind: str,
    stream: BinaryIO,
    *,
    actor: str,
    filename: str = "",
    mapping_version: str | None = None,
) -> int:
    """Spool ``stream``, record the task and queue its import; returns the task's id.

    The caller has checked that ``actor`` may import for ``site``. Raises a 422 naming the
    field ``file`` when the upload exceeds ``IMPORT_MAX_BYTES``. On PostgreSQL the job is
    recorded in the task's transaction (both or neither). Nothing is read from the database
    after the commit: on SQLite that would open a transaction, and with it take the write lock
    that the import's thread is about to need, for the rest of the request.
    """
    if kind not in KINDS:
        raise Unprocessable(
            f"unknown import kind {kind!r}", fields={"kind": [f"must be one of {', '.join(KINDS)}"]}
        )
    if mapping_version:  # a version the site never had: a 422 now, not a failed job later
        chosen_mapping(site_plugin(site), mapping_version)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    queued = job_queue.backend(app) == job_queue.DATABASE
    path = _spool(stream, upload_folder(app), app.config.get("IMPORT_MAX_BYTES"))
    try:
        with unit_of_work():
            task = ImportTask(
                site_id=site.id,
                kind=kind,
                status="queued",
                rows_done=0,
                duplicate=False,
                attempts=0,
                filename=(filename or "")[:255],
                spool_name=path.name,
                mapping_version=mapping_version,
                created_by=actor,
            )
            db.session.add(task)
            db.session.flush()
            task_id = task.id
            if queued:
                task.job_id = job_queue.defer(import_job, task_id=task_id)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    if not queued:
        with _live_lock:
            _live[task_id] = 0
        job_queue.run_in_process(_job_name(task_id), lambda: _run_in_process(task_id))
    return task_id


def _job_name(task_id: int) -> str:
    return f"import-task-{task_id}"


def _run_in_process(task_id: int) -> None:
    try:
        run_task(task_id)
    finally:
        with _live_lock:
            _live.pop(task_id, None)


@job_queue.queue.task(name="fiptrial.import_export", queue=job_queue.IMPORT_QUEUE)
def import_job(task_id: int) -> None:
    """The queue's job: one import task, in a fresh app context of the worker's app."""
    with job_queue.job_app().app_context():
        try:
            run_task(task_id)
        finally:
            db.session.remove()


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
        if not to_database:
            with _live_lock:
                _live[task_id] = rows
        else:
            with db.engine.begin() as connection:
                connection.execute(
                    update(ImportTask)
                    .where(ImportTask.id == task_id)
                    .values(rows_done=rows, updated_at=_now())
                )

    return record


def run_task(task_id: int) -> None:
    """Run one task to its end (the job's body; callable directly).

    A task that has already ended (its first worker recorded the end, then died before the
    queue heard of it) is left as it is. Every start counts in ``attempts``; past
    :data:`MAX_ATTEMPTS` the task fails as interrupted.
    """
    task = db.session.get(ImportTask, task_id)
    if task is None or task.status in ("done", "failed"):
        return
    path = upload_folder() / task.spool_name
    site, kind, actor = task.site, task.kind, task.created_by
    attempt, created_at, mapping_version = (
        (task.attempts or 0) + 1,
        task.created_at,
        task.mapping_version,
    )
    try:
        if attempt > MAX_ATTEMPTS:
            _set(
                task_id,
                status="failed",
                error=INTERRUPTED_MESSAGE,
                error_code="import_interrupted",
            )
            return
        _set(task_id, status="running", attempts=attempt, rows_done=0)
        run = imports.import_participants if kind == "participants" else imports.import_outcomes
        try:
            report = run(
                site,
                path,
                actor=actor,
                progress=_progress_recorder(task_id),
                mapping_version=mapping_version,
            )
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
            earlier = report.get("duplicate_of")
            duplicate = earlier is not None and not (
                attempt > 1 and _own_batch(earlier, actor, created_at)
            )
            _set(
                task_id,
                status="done",
                rows_done=int(report.get("rows") or 0),
                batch_id=earlier if earlier is not None else report["batch"],
                duplicate=duplicate,
            )
    finally:
        path.unlink(missing_ok=True)


def _own_batch(batch_id: int, actor: str, since: datetime) -> bool:
    """Whether the "earlier" batch of a retried import is this task's own: its first worker
    committed the import, then died before recording it."""
    batch = db.session.get(ImportBatch, batch_id)
    return batch is not None and batch.created_by == actor and batch.created_at >= since


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
    """The task as the status page shows it: its row, and for a task that has not recorded an
    end, whether its job is still alive (the queue's state on PostgreSQL; this process's
    thread or a recent row on SQLite)."""
    lost = task.status in ("queued", "running") and _lost(task, now)  # may re-read the row
    status, error, code = task.status, task.error, task.error_code
    if lost:
        status, error, code = INTERRUPTED, INTERRUPTED_MESSAGE, "import_interrupted"
        (upload_folder() / task.spool_name).unlink(missing_ok=True)
    with _live_lock:
        live_rows = _live.get(task.id)
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
        attempts=task.attempts or 0,
    )


def _lost(task: ImportTask, now: datetime | None) -> bool:
    """Whether an open task will never end: its job ended without it (PostgreSQL's queue), or
    no thread works on it and its row is stale (in process)."""
    if task.job_id is not None and job_queue.backend() == job_queue.DATABASE:
        state = job_queue.job_status(task.job_id)
        if state is None:  # succeeded and deleted: the end is in the row by now
            db.session.refresh(task)
            return task.status in ("queued", "running")
        return state in JOB_ENDED
    with _live_lock:
        live = task.id in _live
    return not live and (now or _now()) - task.updated_at > STALE_AFTER


def task_report(state: TaskState) -> dict[str, Any] | None:
    """The report of a finished import (the earlier batch's for a file imported before)."""
    if state.status != "done" or state.batch_id is None:
        return None
    batch = db.session.get(ImportBatch, state.batch_id)
    return None if batch is None else dict(batch.report or {})


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
    """Wait for a task's job; True when the task has ended (for tests, and an operator).

    In process: join this process's thread. On the database's queue: work the queue in this
    process until it is empty (as a worker would), then look at the task.
    """
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if job_queue.backend(app) == job_queue.DATABASE:
        db.session.rollback()
        job_queue.run_worker(app, once=True)
        task = db.session.get(ImportTask, task_id)
        return task is None or describe(task).finished
    thread = job_queue.in_process(_job_name(task_id))
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
