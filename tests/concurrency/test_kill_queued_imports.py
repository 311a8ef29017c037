"""kill -9 of a worker halfway through a queued import (issue 15, PostgreSQL): nothing of the
killed import is committed, the queue gives the job to another worker (a separate process, as
on another host), and that worker completes the import exactly once: one batch, every
participant once, one audit entry, the spooled export deleted."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from test_kill_imports import _export

from cli_support import FIPTRIAL, cli_environment
from fiptrial.extensions import db
from fiptrial.models import AuditEntry, ImportBatch, ImportTask, Participant

# Each trial starts the platform in new processes and kills one: seconds a trial.
pytestmark = pytest.mark.slow

ROWS = 12_000  # the first progress report comes at 5000 rows: the kill lands mid-import
STALLED_SECONDS = 4  # the worker's heartbeat every second; silent for 4 s: stalled


@pytest.fixture
def world(app: Any, build: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("on SQLite queued imports run in the web process: there is no worker")
    site = build.site(build.trial())
    instance = tmp_path / "instance"
    monkeypatch.setattr(app, "instance_path", str(instance))
    env = cli_environment(app, instance, FIPTRIAL_JOB_STALLED_SECONDS=str(STALLED_SECONDS))
    db.session.commit()
    return {"env": env, "instance": instance, "site": site}


def _worker(world: dict[str, Any], name: str) -> subprocess.Popen[bytes]:
    log = (world["instance"].parent / f"worker-{name}.log").open("wb")
    return subprocess.Popen(
        [*FIPTRIAL, "worker", "--name", name],
        env={**world["env"], "PYTHONUNBUFFERED": "1"},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _task(task_id: int) -> ImportTask:
    db.session.rollback()  # a fresh snapshot of what the workers committed
    return db.session.get_one(ImportTask, task_id)


def _until(condition: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


@pytest.mark.postgresql
def test_a_worker_killed_mid_import_is_replaced_and_the_import_completes_once(
    world: dict[str, Any],
) -> None:
    from fiptrial.services import import_tasks

    content, canary = _export(ROWS)
    task_id = import_tasks.start_import(
        world["site"], "participants", io.BytesIO(content), actor="user:coord", filename="x.csv"
    )
    spooled = world["instance"] / "uploads" / _task(task_id).spool_name
    first = _worker(world, "first")
    try:
        _until(lambda: _task(task_id).rows_done > 0, 120, "the first worker never got going")
        assert first.poll() is None, "the import ended before the kill: make the file larger"
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    killed = _task(task_id)
    assert (killed.status, killed.attempts) == ("running", 1)
    assert db.session.query(ImportBatch).count() == 0  # one transaction: nothing of it
    assert db.session.query(Participant).count() == 0
    assert spooled.exists()  # kept for the retry
    assert import_tasks.describe(killed).status == "running"  # not shown as lost: queued again

    second = _worker(world, "second")
    try:
        _until(lambda: _task(task_id).status == "done", 600, "the second worker did not finish")
    finally:
        os.killpg(second.pid, signal.SIGTERM)
        try:
            second.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(second.pid, signal.SIGKILL)
            raise

    done = import_tasks.describe(_task(task_id))
    assert (done.status, done.attempts, done.retried, done.duplicate) == ("done", 2, True, False)
    batch = db.session.query(ImportBatch).one()
    assert done.batch_id == batch.id and done.rows_done == ROWS
    assert db.session.query(Participant).count() == batch.report["registered"] > 0
    assert db.session.query(AuditEntry).filter_by(action="import.participants").count() == 1
    assert not spooled.exists()
    leftovers = [p for p in world["instance"].rglob("*") if p.is_file()]
    assert not any(canary.encode() in p.read_bytes() for p in leftovers)
