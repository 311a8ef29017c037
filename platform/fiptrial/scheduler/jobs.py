"""The scheduled jobs: what each does, when, and how each run is recorded.

Every job is idempotent twice over. Its work is one transaction, committed together with the
"ok" of its :class:`~fiptrial.models.JobRun`, so a run killed half-way leaves nothing behind
but a "running" row (marked "interrupted" at the next start). And each run covers a period
(its ``run_key``: a day, an ISO week, a follow-up year); a period whose run succeeded is not
run again, and the work itself only fills in what is missing (unique notification keys,
unique rounds, state transitions).

The job set follows the trials' configuration (:func:`desired_jobs`): per site a follow-up
round job that runs during that site's follow-up years, per trial a data-freeze job. The
scheduler reconciles its stored jobs with this set (see ``runner.reconcile_jobs``).
"""

from __future__ import annotations

import importlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from dateutil.relativedelta import relativedelta
from sqlalchemy import select, text, update

from fiptrial.errors import NotFound
from fiptrial.extensions import db
from fiptrial.models import ConsentEvent, JobRun, PlannedConversation, Site, Trial
from fiptrial.scheduler.lock import holder_name
from fiptrial.services import followup, planning, retention
from fiptrial.services.import_tasks import remove_stale_uploads
from fiptrial.services.spool import remove_stale_spools
from fiptrial.services.transaction import rows_changed, unit_of_work
from fiptrial.timezone import TRIAL_TIMEZONE, local_today

TIMEZONE = TRIAL_TIMEZONE
PAUSE_ENV = "FIPTRIAL_JOB_TEST_PAUSE_SECONDS"  # tests: sleep inside the work, before commit

Work = Callable[[date], dict[str, Any]]


@dataclass(frozen=True)
class JobSpec:
    id: str
    description: str
    work: Work
    key: Callable[[date], str]
    trigger: dict[str, Any] = field(default_factory=dict)  # APScheduler cron fields


def by_day(today: date) -> str:
    return today.isoformat()


def by_week(today: date) -> str:
    year, week, _ = today.isocalendar()
    return f"{year}-W{week:02d}"


# --- The work of each job ---------------------------------------------------------------------


def nightly_overdue(today: date) -> dict[str, Any]:
    """Overdue and missed conversations, the re-plan after them; withdrawals cancel the rest."""
    withdrawn = select(ConsentEvent.participant_id).where(ConsentEvent.status == "withdrawn")
    cancelled = planning.cancel_open_conversations(
        PlannedConversation.participant_id.in_(withdrawn)
    )
    counts = planning.mark_overdue(today)
    spools = remove_stale_spools() + remove_stale_uploads()  # BSNs in clear: not left lying
    return {**counts, "cancelled_after_withdrawal": cancelled, "stale_spools_removed": spools}


def retention_due(today: date) -> dict[str, Any]:
    """The retention schedules (``services.retention``); each trial in its own transaction."""
    deleted = retention.run(today, actor="job:retention", own_transaction=False)
    return {code: counts for code, counts in deleted.items() if counts}


def weekly_agenda(today: date) -> dict[str, Any]:
    return followup.weekly_agendas(today)


def aow_watch(today: date) -> dict[str, Any]:
    return followup.aow_watch(today)


def followup_rounds_for(site_id: int) -> Work:
    def work(today: date) -> dict[str, Any]:
        return followup.open_rounds(today, site_ids=[site_id])

    return work


def freeze_year(trial: Trial, today: date) -> int:
    """The follow-up years completed by ``today`` (0 before the first anniversary)."""
    if trial.start_date is None:
        return 0
    years = 0
    while (
        years < trial.followup_years and trial.start_date + relativedelta(years=years + 1) <= today
    ):
        years += 1
    return years


def data_freeze_for(trial_id: int) -> Work:
    """A data freeze at the end of each follow-up year, by ``services.freezes``."""

    def work(today: date) -> dict[str, Any]:
        trial = db.session.get(Trial, trial_id)
        if trial is None or freeze_year(trial, today) == 0:
            return {"due": 0}
        try:
            freezes = importlib.import_module("fiptrial.services.freezes")
        except ImportError:
            return {
                "_outcome": "skipped",
                "_message": "fiptrial.services.freezes is not installed yet",
                "year": freeze_year(trial, today),
            }
        year = freeze_year(trial, today)
        assert trial.start_date is not None  # freeze_year is 0 without it
        # The freeze holds the data of the follow-up year that ended: cut off on its last
        # day, whenever the job runs. A run for a past day (the demo's three years) is dated
        # on that day; the scheduler's own runs are dated now.
        cutoff = trial.start_date + relativedelta(years=year, days=-1)
        frozen_at = today if today < local_today() else None
        result = freezes.freeze_trial(trial, "scheduler", cutoff, frozen_at=frozen_at)
        return {"due": 1, "year": year, "freeze": str(result), "cutoff": cutoff.isoformat()}

    return work


def freeze_key_for(trial_id: int) -> Callable[[date], str]:
    def key(today: date) -> str:
        trial = db.session.get(Trial, trial_id)
        year = freeze_year(trial, today) if trial else 0
        return f"year{year}" if year else today.isoformat()

    return key


# --- The job set ------------------------------------------------------------------------------


