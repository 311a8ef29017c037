"""The scheduler process: take the database lock, then let APScheduler run the stored jobs.

APScheduler 3.x: a ``BlockingScheduler`` with a ``SQLAlchemyJobStore`` in the platform
database (table ``apscheduler_jobs``, created by migration 0002_conversations) and one worker
thread, so jobs never overlap. Jobs are stored as text references
(``fiptrial.scheduler.runner:scheduled``) with plain arguments, never pickled functions.

A second scheduler waits for the lock and runs nothing meanwhile; when the holder dies, the
lock is freed (PostgreSQL: with its connection; SQLite: the heartbeat goes stale) and the
standby takes over. Every few minutes, and at start, :func:`reconcile_jobs` brings the stored
jobs in line with the trials' configuration: changed triggers are replaced, jobs of removed
sites or trials removed, so nothing stays queued on an old plan.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from flask import Flask

from fiptrial.extensions import db
from fiptrial.scheduler import jobs
from fiptrial.scheduler.lock import HEARTBEAT_SECONDS, DatabaseLock, scheduler_lock

log = logging.getLogger(__name__)

JOBSTORE_TABLE = "apscheduler_jobs"
RECONCILE_JOB = "reconcile_jobs"
RECONCILE_MINUTES = 5
STANDBY_POLL_SECONDS = 5

# The scheduler process's app and scheduler, for the job callables APScheduler looks up.
_state: dict[str, Any] = {}


def scheduled(job_id: str) -> None:
    """What APScheduler calls: run one job inside the app, recorded (see ``jobs.execute``)."""
    app: Flask = _state["app"]
    with app.app_context():
        try:
            result = jobs.run_job(job_id)
            log.info("job %s: %s", job_id, result)
        finally:
            db.session.remove()


def reconcile() -> None:
    app: Flask = _state["app"]
    with app.app_context():
        try:
            reconcile_jobs(_state["scheduler"])
        finally:
            db.session.remove()


def cron_trigger(spec: jobs.JobSpec) -> CronTrigger:
    return CronTrigger(timezone=jobs.TIMEZONE, **spec.trigger)


def reconcile_jobs(scheduler: BaseScheduler) -> dict[str, int]:
    """Make the stored jobs equal to :func:`jobs.desired_jobs` (call in an app context)."""
    desired = {spec.id: spec for spec in jobs.desired_jobs()}
    # End the session's transaction first: on SQLite every transaction holds the write lock
    # (BEGIN IMMEDIATE), and the job store writes through a connection of its own.
    db.session.rollback()
    added = replaced = removed = 0
    for job in scheduler.get_jobs():
        if job.id != RECONCILE_JOB and job.id not in desired:
            scheduler.remove_job(job.id)
            removed += 1
    for job_id, spec in desired.items():
        trigger = cron_trigger(spec)
        existing = scheduler.get_job(job_id)
        if existing is not None and repr(existing.trigger) == repr(trigger):
            continue
        scheduler.add_job(
            "fiptrial.scheduler.runner:scheduled",
            trigger=trigger,
            args=[job_id],
            id=job_id,
            name=spec.description,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=6 * 3600,
        )
        if existing is None:
            added += 1
        else:
            replaced += 1
    return {"added": added, "replaced": replaced, "removed": removed}


def make_scheduler(
    app: Flask,
    scheduler_class: type[BaseScheduler] = BlockingScheduler,
) -> BaseScheduler:
    with app.app_context():
        engine = db.engine
    return scheduler_class(
        jobstores={"default": SQLAlchemyJobStore(engine=engine, tablename=JOBSTORE_TABLE)},
        executors={"default": ThreadPoolExecutor(1)},
        job_defaults={"coalesce": True, "max_instances": 1},
        timezone=jobs.TIMEZONE,
    )


def _keep_lock(lock: DatabaseLock, scheduler: BaseScheduler, stop: threading.Event) -> None:
    """Heartbeat; if the lock is ever lost, stop scheduling at once."""
    while not stop.wait(HEARTBEAT_SECONDS):
        if not lock.still_held():
            log.error("scheduler lock lost; stopping")
            scheduler.shutdown(wait=False)
            return


def run_scheduler(
    app: Flask, *, once: bool = False, for_seconds: float | None = None
) -> dict[str, Any]:
    """Hold the lock and run jobs until stopped; ``once`` runs every job now and returns."""
    deadline = time.monotonic() + for_seconds if for_seconds else None
    with app.app_context():
        lock = scheduler_lock(db.engine)
        db.session.remove()
    while not lock.acquire():
        if once or (deadline is not None and time.monotonic() >= deadline):
            return {
                "holder": lock.holder,
                "ran": False,
                "reason": "another scheduler holds the lock",
            }
        time.sleep(STANDBY_POLL_SECONDS)
    try:
        with app.app_context():
            interrupted = jobs.mark_interrupted_runs()
            if once:
                results = [jobs.execute(spec) for spec in jobs.desired_jobs()]
                db.session.remove()
                return {
                    "holder": lock.holder,
                    "ran": True,
                    "interrupted": interrupted,
                    "results": results,
                }
        scheduler = make_scheduler(app)
        _state.update(app=app, scheduler=scheduler)
        stop = threading.Event()
        threading.Thread(target=_keep_lock, args=(lock, scheduler, stop), daemon=True).start()
        scheduler.add_job(
            "fiptrial.scheduler.runner:reconcile",
            "interval",
            minutes=RECONCILE_MINUTES,
            id=RECONCILE_JOB,
            replace_existing=True,
            next_run_time=_now(),
            coalesce=True,
            max_instances=1,
        )
        if deadline is not None:
            timer = threading.Timer(
                max(deadline - time.monotonic(), 0), _stop_when_running, args=(scheduler,)
            )
            timer.daemon = True
            timer.start()
        try:
            scheduler.start()  # blocks until shutdown
        finally:
            stop.set()
        return {"holder": lock.holder, "ran": True, "interrupted": interrupted}
    finally:
        lock.release()


def _stop_when_running(scheduler: BaseScheduler) -> None:
    """Stop the scheduler (for ``--for-seconds``), waiting until it has started first."""
    while not scheduler.running:
        time.sleep(0.1)
    scheduler.shutdown(wait=True)


def _now() -> Any:
    return datetime.now(jobs.TIMEZONE)
