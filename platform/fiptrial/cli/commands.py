"""Operator commands. Each one calls a service; errors print their message and exit 1."""

from __future__ import annotations

import json
import sys
from itertools import product
from pathlib import Path
from typing import Any

import click
from flask import Flask
from flask.cli import AppGroup

from fiptrial.cli.analysis import add_analysis_commands
from fiptrial.cli.common import OPERATOR, reports_errors
from fiptrial.cli.conversations import COMMANDS as conversation_commands
from fiptrial.cli.imports import add_import_commands
from fiptrial.cli.privacy import add_privacy_commands, enrol_demo_users
from fiptrial.cli.users import user_cli
from fiptrial.cli.worker import worker
from fiptrial.demo.exports import demo_export
from fiptrial.demo.story import play
from fiptrial.extensions import db
from fiptrial.models import ApiToken, Trial, User
from fiptrial.models.identity import ALL_ROLES
from fiptrial.services.audit import make_anchor, read_anchor, verify_chain
from fiptrial.services.eligibility import band_label
from fiptrial.services.randomisation import simulate, strata_weights_for, verify_trial
from fiptrial.services.tokens import create_token, revoke_token
from fiptrial.services.trials import get_site, get_trial

token_cli = AppGroup("token", help="Create, list and revoke API tokens.")
audit_cli = AppGroup("audit", help="Verify and anchor the audit trail.")
randomisation_cli = AppGroup("randomisation", help="Simulate and verify randomisation.")


@token_cli.command("create")
@click.option("--role", required=True, type=click.Choice(ALL_ROLES))
@click.option("--site", "site_code", help="Site code (site_coordinator and client_manager).")
@click.option("--user", "username", help="User name (required for client_manager).")
@click.option("--label", default="", help="What the token is for.")
@reports_errors
def token_create(role: str, site_code: str | None, username: str | None, label: str) -> None:
    """Create a token; it is printed once, alone on the last line, and stored only as a hash."""
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
    for row in db.session.query(ApiToken).order_by(ApiToken.id):
        site = row.site.code if row.site else "-"
        state = f"revoked {row.revoked_at:%Y-%m-%d}" if row.revoked_at else "active"
        click.echo(f"{row.id}\t{row.prefix}...\t{row.role}\t{site}\t{state}\t{row.label}")


@token_cli.command("revoke")
@click.argument("token_id", type=int)
@reports_errors
def token_revoke(token_id: int) -> None:
    """Revoke a token by its id; it answers 401 from now on."""
    revoke_token(token_id, actor=OPERATOR)
    click.echo(f"Token {token_id} revoked.")


@audit_cli.command("verify")
@click.option(
    "--anchor",
    "anchor_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="An anchor written earlier by `fiptrial audit anchor`: the chain must still hold it.",
)
@reports_errors
def audit_verify(anchor_file: Path | None) -> None:
    """Recompute the keyed hash chain and the head's HMAC; exit 1 naming the first broken
    entry. With --anchor, also check that the chain still holds the anchored head."""
    anchor = read_anchor(anchor_file) if anchor_file is not None else None
    report = verify_chain(anchor)
    click.echo(json.dumps(report.to_dict()))
    if not report.ok:
        click.echo(f"Audit chain broken at entry {report.first_broken}: {report.problem}", err=True)
        sys.exit(1)


@audit_cli.command("anchor")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write the anchor to this file (never overwritten) instead of standard output.",
)
@reports_errors
def audit_anchor(output: Path | None) -> None:
    """Sign the head of the verified chain, for an operator to keep outside the database
    (another machine, a printed copy, a mail to the data manager); `audit verify --anchor`
    later checks that no entry up to it was removed or rewritten."""
    text = json.dumps(make_anchor().to_dict(), indent=2) + "\n"
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        with output.open("x", encoding="utf-8") as handle:
            handle.write(text)
    except FileExistsError:
        raise click.ClickException(
            f"{output} exists already: anchors are never overwritten"
        ) from None
    click.echo(f"Anchor written to {output}.")


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
    if if_empty and db.session.query(Trial).first() is not None:
        click.echo("The database already holds a trial; no demo loaded.")
        return
    if participants < 40:  # Brabantse Wal's cohort needs its minimum size (lottery rules)
        raise click.BadParameter("at least 40", param_hint="--participants")
    summary = play(participants=participants, seed=seed)
    click.echo(json.dumps(summary, indent=2))
    click.echo(
        "All demo data are SYNTHETIC: generated people, not real clients. Next month's export: "
        f"fiptrial demo-export --site brabantse_wal --month {summary['next_export_month']} FILE"
    )
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
    click.echo(json.dumps(demo_export(get_trial(trial_code), site_code, month, out), indent=2))


def register_commands(app: Flask) -> None:
    for command in (token_cli, audit_cli, randomisation_cli, demo, demo_export_command, worker):
        app.cli.add_command(command)
    app.cli.add_command(user_cli)
    add_import_commands(app)
    for command in conversation_commands:
        app.cli.add_command(command)
    add_analysis_commands(app)
    add_privacy_commands(app)
