"""The scheduler: one process at a time, each job once, nothing half-done after a kill."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from datetime import date
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import create_engine, text

from cli_support import FIPTRIAL, cli_environment
from fiptrial.extensions import db
from fiptrial.models import FollowupRound, JobRun, Notification
from fiptrial.scheduler import jobs
from fiptrial.scheduler.lock import RowLock, scheduler_lock
from fiptrial.services import followup


def cli_env(app: Flask, **extra: str) -> dict[str, str]:
    """The child's environment, with the test's own instance folder (see tests/conftest.py)."""
    return cli_environment(app, app.instance_path, **extra)


def outside_reader(app: Flask) -> Any:
    """An engine without the platform's SQLite BEGIN IMMEDIATE: it reads while others write."""
    return create_engine(app.config["SQLALCHEMY_DATABASE_URI"])


def test_a_second_lock_holder_is_refused(app: Flask) -> None:
    db.session.commit()
    first = scheduler_lock(db.engine, "first")
    second = scheduler_lock(db.engine, "second")
    assert first.acquire()
    try:
        assert not second.acquire()
        assert first.still_held()
    finally:
        first.release()
    assert second.acquire()
    second.release()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_stale_row_lock_is_taken_over(app: Flask) -> None:
    db.session.commit()
    dead = RowLock(db.engine, "dead-process")
    assert dead.acquire()
    assert not RowLock(db.engine, "standby").acquire()
    successor = RowLock(db.engine, "standby", stale_seconds=0)
    assert successor.acquire()
    assert not dead.still_held(), "the old holder notices it lost the lock"
    successor.release()


