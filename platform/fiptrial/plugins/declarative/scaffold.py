"""``fiptrial plugins new NAME``: write a working declarative site to start from.

The folder it writes passes ``fiptrial plugins check NAME`` as it is: ``site.toml``, the
chosen layout's ``export.toml``, the BUS mapping (``mapping.csv``, local codes equal to the BUS
codes), a synthetic sample export in that layout, a README with the next steps, and a
``pyproject.toml`` that installs the folder as a package without any Python in it. The
application manager then edits the three data files to the municipality's own export and
codes, and checks a real export with ``--sample`` (only counts are shown).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from fiptrial.plugins.declarative import LAYOUTS, SiteFileError, layout_files, layouts_root
from fiptrial.plugins.declarative.layout import ExportLayout
from fiptrial.plugins.declarative.synthetic import synthetic_exports
from fiptrial.plugins.declarative.writer import write_export
from fiptrial.plugins.hookspecs import PLUGIN_API_VERSION
from fiptrial.plugins.info import is_municipality_code

NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]{1,39}")
#: Stand-in municipality for the sample when the site takes its members from its settings.
SAMPLE_MUNICIPALITY = "GM0363"


def new_site(
    name: str,
    directory: Path,
    *,
    layout: str = "csv",
    site_name: str = "",
    members: Sequence[str] = (),
) -> Path:
    """Write the site ``name`` into ``directory/name``; returns that folder.

    Raises:
        SiteFileError: a name that is not lower case letters, digits and underscores, an
            unknown layout, an invalid member code, or a folder that already exists.
    """
    if not NAME_PATTERN.fullmatch(name):
        raise SiteFileError(
            f"site name {name!r}: use 2-40 lower-case letters, digits and underscores, "
            "starting with a letter (e.g. gouda)"
        )
    wrong = [code for code in members if not is_municipality_code(code)]
    if wrong:
        raise SiteFileError(f"member {wrong[0]!r} is not a CBS code such as GM0513")
    files = layout_files(layout)
    folder = directory / name
    if folder.exists():
        raise SiteFileError(f"{folder} already exists: choose another name or remove it")
    export_toml = (files / "export.toml").read_text(encoding="utf-8")
    parsed = ExportLayout.from_toml(export_toml, "export.toml")
    sample_name = f"sample_export.{parsed.format}"
    folder.mkdir(parents=True)
    (folder / "export.toml").write_text(export_toml, encoding="utf-8")
    mapping = (layouts_root() / "bus_mapping.csv").read_text(encoding="utf-8")
    (folder / "mapping.csv").write_text(mapping, encoding="utf-8")
    (folder / "site.toml").write_text(
        _site_toml(name, site_name or name.replace("_", " ").title(), members, sample_name),
        encoding="utf-8",
    )
    _, outcomes = synthetic_exports(tuple(members) or (SAMPLE_MUNICIPALITY,), benefits=12)
    with (folder / sample_name).open("wb") as out:
        write_export(parsed, outcomes, out)
    (folder / "pyproject.toml").write_text(_pyproject(name), encoding="utf-8")
    (folder / "README.md").write_text(_readme(name, layout), encoding="utf-8")
    return folder


def _toml_list(values: Sequence[str]) -> str:
    return "[" + ", ".join(f'"{value}"' for value in values) + "]"


def _site_toml(name: str, site_name: str, members: Sequence[str], sample: str) -> str:
    return f'''# Who the site is. Edit site_name and members; keep name equal to the folder's name.
api_version = "{PLUGIN_API_VERSION}"   # the plugin interface these files were written for
name = "{name}"
version = "0.1.0"                      # raise it whenever a file changes
site_name = "{site_name}"
# Member municipalities as CBS codes (e.g. ["GM0513"]). A client who moves between two of them
# stays with the site: a transfer, not an exit. [] takes the members from the site's settings.
members = {_toml_list(members)}
# BUS statistiekcodes (kenmerk 8) of the benefit in the trial: 01 algemene bijstand.
benefit_statistic_codes = ["01"]
# A synthetic export in the site's format (never real clients): the checks parse it.
sample = "{sample}"
'''


def _pyproject(name: str) -> str:
    package = f"fiptrial_site_{name}"
    return f'''# Installs this folder as a package without any Python in it:
#   pip install ./{name}
# The platform finds it through the entry point and reads its data files.
[build-system]
requires = ["setuptools>=77"]
build-backend = "setuptools.build_meta"

[project]
name = "fiptrial-site-{name.replace("_", "-")}"
version = "0.1.0"
description = "FIP trial site {name} (declarative: data files only)"
requires-python = ">=3.11"

[project.entry-points."fiptrial.plugins"]
{name} = "{package}"

[tool.setuptools]
packages = ["{package}"]
package-dir = {{ "{package}" = "." }}

[tool.setuptools.package-data]
{package} = ["*.toml", "*.csv", "*.xml"]
'''


def _readme(name: str, layout: str) -> str:
    return f"""# FIP trial site `{name}`

A declarative site: three data files and no code. Written by
`fiptrial plugins new {name} --from-layout {layout}`; it passes `fiptrial plugins check {name}`
as it is.

1. `site.toml`: set `site_name` and `members` (CBS codes).
2. `export.toml`: give each field the header name (CSV) or element name (XML) your system
   writes, the date format and the sex codes. Comments in the file explain every key.
3. `mapping.csv`: your local end-of-benefit codes to the BUS codes (kenmerk 34). Never edit a
   released version: add the whole table again under a new `mapping_version` with its
   `valid_from` date. Outcomes already recorded whose code changes meaning get a correction.
4. Replace the sample export by one of synthetic clients in your format, or keep this one.
5. Check a real export -- only counts are shown, never a value:
   `fiptrial plugins check {name} --sample last-month.{"xml" if layout == "bus" else "csv"}`
6. Install it (`pip install ./{name}`) or put this folder in a directory named by the
   environment variable `FIPTRIAL_SITES`, and give the trial's site the plugin name `{name}`.
"""


__all__ = ["LAYOUTS", "new_site"]
