"""Operator commands. Each one calls a service; errors print their message and exit 1."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

import click
from flask import Flask
from flask.cli import AppGroup

from fiptrial.errors import PlatformError
from fiptrial.extensions import db
from fiptrial.models.identity import ALL_ROLES

OPERATOR = "cli:operator"


def reports_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a service's PlatformError into a clear message and exit status 1."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except PlatformError as error:
            detail = "".join(f"\n  {k}: {' '.join(v)}" for k, v in error.fields.items())
            raise click.ClickException(error.message + detail) from None

    return wrapper


token_cli = AppGroup("token", help="Create, list and revoke API tokens.")
audit_cli = AppGroup("audit", help="Verify the audit trail.")
randomisation_cli = AppGroup("randomisation", help="Simulate and verify randomisation.")


@token_cli.command("create")
@click.option("--role", required=True, type=click.Choice(ALL_ROLES))
@click.option("--site", "site_code", help="Site code (site_coordinator and client_manager).")
@click.option("--user", "username", help="User name (required for client_manager).")
@click.option("--label", default="", help="What the token is for.")
@reports_errors
def token_create(role: str, site_code: str | None, username: str | None, label: str) -> None:
    """Create a token; it is printed once, alone on the last line, and stored only as a hash."""
    from fiptrial.models import User
    from fiptrial.services.tokens import create_token
    from fiptrial.services.trials import get_site

    site = get_site(site_code) if site_code else None
    user = None
    if username:
        user = db.session.query(User).filter_by(username=username).one_or_none()
        if user is None:
            raise click.ClickException(f"no user called {username!r}")
    row, token = create_token(role=role, site=site, user=user, label=label, actor=OPERATOR)
    click.echo(
        f"Created token {row.id} ({row.prefix}...) for role {role}"
        + (f" at site {site_code}" if site_code else "")
        + ". It will not be shown again:"
    )
    click.echo(token)


@token_cli.command("list")
def token_list() -> None:
    """List tokens (prefix, role, site, revoked)."""
    from fiptrial.models import ApiToken

    for row in db.session.query(ApiToken).order_by(ApiToken.id):
        site = row.site.code if row.site else "-"
        state = f"revoked {row.revoked_at:%Y-%m-%d}" if row.revoked_at else "active"
        click.echo(f"{row.id}\t{row.prefix}...\t{row.role}\t{site}\t{state}\t{row.label}")


@token_cli.command("revoke")
@click.argument("token_id", type=int)
@reports_errors
def token_revoke(token_id: int) -> None:
    """Revoke a token by its id; it answers 401 from now on."""
    from fiptrial.services.tokens import revoke_token

    revoke_token(token_id, actor=OPERATOR)
    click.echo(f"Token {token_id} revoked.")


@audit_cli.command("verify")
def audit_verify() -> None:
    """Recompute the hash chain; exit 1 naming the first broken entry."""
    from fiptrial.services.audit import verify_chain

    report = verify_chain()
    click.echo(json.dumps(report.to_dict()))
    if not report.ok:
        click.echo(f"Audit chain broken at entry {report.first_broken}: {report.problem}", err=True)
        sys.exit(1)


@randomisation_cli.command("simulate")
@click.option("--trial", "trial_code", required=True)
@click.option("--participants", type=int, default=2000, show_default=True)
@click.option("--runs", type=int, default=200, show_default=True)
@click.option("--seed", type=int, default=20141101, show_default=True)
@reports_errors
def randomisation_simulate(trial_code: str, participants: int, runs: int, seed: int) -> None:
    """Expected imbalance per stratum and overall for the trial's scheme, before go-live.

    Strata are drawn with the frequencies of the trial's registered eligible participants, or
    uniformly over the sites' strata when nobody is registered yet.
    """
    from fiptrial.services.randomisation import simulate, strata_weights_for
    from fiptrial.services.trials import get_trial

    trial = get_trial(trial_code)
    weights = strata_weights_for(trial) or _uniform_strata(trial)
    result = simulate(
        method=trial.method,
        ratios=trial.ratios(),
        multipliers=trial.block_multipliers,
        probability=trial.minimisation_probability,
        strata_weights=weights,
        participants=participants,
        runs=runs,
        seed=seed,
    )
    click.echo(json.dumps(result.to_dict(), indent=2))


def _uniform_strata(trial: Any) -> dict[str, float]:
    from itertools import product

    from fiptrial.services.eligibility import band_label

    def labels(edges: list[int]) -> list[str]:
        return [band_label(v, edges) for v in edges]

    levels = {
        "site": [site.code for site in trial.sites] or ["site"],
        "age_band": labels(trial.age_band_edges),
        "benefit_duration_band": labels(trial.duration_band_edges_months),
        "sex": ["male", "female"],
    }
    combos = product(*(levels[f] for f in trial.stratify_by))
    return {
        "|".join(f"{f}={v}" for f, v in zip(trial.stratify_by, c, strict=True)): 1.0 for c in combos
    }


@randomisation_cli.command("verify")
@click.option("--trial", "trial_code", required=True)
@reports_errors
def randomisation_verify(trial_code: str) -> None:
    """Re-derive every allocation from its recorded seeds and draws; exit 1 on a mismatch."""
    from fiptrial.services.randomisation import verify_trial
    from fiptrial.services.trials import get_trial

    problems = verify_trial(get_trial(trial_code))
    for problem in problems:
        click.echo(problem, err=True)
    click.echo(json.dumps({"ok": not problems, "problems": len(problems)}))
    if problems:
        sys.exit(1)


@click.command("demo")
@click.option("--if-empty", is_flag=True, help="Do nothing when a trial already exists.")
@click.option(
    "--participants",
    type=int,
    default=2000,
    show_default=True,
    help="Brabantse Wal's caseload at the start; the other sites scale with it.",
)
@click.option("--seed", type=int, default=2014, show_default=True)
@reports_errors
def demo(if_empty: bool, participants: int, seed: int) -> None:
    """Create the demo trial and play three years of it, with synthetic clients (never real
    data): imports, allocations, conversations, withdrawals and yearly freezes."""
    from fiptrial.demo.story import play
    from fiptrial.models import Trial

    if if_empty and db.session.query(Trial).first() is not None:
        click.echo("The database already holds a trial; no demo loaded.")
        return
    if participants < 20:
        raise click.BadParameter("at least 20", param_hint="--participants")
    summary = play(participants=participants, seed=seed)
    click.echo(json.dumps(summary, indent=2))
    click.echo(
        "All demo data are SYNTHETIC: generated people, not real clients. Next month's export: "
        f"fiptrial demo-export --site brabantse_wal --month {summary['next_export_month']} FILE"
    )
    from fiptrial.cli.privacy import enrol_demo_users

    enrol_demo_users()


@click.command("demo-export")
@click.option("--site", "site_code", required=True, help="Site code, e.g. brabantse_wal.")
@click.option("--month", help="YYYY-MM; default: the month after the site's latest import.")
@click.option("--trial", "trial_code", default="fip-demo", show_default=True)
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@reports_errors
def demo_export_command(site_code: str, month: str | None, trial_code: str, out: Path) -> None:
    """Write a demo site's export of one month, in its plugin's format, for the demo's own
    participants: upload it (Importeren) and watch the report change."""
    from fiptrial.demo.exports import demo_export
    from fiptrial.services.trials import get_trial

    click.echo(json.dumps(demo_export(get_trial(trial_code), site_code, month, out), indent=2))


def register_commands(app: Flask) -> None:
    for command in (token_cli, audit_cli, randomisation_cli, demo, demo_export_command):
        app.cli.add_command(command)
    from fiptrial.cli.users import user_cli  # web users (issue 6)

    app.cli.add_command(user_cli)
    from fiptrial.cli.imports import add_import_commands  # issue 3: imports

    add_import_commands(app)
    from fiptrial.cli.conversations import COMMANDS as conversation_commands  # issue 5

    for command in conversation_commands:
        app.cli.add_command(command)
    from fiptrial.cli.analysis import add_analysis_commands  # issue 4: export, analyse, freeze

    add_analysis_commands(app)
    from fiptrial.cli.privacy import add_privacy_commands  # issue 16: retention, paperwork

    add_privacy_commands(app)