@pytest.mark.slow
def test_two_scheduler_processes_run_each_job_once(app: Flask, fip: Any) -> None:
    fip.planned_site(12)
    db.session.commit()
    env = cli_env(app, FIPTRIAL_JOB_TEST_PAUSE_SECONDS="1")
    processes = [
        subprocess.Popen(
            [*FIPTRIAL, "scheduler", "run", "--once"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=180) for p in processes]
    assert all(p.returncode == 0 for p in processes), outputs
    results = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
    assert sum(r["ran"] for r in results) >= 1
    db.session.expire_all()
    runs = db.session.query(JobRun).all()
    per_job: dict[str, list[str]] = {}
    for run in runs:
        per_job.setdefault(run.job_id, []).append(run.outcome)
    expected = {spec.id for spec in jobs.desired_jobs()}
    assert set(per_job) == expected
    assert all(outcomes == ["ok"] for outcomes in per_job.values()), per_job


@pytest.mark.slow
def test_killed_job_leaves_no_half_done_work(app: Flask, fip: Any) -> None:
    fip.planned_site(30)
    db.session.commit()
    process = subprocess.Popen(
        [*FIPTRIAL, "jobs", "run", "nightly_overdue"],
        env=cli_env(app, FIPTRIAL_JOB_TEST_PAUSE_SECONDS="60"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    reader = outside_reader(app)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            with reader.connect() as connection:
                running = connection.execute(
                    text("SELECT count(*) FROM job_run WHERE outcome = 'running'")
                ).scalar()
            if running:
                break
            time.sleep(0.2)
        assert running == 1
        time.sleep(3)  # the work is done (flushed, not committed): kill it mid-job
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        with reader.connect() as connection:
            touched = connection.execute(
                text("SELECT count(*) FROM planned_conversation WHERE status <> 'planned'")
            ).scalar()
            outcome = connection.execute(text("SELECT outcome FROM job_run")).scalar()
        assert touched == 0, "a killed job leaves none of its work behind"
        assert outcome == "running"
    finally:
        if process.poll() is None:
            process.kill()
        reader.dispose()
    db.session.expire_all()
    from fiptrial.scheduler.runner import run_scheduler

    db.session.commit()
    result = run_scheduler(app, once=True)
    assert result["interrupted"] == 1
    db.session.expire_all()
    outcomes = sorted(
        r.outcome for r in db.session.query(JobRun).filter_by(job_id="nightly_overdue")
    )
    assert outcomes == ["interrupted", "ok"]
    from fiptrial.models import PlannedConversation

    changed = (
        db.session.query(PlannedConversation)
        .filter(PlannedConversation.status != "planned")
        .count()
    )
    assert changed > 0, "the restarted job did the work (conversations before today)"


def test_a_period_runs_once_and_work_is_idempotent(app: Flask, fip: Any) -> None:
    fip.planned_site(12)
    today = date(2026, 11, 23)
    first = jobs.run_job("weekly_agenda", today)
    second = jobs.run_job("weekly_agenda", today)
    assert first["outcome"] == "ok" and second["outcome"] == "already_done"
    stored = db.session.query(Notification).count()
    assert stored == first["counts"]["notifications"] >= 2
    followup.weekly_agendas(today)  # the work itself, again: nothing new
    db.session.commit()
    assert db.session.query(Notification).count() == stored


def test_a_client_manager_reads_only_their_notifications(
    app: Flask, fip: Any, build: Any, client: Any, bearer: Any
) -> None:
    from fiptrial.models import PlannedConversation, User

    site = fip.planned_site(12)
    mine, theirs = db.session.query(User).filter_by(role="client_manager").order_by(User.id)
    some_day = (
        db.session.query(PlannedConversation.planned_date)
        .filter_by(client_manager_id=mine.id)
        .order_by(PlannedConversation.planned_date.desc())
        .first()[0]
    )
    jobs.run_job("weekly_agenda", some_day)
    token = build.token("client_manager", site=site, user=mine)
    answer = client.get(f"/api/v1/client-managers/{mine.id}/notifications", headers=bearer(token))
    assert answer.status_code == 200
    assert [n["kind"] for n in answer.get_json()] == ["weekly_agenda"]
    assert answer.get_json()[0]["data"]["conversations"], "next week's agenda is listed"
    assert (
        client.get(
            f"/api/v1/client-managers/{theirs.id}/notifications", headers=bearer(token)
        ).status_code
        == 404
    )


def test_followup_rounds_open_flag_and_receive(app: Flask, fip: Any) -> None:
    site = fip.site()
    assert followup.open_rounds(date(2026, 11, 20)) == {"opened": 0, "flagged": 0}
    assert followup.open_rounds(date(2026, 12, 1))["opened"] == 1
    assert followup.open_rounds(date(2026, 12, 2))["opened"] == 0
    round_ = db.session.query(FollowupRound).one()
    assert (round_.period, round_.deadline) == ("2026-11", date(2026, 12, 10))
    assert followup.open_rounds(date(2026, 12, 11)) == {"opened": 0, "flagged": 1}
    db.session.commit()
    assert followup.open_rounds(date(2026, 12, 12)) == {"opened": 0, "flagged": 0}
    late = db.session.query(Notification).filter_by(kind="export_late").one()
    assert late.site_id == site.id
    received = followup.mark_export_received_now(site.code, date(2026, 12, 14), "batch-7")
    assert (received.status, received.batch_id) == ("received", "batch-7")


def test_aow_watch_notifies_once(app: Flask, fip: Any) -> None:
    from fiptrial.models import Participant

    site = fip.site()
    pid = fip.bulk_fip(site, 2)[0]
    db.session.get(Participant, pid).pension_age_date = date(2027, 1, 15)
    db.session.commit()
    assert jobs.run_job("aow_watch", date(2026, 11, 24))["counts"] == {"participants": 1}
    followup.aow_watch(date(2026, 11, 25))
    db.session.commit()
    notes = db.session.query(Notification).filter_by(kind="aow_soon").all()
    assert [n.data["participant"] for n in notes] == [pid]


def test_freeze_job_waits_for_the_anniversary_and_skips_without_the_service(
    app: Flask, fip: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = fip.site()
    job_id = f"data_freeze:{site.trial.code}"
    assert jobs.run_job(job_id, date(2027, 6, 1))["counts"] == {"due": 0}

    def missing(name: str) -> Any:
        raise ImportError(name)

    monkeypatch.setattr(jobs.importlib, "import_module", missing)
    result = jobs.run_job(job_id, date(2027, 11, 3))
    assert result["outcome"] == "skipped" and result["run_key"] == "year1"


def test_stored_jobs_follow_the_trial_configuration(app: Flask, fip: Any) -> None:
    from apscheduler.schedulers.background import BackgroundScheduler

    from fiptrial.scheduler.runner import make_scheduler, reconcile_jobs

    site = fip.site()
    code = site.code
    db.session.commit()  # on SQLite an open session transaction would hold the write lock
    scheduler = make_scheduler(app, BackgroundScheduler)
    scheduler.start(paused=True)
    try:
        first = reconcile_jobs(scheduler)
        assert first["added"] == len(jobs.desired_jobs())
        assert reconcile_jobs(scheduler) == {"added": 0, "replaced": 0, "removed": 0}
        job = scheduler.get_job(f"followup_rounds:{code}")
        assert job.trigger.end_date.year == 2029
        trial = site.trial
        trial.followup_years = 5
        db.session.commit()
        changed = reconcile_jobs(scheduler)
        assert changed["replaced"] == 2  # the site's follow-up rounds and the trial's freezes
        assert scheduler.get_job(f"followup_rounds:{code}").trigger.end_date.year == 2031
        trial.start_date = None  # no start date: no rounds, no freezes
        db.session.commit()
        assert reconcile_jobs(scheduler)["removed"] == 2
        assert scheduler.get_job(f"followup_rounds:{code}") is None
    finally:
        scheduler.shutdown(wait=False)


@pytest.mark.slow
def test_blocking_scheduler_stops_on_time_and_a_standby_waits(
    app: Flask, fip: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fiptrial.scheduler import runner
    from fiptrial.scheduler.runner import run_scheduler

    # The standby looks at the lock between naps; its production nap (5 s) would hold the
    # test up to 4 s past the second it was given, and the lock it waits for is never freed.
    monkeypatch.setattr(runner, "STANDBY_POLL_SECONDS", 0.2)
    fip.site()
    db.session.commit()
    other = scheduler_lock(db.engine, "another-process")
    assert other.acquire()
    try:
        started = time.monotonic()
        waited = run_scheduler(app, for_seconds=1)
        assert waited["ran"] is False and time.monotonic() - started < 15
    finally:
        other.release()
    result = run_scheduler(app, for_seconds=2)
    assert result["ran"] is True
    db.session.expire_all()
    stored = {row[0] for row in db.session.execute(text("SELECT id FROM apscheduler_jobs"))}
    assert {spec.id for spec in jobs.desired_jobs()} | {"reconcile_jobs"} == stored
