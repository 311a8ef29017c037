"""Commands for FIP delivery: client managers, plans, fidelity, the scheduler and its jobs."""

from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import AppGroup

from fiptrial.cli.common import OPERATOR, reports_errors
from fiptrial.extensions import db
from fiptrial.models import User
from fiptrial.scheduler.jobs import describe_jobs, run_job
from fiptrial.scheduler.runner import run_scheduler
from fiptrial.services import caseload, planning
from fiptrial.services.access import ADMIN, Principal
from fiptrial.services.caseload import add_client_manager, assign_by_load, reassign, site_capacity
from fiptrial.services.fidelity import site_fidelity
from fiptrial.services.trials import get_site, get_trial
from fiptrial.timezone import local_today

client_manager_cli = AppGroup("client-manager", help="Client managers and their caseloads.")
scheduler_cli = AppGroup("scheduler", help="The one process that runs scheduled jobs.")
jobs_cli = AppGroup("jobs", help="Scheduled jobs and their runs.")


@client_manager_cli.command("add")
@click.option("--site", "site_code", required=True)
@click.option("--username", required=True)
@click.option(
    "--capacity",
    type=click.IntRange(min=1),
    default=180,
    show_default=True,
    help="FIP places (the report: 180 clients, 3 conversations a working day).",
)
@click.option("--name", "display_name", default="")
@reports_errors
def client_manager_add(site_code: str, username: str, capacity: int, display_name: str) -> None:
    """Add a client manager to a site (a login is set up with the user commands)."""
    site = get_site(site_code)
    user = add_client_manager(
        site, username, capacity=capacity, display_name=display_name, actor=OPERATOR
    )
    click.echo(
        f"Client manager {user.username} (id {user.id}) added to {site.code} with "
        f"{capacity} places; the site now has {site_capacity(site.id)} FIP places."
    )


@client_manager_cli.command("assign")
@click.option("--site", "site_code", required=True)
@click.option("--date", "on", type=click.DateTime(["%Y-%m-%d"]), default=None)
@reports_errors
def client_manager_assign(site_code: str, on: object) -> None:
    """Assign the site's FIP participants without a client manager, by load."""
    day = on.date() if on else local_today()  # type: ignore[attr-defined]
    assigned = assign_by_load(get_site(site_code), on=day, actor=OPERATOR)
    click.echo(json.dumps({"assigned": len(assigned)}))


@client_manager_cli.command("reassign")
@click.option("--participant", "participant_id", type=int, required=True)
@click.option("--to", "username", required=True, help="The new client manager's user name.")
@click.option(
    "--reason",
    required=True,
    type=click.Choice(["leave", "workload", "client_request", "manager_left", "other"]),
)
@click.option("--date", "on", type=click.DateTime(["%Y-%m-%d"]), default=None)
@reports_errors
def client_manager_reassign(participant_id: int, username: str, reason: str, on: object) -> None:
    """Give a participant another fixed client manager; the old assignment is kept."""
    user = db.session.query(User).filter_by(username=username).one_or_none()
    if user is None:
        raise click.ClickException(f"no user called {username!r}")
    day = on.date() if on else local_today()  # type: ignore[attr-defined]
    row = reassign(participant_id, user.id, reason=reason, on=day, actor=OPERATOR)
    click.echo(
        f"Participant {participant_id} now has client manager {username} from {row.assigned_on}."
    )


@click.command("plan-rules")
@click.option("--trial", "trial_code", required=True)
@click.option(
    "--set",
    "settings",
    multiple=True,
    metavar="NAME=VALUE",
    help="e.g. --set conversations_per_year=6; re-plans the open conversations.",
)
@reports_errors
def plan_rules(trial_code: str, settings: tuple[str, ...]) -> None:
    """Show a trial's planning rules, or change them and re-plan what is still open."""
    trial = get_trial(trial_code)
    if settings:
        changes: dict[str, int] = {}
        for setting in settings:
            name, _, value = setting.partition("=")
            if not value.strip().lstrip("-").isdigit():
                raise click.ClickException(f"{name}: give a whole number, not {value!r}")
            changes[name.strip()] = int(value)
        counts = planning.reconfigure_trial(trial, changes, actor=OPERATOR)
        click.echo(json.dumps({"replanned": counts}))
    click.echo(json.dumps(planning.PlanRules.of(trial).__dict__))


@click.command("plan")
@click.option("--site", "site_code", required=True)
@click.option("--json", "as_json", is_flag=True, help="Print the plan as a JSON list.")
@click.option(
    "--create",
    is_flag=True,
    help="First assign unassigned FIP participants and plan those without a plan.",
)
@click.option(
    "--start",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="Plan start with --create (default: the trial's start date).",
)
@reports_errors
def plan(site_code: str, as_json: bool, create: bool, start: object) -> None:
    """Show the site's conversation plan: participant, client manager, date, minutes..."""
    site = get_site(site_code)
    if create:
        starts_on = start.date() if start else None  # type: ignore[attr-defined]
        caseload.assign_by_load(site, on=starts_on or local_today(), actor=OPERATOR)
        planning.plan_site(site, actor=OPERATOR, starts_on=starts_on)
    rows = planning.site_plan(site)
    if as_json:
        click.echo(json.dumps(rows))
        return
    for row in rows:
        click.echo(
            f"{row['date']}  {row['client_manager']:<20} participant {row['participant']:>7}"
            f"  #{row['sequence']}  {row['minutes']} min  {row['status']}"
        )
    click.echo(f"{len(rows)} conversations")


@click.command("fidelity")
@click.option("--site", "site_code", required=True)
@reports_errors
def fidelity(site_code: str) -> None:
    """Fidelity figures of a site (planned, held, held in window, missed, first-year share)."""
    operator = Principal(role=ADMIN, actor=OPERATOR)
    figures = site_fidelity(get_site(site_code)).to_dict(operator)
    figures.pop("per_participant", None)  # the site's totals and its client managers
    click.echo(json.dumps(figures, indent=2))


@scheduler_cli.command("run")
@click.option(
    "--once", is_flag=True, help="Run every job once now (if this process holds the lock) and stop."
)
@click.option(
    "--for-seconds",
    type=float,
    default=None,
    help="Stop after this many seconds (for tests and maintenance windows).",
)
def scheduler_run(once: bool, for_seconds: float | None) -> None:
    """Run the scheduler. A second one waits, idle, until the first one stops."""
    outcome = run_scheduler(
        current_app._get_current_object(),  # type: ignore[attr-defined]
        once=once,
        for_seconds=for_seconds,
    )
    click.echo(json.dumps(outcome))


@jobs_cli.command("list")
def jobs_list() -> None:
    """The jobs, their next run, and their last run (start, end, outcome, counts)."""
    for row in describe_jobs():
        click.echo(json.dumps(row, default=str))


@jobs_cli.command("run")
@click.argument("job_id")
@reports_errors
def jobs_run(job_id: str) -> None:
    """Run one job now, in this process, recorded like a scheduled run."""
    click.echo(json.dumps(run_job(job_id), default=str))


COMMANDS = (client_manager_cli, scheduler_cli, jobs_cli, plan, plan_rules, fidelity)
