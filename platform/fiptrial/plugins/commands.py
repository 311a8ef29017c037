"""``fiptrial plugins``: write a new declarative site, list the site plugins, check them.

Registered on the top-level ``fiptrial`` group, and runnable without Flask as
``python -m fiptrial.plugins`` (a plain click group: a plugin's own environment needs neither
Flask nor the platform's database). The commands build their own plugin manager, without the
start-up's strictness, so that a broken plugin -- which stops the application -- can still be
listed and checked, with each failure named.

Declarative site folders are looked for in the directories of ``--sites`` (repeatable), of the
environment variable ``FIPTRIAL_SITES`` and in ``./sites``, where ``plugins new`` writes them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from fiptrial.plugins import hookdocs
from fiptrial.plugins.conformance import check_plugin
from fiptrial.plugins.declarative import SiteFileError
from fiptrial.plugins.declarative.scaffold import new_site
from fiptrial.plugins.manager import (
    PluginHost,
    SitePluginError,
    build_plugin_manager,
    site_dirs_from_environment,
)

#: Where ``plugins new`` writes a site unless told otherwise, and where the commands look.
DEFAULT_SITES_DIR = Path("sites")


@dataclass
class PluginCliConfig:
    """Which plugins the commands see; tests pass one as ``obj`` to use fixture plugins."""

    entry_points: bool = True
    plugins: Mapping[str, object] = field(default_factory=dict)
    #: ``None``: FIPTRIAL_SITES and ./sites; tests give their own list.
    site_dirs: list[Path] | None = None


#: ``--sites DIR`` (repeatable) of the commands that look for declarative site folders.
sites_option = click.option(
    "--sites",
    "sites",
    multiple=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="A directory of declarative site folders (repeatable; also FIPTRIAL_SITES, ./sites).",
)


@click.group("plugins", help="Write a new declarative site; list and check the site plugins.")
@sites_option
@click.pass_context
def plugins_cli(ctx: click.Context, sites: tuple[Path, ...]) -> None:
    config = ctx.find_object(PluginCliConfig)
    if config is None:
        config = ctx.ensure_object(PluginCliConfig)
    if sites:
        config.site_dirs = [*sites, *(config.site_dirs or [])]


def _config() -> PluginCliConfig:
    return click.get_current_context().find_object(PluginCliConfig) or PluginCliConfig()


def _site_dirs(config: PluginCliConfig) -> list[Path]:
    if config.site_dirs is not None:
        return list(config.site_dirs)
    dirs = [Path(d) for d in site_dirs_from_environment()]
    return [*dirs, DEFAULT_SITES_DIR] if DEFAULT_SITES_DIR.is_dir() else dirs


@plugins_cli.command("new")
@click.argument("name")
@click.option(
    "--from-layout",
    "layout",
    type=click.Choice(["csv", "bus"]),
    default="csv",
    show_default=True,
    help="csv: a flat BUS-coded CSV; bus: the national BUS delivery as nested XML.",
)
@click.option("--site-name", default="", help="The site as people call it.")
@click.option("--member", "members", multiple=True, help="A member municipality (GM0513).")
@click.option(
    "--into",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Directory to write the site folder in (default: the first --sites, else ./sites).",
)
def new_command(
    name: str, layout: str, site_name: str, members: tuple[str, ...], into: Path | None
) -> None:
    """Write a working declarative site NAME (three data files and a synthetic sample)."""
    config = _config()
    directory = into or (config.site_dirs[0] if config.site_dirs else DEFAULT_SITES_DIR)
    try:
        folder = new_site(name, directory, layout=layout, site_name=site_name, members=members)
    except SiteFileError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"Wrote the declarative site {name!r} in {folder}:")
    for path in sorted(folder.iterdir()):
        click.echo(f"  {path.name}")
    sites = "" if directory == DEFAULT_SITES_DIR else f" --sites {directory}"
    click.echo(f"Next: edit the files, then run `fiptrial plugins{sites} check {name}`.")


@plugins_cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_command(as_json: bool) -> None:
    """Show the installed site plugins with their versions and mapping versions.

    Exits with status 1 when a plugin is broken (the application would refuse to start).
    """
    config = _config()
    try:
        pm = build_plugin_manager(
            entry_points=config.entry_points, plugins=config.plugins, site_dirs=_site_dirs(config)
        )
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


@plugins_cli.command("check")
@click.argument("name")
@click.option(
    "--sample",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Export file to parse instead of the plugin's own sample (only counts are shown).",
)
def check_command(name: str, sample: Path | None) -> None:
    """Run the platform's conformance checks on the site plugin NAME.

    Prints every check as passed or FAILED and exits with status 1 naming each failure. With
    --sample, the sample check reports per column how many values were valid, invalid or
    empty and which local codes are unmapped (with counts) -- never a value.
    """
    config = _config()
    results = check_plugin(
        name,
        sample=sample,
        plugins=config.plugins,
        entry_points=config.entry_points,
        site_dirs=_site_dirs(config),
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


@plugins_cli.command("docs")
@click.option("--check", is_flag=True, help="Only report whether the page is current.")
def docs_command(check: bool) -> None:
    """Regenerate the hook reference (fiptrial/plugins/plugin-hooks.md) from hookspecs.py."""
    status = hookdocs.main(["--check"] if check else [])
    if status:
        raise click.exceptions.Exit(status)
