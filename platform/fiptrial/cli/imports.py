"""``fiptrial import-participants`` and ``fiptrial import-outcomes``: the same services and the
same JSON report as the API, for an operator with the export on disk."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from flask import Flask

from fiptrial.cli.common import OPERATOR, reports_errors
from fiptrial.services.imports import import_outcomes, import_participants
from fiptrial.services.trials import get_site


def _say_progress(rows: int) -> None:
    """A long import (an export of 200,000 rows takes minutes) says how far it has read, on
    stderr, so that the report on stdout stays one JSON document."""
    click.echo(f"{rows} rows read ...", err=True)


def _run(
    site_code: str, path: Path, service: Callable[..., dict[str, Any]], mapping: str | None
) -> None:
    report = service(
        get_site(site_code), path, actor=OPERATOR, mapping_version=mapping, progress=_say_progress
    )
    click.echo(json.dumps(report, indent=2, ensure_ascii=False))


MAPPING_OPTION = click.option(
    "--mapping-version",
    default=None,
    help="Read under this earlier version of the site's reason table (default: the current).",
)


def _import_command(name: str) -> Callable[[Callable[..., None]], click.Command]:
    """The options every import command takes: the site, the export FILE, the mapping version."""

    def decorate(function: Callable[..., None]) -> click.Command:
        site = click.option(
            "--site", "site_code", required=True, help="Site code, e.g. brabantse_wal."
        )
        file = click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
        return click.command(name)(site(file(MAPPING_OPTION(reports_errors(function)))))

    return decorate


@_import_command("import-participants")
def import_participants_command(site_code: str, file: Path, mapping_version: str | None) -> None:
    """Register the running benefits of an export FILE as participants of SITE."""
    _run(site_code, file, import_participants, mapping_version)


@_import_command("import-outcomes")
def import_outcomes_command(site_code: str, file: Path, mapping_version: str | None) -> None:
    """Import the outcomes (exits, transfers, re-entries, corrections) in export FILE."""
    _run(site_code, file, import_outcomes, mapping_version)


def add_import_commands(app: Flask) -> None:
    for command in (import_participants_command, import_outcomes_command):
        app.cli.add_command(command)
