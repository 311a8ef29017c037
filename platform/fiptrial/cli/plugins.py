"""``fiptrial plugins``: list the installed site plugins and run the conformance checks.

Registered by the CLI with ``app.cli.add_command(plugins_cli)`` (or on the top-level group).
The commands do not need the application: they build their own plugin manager, without the
start-up's strictness, so that a broken plugin -- which stops the application -- can still be
listed and checked, with each failure named.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
from flask.cli import AppGroup

from fiptrial.plugins import hookdocs
from fiptrial.plugins.conformance import check_plugin
from fiptrial.plugins.manager import PluginHost, SitePluginError, build_plugin_manager


@dataclass
class PluginCliConfig:
    """Which plugins the commands see; tests pass one as ``obj`` to use fixture plugins."""

    entry_points: bool = True
    plugins: Mapping[str, object] = field(default_factory=dict)


plugins_cli = AppGroup("plugins", help="List the installed site plugins and check them.")


def _config() -> PluginCliConfig:
    return click.get_current_context().find_object(PluginCliConfig) or PluginCliConfig()


@plugins_cli.command("list", with_appcontext=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_command(as_json: bool) -> None:
    """Show the installed site plugins with their versions and mapping versions.

    Exits with status 1 when a plugin is broken (the application would refuse to start).
    """
    config = _config()
    try:
        pm = build_plugin_manager(entry_points=config.entry_points, plugins=config.plugins)
    except SitePluginError as error:
        raise click.ClickException(str(error)) from error
    host = PluginHost(pm, strict=False)
    entries: list[dict[str, Any]] = [
        {
            "name": site.name,
            "version": site.version,
            "mapping_version": site.mapping_version,
            "site_name": site.site_name,
            "municipalities": list(site.municipalities),
            "distribution": site.distribution,
            "status": "ok",
            "problems": [],
        }
        for site in host
    ]
    entries += [
        {"name": name, "status": "broken", "problems": [p.message for p in problems]}
        for name, problems in sorted(host.problems.items())
    ]
    if as_json:
        click.echo(json.dumps(entries, indent=2))
    elif not entries:
        click.echo("No site plugins installed (entry-point group fiptrial.plugins).")
    else:
        _print_table(entries)
    if host.problems:
        raise click.exceptions.Exit(1)


def _print_table(entries: list[dict[str, Any]]) -> None:
    header = ("NAME", "VERSION", "MAPPING", "SITE", "MUNICIPALITIES")
    rows = []
    for entry in entries:
        if entry["status"] != "ok":
            rows.append((str(entry["name"]), "-", "-", "BROKEN (run: fiptrial plugins check)", ""))
            continue
        members = entry["municipalities"]
        rows.append(
            (
                str(entry["name"]),
                str(entry["version"]),
                str(entry["mapping_version"]),
                str(entry["site_name"]),
                " ".join(members) or "(from site settings)",
            )
        )
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    for row in (header, *rows):
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))


@plugins_cli.command("check", with_appcontext=False)
@click.argument("name")
@click.option(
    "--sample",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Export file to parse instead of the plugin's own sample (only counts are shown).",
)
def check_command(name: str, sample: Path | None) -> None:
    """Run the platform's conformance checks on the site plugin NAME.

    Prints every check as passed or FAILED and exits with status 1 naming each failure.
    """
    config = _config()
    results = check_plugin(
        name, sample=sample, plugins=config.plugins, entry_points=config.entry_points
    )
    click.echo(f"Conformance checks for site plugin {name!r}:")
    for result in results:
        status = "passed" if result.passed else "FAILED"
        click.echo(f"  {status:6}  {result.name}: {result.description}")
        for detail in result.details:
            click.echo(f"          {'-' if not result.passed else ' '} {detail}")
    failed = [result for result in results if not result.passed]
    if failed:
        click.echo(
            f"{len(failed)} of {len(results)} checks failed: "
            + ", ".join(result.name for result in failed),
            err=True,
        )
        raise click.exceptions.Exit(1)
    click.echo(f"All {len(results)} checks passed.")


@plugins_cli.command("docs", with_appcontext=False)
@click.option("--check", is_flag=True, help="Only report whether the page is current.")
def docs_command(check: bool) -> None:
    """Regenerate the hook reference (fiptrial/plugins/plugin-hooks.md) from hookspecs.py."""
    status = hookdocs.main(["--check"] if check else [])
    if status:
        raise click.exceptions.Exit(status)
