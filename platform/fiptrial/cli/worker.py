"""``fiptrial worker``: a process that takes background jobs (the queued imports) from the
database's queue. Run one or more, on any host that reaches the database and the instance
folder (``FIPTRIAL_INSTANCE_PATH``, where the uploads wait); ``make run`` starts one."""

from __future__ import annotations

import os
import socket

import click
from flask import current_app
from flask.cli import with_appcontext

from fiptrial.extensions import db
from fiptrial.services import job_queue


@click.command("worker")
@click.option(
    "--once", is_flag=True, help="Take the jobs that are waiting now, then stop (maintenance)."
)
@click.option("--concurrency", default=1, show_default=True, help="Jobs run side by side.")
@click.option("--name", default=None, help="The worker's name in the queue (default: host-pid).")
@with_appcontext
def worker(once: bool, concurrency: int, name: str | None) -> None:
    """Take background jobs until stopped (SIGINT/SIGTERM finish the running job first)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if job_queue.backend(app) != job_queue.DATABASE:
        click.echo(
            "This database is SQLite: background jobs run in the web process, "
            "so there is no queue for a worker. Nothing to do."
        )
        return
    db.session.remove()  # the worker's jobs open their own app contexts and sessions
    label = name or f"{socket.gethostname()}-{os.getpid()}"
    click.echo(f"Worker {label} taking jobs from the database's queue.")
    job_queue.run_worker(app, once=once, name=label, concurrency=concurrency)