def desired_jobs() -> list[JobSpec]:
    """Every job the configuration asks for now, with its cron trigger."""
    jobs = [
        JobSpec(
            "nightly_overdue",
            "Mark overdue and missed conversations, re-plan what follows; delete stale spools",
            nightly_overdue,
            by_day,
            {"hour": 2, "minute": 0},
        ),
        JobSpec(
            "weekly_agenda",
            "Per client manager: next week's agenda and the overdue list",
            weekly_agenda,
            by_week,
            {"day_of_week": "mon", "hour": 6, "minute": 0},
        ),
        JobSpec(
            "retention",
            "Delete what the trials' retention schedules say is due",
            retention_due,
            by_day,
            {"hour": 1, "minute": 30},
        ),
        JobSpec(
            "aow_watch",
            "Participants reaching the state pension age within 3 months",
            aow_watch,
            by_day,
            {"hour": 4, "minute": 0},
        ),
    ]
    for site in db.session.query(Site).order_by(Site.code):
        window = followup.followup_window(site)
        if window is None:
            continue
        jobs.append(
            JobSpec(
                f"followup_rounds:{site.code}",
                f"Open the monthly outcome round of {site.code}; flag a late export",
                followup_rounds_for(site.id),
                by_day,
                {
                    "hour": 3,
                    "minute": 0,
                    "start_date": window[0].isoformat(),
                    "end_date": (
                        window[1] + relativedelta(months=1, days=EXPORT_GRACE_DAYS)
                    ).isoformat(),
                },
            )
        )
    for trial in db.session.query(Trial).order_by(Trial.code):
        if trial.start_date is None:
            continue
        end = trial.start_date + relativedelta(years=trial.followup_years, days=7)
        jobs.append(
            JobSpec(
                f"data_freeze:{trial.code}",
                f"Freeze the data of {trial.code} after each follow-up year",
                data_freeze_for(trial.id),
                freeze_key_for(trial.id),
                {
                    "hour": 5,
                    "minute": 0,
                    "start_date": trial.start_date.isoformat(),
                    "end_date": end.isoformat(),
                },
            )
        )
    return jobs


EXPORT_GRACE_DAYS = 15


def find_job(job_id: str) -> JobSpec:
    for spec in desired_jobs():
        if spec.id == job_id:
            return spec
    raise NotFound(f"no job called {job_id!r}")


# --- Running and recording --------------------------------------------------------------------


def _pause_for_tests() -> None:
    seconds = float(os.environ.get(PAUSE_ENV) or 0)
    if seconds:
        time.sleep(seconds)


def execute(spec: JobSpec, today: date | None = None) -> dict[str, Any]:
    """Run one job for ``today``'s period, unless that period already succeeded."""
    today = today or local_today()
    with unit_of_work():
        key = spec.key(today)
        done = (
            db.session.query(JobRun.id).filter_by(job_id=spec.id, run_key=key, outcome="ok").first()
        )
        if done is not None:
            return {"job": spec.id, "run_key": key, "outcome": "already_done"}
        run = JobRun(
            job_id=spec.id,
            run_key=key,
            started_at=datetime.now(UTC),
            outcome="running",
            counts={},
            host=holder_name(),
        )
        db.session.add(run)
        db.session.flush()
        run_id = run.id
    try:
        with unit_of_work():
            counts = spec.work(today)
            outcome = counts.pop("_outcome", "ok")
            message = counts.pop("_message", None)
            db.session.flush()
            _pause_for_tests()
            run = db.session.get_one(JobRun, run_id)
            run.outcome, run.counts, run.message = outcome, counts, message
            run.finished_at = datetime.now(UTC)
    except Exception as error:
        with unit_of_work():
            run = db.session.get_one(JobRun, run_id)
            run.outcome = "error"
            run.message = f"{type(error).__name__}: {error}"[:2000]
            run.finished_at = datetime.now(UTC)
        return {"job": spec.id, "run_key": key, "outcome": "error", "message": run.message}
    return {"job": spec.id, "run_key": key, "outcome": outcome, "counts": counts}


def run_job(job_id: str, today: date | None = None) -> dict[str, Any]:
    return execute(find_job(job_id), today)


def mark_interrupted_runs() -> int:
    """At scheduler start: runs left "running" by a killed scheduler did nothing (rolled back)."""
    with unit_of_work():
        interrupted = rows_changed(
            update(JobRun)
            .where(JobRun.outcome == "running")
            .values(outcome="interrupted", finished_at=datetime.now(UTC))
            .execution_options(synchronize_session=False)
        )
    return interrupted


def describe_jobs() -> list[dict[str, Any]]:
    """Each job with its next run (from the job store) and its last run."""
    next_runs: dict[str, float | None] = {}
    try:
        for job_id, next_run in db.session.execute(
            text("SELECT id, next_run_time FROM apscheduler_jobs")
        ):
            next_runs[job_id] = next_run
    except Exception:
        db.session.rollback()
    rows = []
    for spec in desired_jobs():
        last = db.session.query(JobRun).filter_by(job_id=spec.id).order_by(JobRun.id.desc()).first()
        stamp = next_runs.get(spec.id)
        rows.append(
            {
                "job": spec.id,
                "description": spec.description,
                "trigger": spec.trigger,
                "next_run": (
                    datetime.fromtimestamp(stamp, TIMEZONE).isoformat() if stamp else None
                ),
                "last_run": None
                if last is None
                else {
                    "run_key": last.run_key,
                    "started": last.started_at,
                    "finished": last.finished_at,
                    "outcome": last.outcome,
                    "counts": last.counts,
                    "message": last.message,
                },
            }
        )
    return rows
