"""``fiptrial retention ...`` and ``fiptrial privacy ...``: the FG's operator commands."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup

from fiptrial.cli.common import OPERATOR, reports_errors
from fiptrial.cli.users import user_cli
from fiptrial.errors import NotFound
from fiptrial.extensions import db
from fiptrial.models import Trial, User
from fiptrial.services import retention, source_keys, trials, twofactor
from fiptrial.services.privacy_docs import write_docs
from fiptrial.services.users import DEMO_USERS, find_user

retention_cli = AppGroup("retention", help="Show and apply the trials' retention schedules.")
privacy_cli = AppGroup("privacy", help="The privacy paperwork, generated from the platform.")
site_key_cli = AppGroup(
    "site-key", help="Sites' keys for pseudonymisation at the source (fiptrial-prepare-export)."
)


@site_key_cli.command("issue")
@click.option("--site", "site_code", required=True)
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="The key file.")
@reports_errors
def site_key_issue(site_code: str, out: str) -> None:
    """A new key version for a site, written to the key file for its municipality (0600)."""
    key = source_keys.issue(trials.get_site(site_code), actor=OPERATOR)
    key.write(Path(out))
    click.echo(
        f"Key version {key.version} of site {key.site} written to {out}. Hand it over by a "
        f"secure channel and confirm the fingerprint {key.fingerprint()} by another."
    )


@site_key_cli.command("retire")
@click.option("--site", "site_code", required=True)
@click.option("--version", type=int, required=True)
@reports_errors
def site_key_retire(site_code: str, version: int) -> None:
    """Refuse files prepared with this key version from now on (after a rotation)."""
    source_keys.retire(trials.get_site(site_code), version, actor=OPERATOR)
    click.echo(f"Key version {version} of site {site_code} retired.")


@retention_cli.command("show")
@reports_errors
def retention_show() -> None:
    """Per trial: the last follow-up and when each kind of data is due for deletion."""
    for trial in db.session.query(Trial).order_by(Trial.code):
        end = retention.last_followup(trial)
        click.echo(f"{trial.code}: last follow-up {end.isoformat() if end else 'not known yet'}")
        months = retention.schedule_of(trial)
        for due in retention.due_dates(trial):
            when = due.due_on.isoformat() if due.due_on else "kept"
            click.echo(f"  {due.item:15} {months[due.item]!s:>4} months  due {when}")


@retention_cli.command("set")
@click.option("--trial", "trial_code", required=True)
@click.option(
    "--months",
    "items",
    multiple=True,
    help="ITEM=MONTHS after the last follow-up (empty MONTHS: kept), e.g. read_log=60.",
)
@reports_errors
def retention_set(trial_code: str, items: tuple[str, ...]) -> None:
    """Change a trial's schedule (audited)."""
    months: dict[str, int | None] = {}
    for item in items:
        name, _, value = item.partition("=")
        if not value.strip().isdigit() and value.strip():
            raise click.BadParameter(f"{name}: months must be a whole number or empty")
        months[name.strip()] = int(value) if value.strip() else None
    new = retention.set_schedule(trials.get_trial(trial_code), months, actor=OPERATOR)
    click.echo(json.dumps(new, sort_keys=True))


@retention_cli.command("run")
@click.option("--trial", "trial_code", default=None, help="One trial only.")
@click.option("--today", type=click.DateTime(["%Y-%m-%d"]), default=None, help="As if on DATE.")
@click.option("--dry-run", is_flag=True, help="Only say what is due.")
@reports_errors
def retention_run(trial_code: str | None, today: object, dry_run: bool) -> None:
    """Delete what each trial's schedule says is due; prints what was deleted (JSON)."""
    day: date | None = today.date() if today is not None else None  # type: ignore[attr-defined]
    result = retention.run(day, actor=OPERATOR, trial_code=trial_code, dry_run=dry_run)
    click.echo(json.dumps(result, sort_keys=True))


@privacy_cli.command("docs")
@click.option(
    "--out",
    "folder",
    type=click.Path(file_okay=False),
    default="docs/privacy",
    show_default=True,
    help="Folder for the processing register entry and the DPIA starting point.",
)
@reports_errors
def privacy_docs(folder: str) -> None:
    """Write the processing register entry (art. 30) and the DPIA starting point from the
    platform's own facts (models, permissions, retention, security measures)."""
    for path in write_docs(Path(folder)):
        click.echo(f"Wrote {path}")


def enrol_demo_users() -> None:
    """Two-factor sign-in for the demo users whose role requires it, on the public demo secret
    (README: "Demo users"), and say how to get their codes. Demo only: the secret is public."""
    names = [spec.username for spec in DEMO_USERS if twofactor.required_for(spec.role)]
    enrolled = []
    for user in db.session.query(User).filter(User.username.in_(names)).order_by(User.username):
        if not twofactor.is_enrolled(user.id):
            twofactor.enrol_with_secret(user, twofactor.DEMO_SECRET, actor=OPERATOR)
        enrolled.append(user.username)
    if enrolled:
        click.echo(
            f"Two-factor sign-in is required for {', '.join(enrolled)}. The demo users share the "
            f"PUBLIC demo secret {twofactor.DEMO_SECRET} (add it to an authenticator app), or "
            "print the current code with: fiptrial user mfa-code USERNAME"
        )


def _user_command(name: str) -> Callable[[Callable[[User], None]], click.Command]:
    """A ``fiptrial user NAME USERNAME`` command: the function gets the user, or it is refused."""

    def decorate(function: Callable[[User], None]) -> click.Command:
        @click.command(name, help=function.__doc__)
        @click.argument("username")
        @reports_errors
        def command(username: str) -> None:
            user = find_user(username)
            if user is None:
                raise NotFound(f"no user called {username!r}")
            function(user)

        return command

    return decorate


@_user_command("mfa-code")
def mfa_code(user: User) -> None:
    """The current two-factor code of a demo user (refused for every other user)."""
    click.echo(twofactor.demo_code(user))


@_user_command("mfa-reset")
def mfa_reset(user: User) -> None:
    """Remove a user's two-factor set-up (a lost phone): set up again at the next login."""
    twofactor.reset(user.id, actor=OPERATOR)
    click.echo(f"Two-factor sign-in of {user.username} removed.")


def add_privacy_commands(app: Flask) -> None:
    user_cli.add_command(mfa_code)
    user_cli.add_command(mfa_reset)
    app.cli.add_command(retention_cli)
    app.cli.add_command(privacy_cli)
    app.cli.add_command(site_key_cli)
