"""``fiptrial-prepare-export --site NAME --key-file KEY export.csv``: pseudonymise at the source.

Runs on the municipality's own machine with the plugin host alone (no database, no server, no
Flask): reads the export through the site plugin NAME, checks it, replaces every BSN and
benefit registration number by the site's token (:mod:`fiptrial.plugins.prepared`) and writes
``export.prepared.csv`` (or ``--out``), which holds no BSN. It prints counts only, never a
value. Exit status 1 when the file cannot be read or the key file does not fit the site.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from fiptrial.plugins.commands import sites_option
from fiptrial.plugins.manager import build_plugin_host, site_dirs_from_environment
from fiptrial.plugins.prepared import SiteKey, write_prepared
from fiptrial.plugins.rows import ExportFormatError


def default_output(export: Path) -> Path:
    return export.with_name(export.stem + ".prepared.csv")


@click.command("fiptrial-prepare-export")
@click.option("--site", "site_name", required=True, help="The site plugin that reads the export.")
@click.option(
    "--key-file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The site's key file (from the research admin: fiptrial site-key issue).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The prepared file (default: EXPORT.prepared.csv next to the export).",
)
@sites_option
@click.argument("export", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def main(
    site_name: str, key_file: Path, out: Path | None, sites: tuple[Path, ...], export: Path
) -> None:
    """Write a copy of EXPORT with every BSN replaced by the site's token."""
    try:
        key = SiteKey.read(key_file)
    except ExportFormatError as error:
        raise click.ClickException(error.message) from None
    if key.plugin != site_name:
        raise click.ClickException(
            f"the key file is for site plugin {key.plugin!r}, not {site_name!r}"
        )
    host = build_plugin_host(
        site_dirs=[*sites, *site_dirs_from_environment(), Path("sites")], strict=False
    )
    plugin = host.get(site_name)
    if plugin is None:
        known = ", ".join(sorted(host.sites)) or "none"
        raise click.ClickException(f"no site plugin called {site_name!r} (installed: {known})")
    target = out or default_output(export)
    partial = target.with_name(target.name + ".part")
    try:
        with partial.open("w", encoding="utf-8", newline="") as handle:
            summary = write_prepared(plugin.read_export(export), key, handle)
    except ExportFormatError as error:
        partial.unlink(missing_ok=True)
        raise click.ClickException(f"the export cannot be read: {error.message}") from None
    partial.replace(target)  # never a half-written prepared file under the final name
    click.echo(
        f"Prepared {summary.rows} rows for site {key.site} (trial {key.trial}, key version "
        f"{key.version}): {summary.valid} readable, {summary.with_errors} with errors "
        f"(listed by line in the platform's import report), {summary.without_bsn} without a "
        f"valid BSN. Written: {target} (no BSN in it)."
    )


if __name__ == "__main__":
    main(sys.argv[1:])
