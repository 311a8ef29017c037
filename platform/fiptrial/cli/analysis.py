"""``fiptrial export``, ``fiptrial analyse`` and ``fiptrial freeze``: the analysis from the
platform's data, through the same services as the API."""

from __future__ import annotations

import json
import sys
from datetime import date, datetime
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext

from fiptrial.cli.common import OPERATOR, reports_errors
from fiptrial.services import analysis_plans
from fiptrial.services.exports import FORMATS, analyse, build_export, export_trial, spells_path
from fiptrial.services.freezes import (
    describe,
    freeze_trial,
    get_freeze,
    list_freezes,
    verify_freeze,
)
from fiptrial.services.trials import get_trial

CUTOFF_HELP = "Data cut-off date YYYY-MM-DD (default today): nothing dated later is used."


def _cutoff(value: datetime | None) -> date | None:
    return value.date() if value is not None else None


@click.command("export")
@click.option("--trial", "trial_code", required=True, help="Trial code, e.g. fip-demo.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    help="csv, sav (SPSS) or dta (Stata); default from OUT's suffix, else csv.",
)
@click.option("--cutoff", type=click.DateTime(["%Y-%m-%d"]), help=CUTOFF_HELP)
@click.option(
    "--with-baseline",
    is_flag=True,
    help="Add sex, education, region of birth and the spells' municipality (a research "
    "admin's export); without it, study data only, as an analyst gets it.",
)
@click.argument("out", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@with_appcontext
@reports_errors
def export_command(
    trial_code: str, fmt: str | None, cutoff: datetime | None, with_baseline: bool, out: Path
) -> None:
    """Write the pseudonymised analysis export of TRIAL to OUT, with the spells file (OUT's
    stem + _spells + OUT's suffix), the codebook and the CONSORT sidecar next to it (the CSV is
    the input of ``python -m fiptrial_analysis report``)."""
    suffix = out.suffix.lstrip(".").lower()
    fmt = fmt or (suffix if suffix in FORMATS else "csv")
    export, written = export_trial(
        get_trial(trial_code),
        out,
        fmt,
        actor=OPERATOR,
        cutoff=_cutoff(cutoff),
        role="research_admin" if with_baseline else "analyst",
    )
    click.echo(
        f"{len(export.rows)} participants, {len(export.spells)} spells, cut-off {export.cutoff}"
    )
    for path in written:
        click.echo(f"wrote {path}")


@click.command("analyse")
@click.option("--trial", "trial_code", required=True, help="Trial code, e.g. fip-demo.")
@click.option("--cutoff", type=click.DateTime(["%Y-%m-%d"]), help=CUTOFF_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (the default).")
@click.option(
    "--html",
    "html_out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the self-contained HTML report to this file.",
)
@with_appcontext
@reports_errors
def analyse_command(
    trial_code: str, cutoff: datetime | None, as_json: bool, html_out: Path | None
) -> None:
    """Run the trial report on the platform's current data (nothing is stored)."""
    # The analysis package and matplotlib load for this command only, not with the CLI.
    from fiptrial_analysis import render_html

    trial = get_trial(trial_code)
    export = build_export(trial, _cutoff(cutoff))
    report = analyse(export)
    analysis_plans.mark_unblinded_report(trial, OPERATOR)
    for warning in report["plan"]["warnings"]:
        click.echo(f"WARNING: {warning}", err=True)
    if html_out is not None:
        html_out.write_text(render_html(report), encoding="utf-8")
        click.echo(f"wrote {html_out}", err=True)
    if as_json or html_out is None:
        json.dump({**report, "export": export.describe()}, sys.stdout, indent=1, allow_nan=False)
        sys.stdout.write("\n")


@click.group(
    "freeze",
    cls=AppGroup,
    invoke_without_command=True,
    help="Store an immutable, hashed snapshot of the export and its report (--trial), "
    "or list, verify and export stored ones.",
)
@click.option("--trial", "trial_code", help="Freeze this trial's export and report now.")
@click.option("--cutoff", type=click.DateTime(["%Y-%m-%d"]), help=CUTOFF_HELP)
@with_appcontext
@click.pass_context
@reports_errors
def freeze_cli(ctx: click.Context, trial_code: str | None, cutoff: datetime | None) -> None:
    if ctx.invoked_subcommand is not None:
        if trial_code:
            raise click.UsageError("--trial freezes; give it without a subcommand")
        return
    if not trial_code:
        raise click.UsageError("give --trial TRIAL to freeze, or a subcommand (list, verify)")
    freeze = freeze_trial(get_trial(trial_code), OPERATOR, _cutoff(cutoff))
    click.echo(json.dumps(describe(freeze), indent=1))


@freeze_cli.command("list")
@click.option("--trial", "trial_code", help="Only this trial's freezes.")
@reports_errors
def freeze_list(trial_code: str | None) -> None:
    """List the stored freezes (one JSON object per line)."""
    for freeze in list_freezes(get_trial(trial_code) if trial_code else None):
        click.echo(json.dumps(describe(freeze)))


@freeze_cli.command("verify")
@click.argument("freeze_id", type=int)
@reports_errors
def freeze_verify(freeze_id: int) -> None:
    """Recompute the hashes of freeze FREEZE_ID and re-run its report; exit 1 if it fails."""
    result = verify_freeze(get_freeze(freeze_id))
    click.echo(json.dumps(result.to_dict(), indent=1))
    if not result.ok:
        raise SystemExit(1)


@freeze_cli.command("export")
@click.argument("freeze_id", type=int)
@click.argument("out", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@reports_errors
def freeze_export(freeze_id: int, out: Path) -> None:
    """Write the stored export CSV of freeze FREEZE_ID to OUT and its spells file next to it
    (OUT's stem + _spells + OUT's suffix), byte for byte."""
    freeze = get_freeze(freeze_id)
    out.write_bytes(freeze.export_csv)
    out.with_name(out.stem + ".consort.json").write_text(freeze.consort_json, encoding="utf-8")
    if freeze.plan_json is not None:
        out.with_name(out.stem + ".plan.json").write_text(freeze.plan_json, encoding="utf-8")
    click.echo(f"wrote {out} (sha256 {freeze.export_sha256})")
    if freeze.spells_csv is not None:
        spells = spells_path(out)
        spells.write_bytes(freeze.spells_csv)
        click.echo(f"wrote {spells} (sha256 {freeze.spells_sha256})")


plan_cli = AppGroup(
    "analysis-plan",
    help="Show, change (until frozen) and freeze a trial's analysis plan.",
)


def _codes(value: str) -> list[str]:
    return [code.strip() for code in value.split(",") if code.strip()]


@plan_cli.command("show")
@click.option("--trial", "trial_code", required=True, help="Trial code, e.g. fip-demo.")
@with_appcontext
@reports_errors
def plan_show(trial_code: str) -> None:
    """Print the current plan with its version, SHA-256, status, reasons and history."""
    click.echo(
        json.dumps(analysis_plans.describe(get_trial(trial_code)), indent=1, ensure_ascii=False)
    )


@plan_cli.command("set")
@click.option("--trial", "trial_code", required=True, help="Trial code, e.g. fip-demo.")
@click.option("--horizons", help="Horizons in months, comma-separated (first is primary).")
@click.option("--sustained-exit-days", type=int, help="R: days not back on benefit.")
@click.option("--primary-codes", help="BUS end codes of the primary outcome, comma-separated.")
@click.option("--competing-codes", help="BUS end codes of the competing events.")
@click.option("--administrative-codes", help="BUS end codes of administrative ends.")
@click.option("--hourly-cost", type=float, help="Euros per hour of a client manager.")
@click.option("--first-conversation-minutes", type=int)
@click.option("--later-conversation-minutes", type=int)
@click.option("--primary-estimand", help="The primary estimand in words.")
@click.option("--sensitivity", help="Sensitivity analyses, comma-separated.")
@with_appcontext
@reports_errors
def plan_set(trial_code: str, **options: object) -> None:
    """Store the plan with the given settings changed as its next version (until frozen)."""
    trial = get_trial(trial_code)
    current = analysis_plans.describe(trial)["plan"]
    values: dict[str, object] = {}
    if options["horizons"] is not None:
        try:
            values["horizons_months"] = [int(h) for h in _codes(str(options["horizons"]))]
        except ValueError:
            raise click.BadParameter(
                "whole months, comma-separated", param_hint="--horizons"
            ) from None
    classes = dict(current["classes"])
    for name in ("primary", "competing", "administrative"):
        given = options[f"{name}_codes"]
        if given is not None:
            classes[name] = _codes(str(given))
    if classes != current["classes"]:
        values["classes"] = classes
    for option, key in (
        ("sustained_exit_days", "sustained_exit_days"),
        ("hourly_cost", "hourly_cost"),
        ("first_conversation_minutes", "first_conversation_minutes"),
        ("later_conversation_minutes", "later_conversation_minutes"),
        ("primary_estimand", "primary_estimand"),
    ):
        if options[option] is not None:
            values[key] = options[option]
    if options["sensitivity"] is not None:
        values["sensitivity"] = _codes(str(options["sensitivity"]))
    plan = analysis_plans.set_plan(trial, values, OPERATOR)
    click.echo(f"analysis plan of {trial.code}: version {plan.version}, sha256 {plan.sha256}")


@plan_cli.command("freeze")
@click.option("--trial", "trial_code", required=True, help="Trial code, e.g. fip-demo.")
@with_appcontext
@reports_errors
def plan_freeze(trial_code: str) -> None:
    """Freeze the current plan; its SHA-256 is recorded in the audit chain."""
    frozen = analysis_plans.freeze_plan(get_trial(trial_code), OPERATOR)
    click.echo(
        f"analysis plan of {trial_code}: version {frozen.plan.version} frozen, "
        f"sha256 {frozen.plan.sha256}"
    )


def add_analysis_commands(app: Flask) -> None:
    for command in (export_command, analyse_command, freeze_cli, plan_cli):
        app.cli.add_command(command)
