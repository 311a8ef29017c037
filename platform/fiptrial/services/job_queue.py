"""The job queue: background work (the imports) as jobs kept in the database.

On PostgreSQL the queue is procrastinate's (tables ``procrastinate_*``, created by migration
0017_job_queue): a web or API request records its job in its own transaction (the job's row
commits or rolls back with the request's rows, see :func:`defer`), and any number of
``fiptrial worker`` processes, on any host that reaches the database and the shared instance
folder, take the jobs (``SELECT ... FOR UPDATE SKIP LOCKED`` inside procrastinate). Each worker
beats a heartbeat into ``procrastinate_workers``; a job whose worker stopped beating (kill -9,
a lost host) is put back in the queue by :func:`retry_stalled_jobs`, a periodic task of every
worker, and taken by another worker. The jobs must therefore be safe to run twice: an import
is one transaction and deduplicates on the file's SHA-256 (see ``services.import_tasks``).

On SQLite (development, the demo) there is no queue to share: the same job functions run in a
thread of the process that deferred them (:data:`PROCESS`).

The scheduled jobs stay APScheduler's (``fiptrial.scheduler``): they already live in a
database job store, run under one leader with a standby, and record every run per period;
putting them on this queue would duplicate that bookkeeping for no gain.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import procrastinate
from flask import Flask, current_app
from procrastinate.job_context import JobContext
from sqlalchemy.engine import make_url

from fiptrial.extensions import db

log = logging.getLogger(__name__)

#: Jobs in procrastinate's tables (PostgreSQL), taken by ``fiptrial worker`` processes.
DATABASE = "database"
#: Jobs run in a thread of the process that deferred them (SQLite).
PROCESS = "process"
IMPORT_QUEUE = "imports"
#: How often every worker looks for jobs of stalled workers (cron, with seconds).
STALLED_CHECK_CRON = "* * * * * */10"

# The connector is replaced by the worker's own (see run_worker); a request never opens it:
# it defers and reads through its session's connection.
queue = procrastinate.App(
    connector=procrastinate.PsycopgConnector(),
    import_paths=["fiptrial.services.import_tasks"],
)

# The Flask app whose context each job runs in (set by run_worker, or by the process backend).
_job_app: dict[str, Flask] = {}
_threads: dict[str, threading.Thread] = {}
_threads_lock = threading.Lock()


def backend(app: Flask | None = None) -> str:
    """``JOB_QUEUE`` (``auto``: the database's queue on PostgreSQL, else in process)."""
    config = (app or current_app).config
    setting = config.get("JOB_QUEUE") or "auto"
    if setting in (DATABASE, PROCESS):
        return str(setting)
    url = make_url(config["SQLALCHEMY_DATABASE_URI"])
    return DATABASE if url.get_backend_name() == "postgresql" else PROCESS


def conninfo(app: Flask) -> str:
    """The libpq address of the platform's database, for procrastinate's own pool."""
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"]).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def _session_connection() -> Any:
    """The psycopg connection under the session's transaction (opening it if need be)."""
    return db.session.connection().connection.driver_connection


def defer(task: procrastinate.tasks.Task[Any, Any, Any], **arguments: Any) -> int:
    """Record a job in the session's current transaction; its id.

    The job becomes visible to the workers when the caller commits, together with the rows
    it works on; a rollback takes it away. Only for the :data:`DATABASE` backend.
    """
    deferrer = task.configure(connection=_session_connection())
    return int(deferrer.defer(**arguments))


def job_status(job_id: int) -> str | None:
    """The job's state in the queue (``todo``, ``doing``, ``succeeded``, ``failed``,
    ``cancelled``, ``aborted``), read through the session's connection; None when the job
    is gone (succeeded jobs are deleted)."""
    try:
        status = queue.job_manager.get_job_status(job_id, connection=_session_connection())
    except TypeError:  # no row: procrastinate reads None["status"]
        return None
    return str(status.value)


def run_in_process(name: str, work: Callable[[], None]) -> None:
    """The :data:`PROCESS` backend: run ``work`` in a thread inside this process's app."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]

    def body() -> None:
        with app.app_context():
            try:
                work()
            finally:
                db.session.remove()
                with _threads_lock:
                    _threads.pop(name, None)

    thread = threading.Thread(target=body, daemon=True, name=name)
    with _threads_lock:
        _threads[name] = thread
    thread.start()


def in_process(name: str) -> threading.Thread | None:
    """The thread of this process that runs the job called ``name``, if any."""
    with _threads_lock:
        return _threads.get(name)


def job_app() -> Flask:
    """The Flask app a job runs in: the worker's (a fresh app context per job)."""
    return _job_app["app"]


def stalled_seconds(app: Flask) -> float:
    return float(app.config.get("JOB_STALLED_SECONDS") or 60)


def run_worker(
    app: Flask, *, once: bool = False, name: str | None = None, concurrency: int = 1
) -> None:
    """Take jobs until stopped (SIGINT/SIGTERM: the running job is finished first).

    ``once``: take the jobs waiting now, then return (tests, maintenance). The heartbeat is
    beaten four times per ``JOB_STALLED_SECONDS``; a worker silent for longer is stalled.
    """
    _job_app["app"] = app
    stalled = stalled_seconds(app)
    connector = procrastinate.PsycopgConnector(
        conninfo=conninfo(app), min_size=1, max_size=concurrency + 2
    )
    with queue.replace_connector(connector):
        queue.run_worker(
            name=name,
            concurrency=concurrency,
            wait=not once,
            install_signal_handlers=not once,
            listen_notify=not once,
            fetch_job_polling_interval=1.0 if once else 5.0,
            update_heartbeat_interval=stalled / 4,
            stalled_worker_timeout=stalled,
            delete_jobs="successful",
            additional_context={"stalled_seconds": stalled},
        )


@queue.periodic(cron=STALLED_CHECK_CRON)
@queue.task(
    name="fiptrial.retry_stalled_jobs", queueing_lock="retry_stalled_jobs", pass_context=True
)
async def retry_stalled_jobs(context: JobContext, timestamp: int) -> int:
    """Put the jobs of workers without a recent heartbeat back in the queue."""
    seconds = float(context.additional_context.get("stalled_seconds", 60))
    stalled = await queue.job_manager.get_stalled_jobs(seconds_since_heartbeat=seconds)
    count = 0
    for job in stalled:
        log.warning("job %s (%s) lost its worker; queued again", job.id, job.task_name)
        await queue.job_manager.retry_job(job)
        count += 1
    return count
