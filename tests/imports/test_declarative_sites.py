"""Declarative sites end to end (issue 12, "Done when").

1. A site written by ``fiptrial plugins new --from-layout bus`` passes ``fiptrial plugins
   check``; a synthetic population written as a nested BUS XML delivery is imported into it
   (participants through the API, outcomes through the CLI), and the same population written
   as a flat CSV is imported into a CSV site (participants through the CLI, outcomes through
   the API). Both databases end with the same participants, the same benefit units and the
   same spells -- compared field by field, not against the importer's own counts.
2. A site made of data files only (no Python file at all) is installed with the package
   installer, found through its entry point, checked, and imported from.
"""

from __future__ import annotations

import copy
import io
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from fiptrial.plugins.commands import PluginCliConfig, plugins_cli
from fiptrial.plugins.declarative import ExportLayout
from fiptrial.plugins.declarative.synthetic import synthetic_exports
from fiptrial.plugins.declarative.writer import write_export

KEYS = {"SECRET_KEY": "test-secret", "PSEUDONYM_KEY": "test-pseudonym-key"}
MEMBERS = ("GM0513", "GM0484")  # Gouda and Alphen aan den Rijn: no installed site has them
TRIAL_DATA = {
    "code": "t1",
    "name": "Declarative trial",
    "arms": [{"code": "fip", "ratio": 1}, {"code": "control", "ratio": 1}],
    "method": "permuted_blocks",
    "block_multipliers": [1],
    "stratify_by": ["site"],
    "consent_design": "zelen",  # allocation needs no prior consent: the test is about imports
    "followup_years": 3,
}


def plugins(args: list[str], sites: Path, entry_points: bool = False) -> Any:
    config = PluginCliConfig(entry_points=entry_points, site_dirs=[sites])
    return CliRunner().invoke(plugins_cli, args, obj=config, catch_exceptions=False)


def new_site(sites: Path, name: str, layout: str) -> Path:
    args = ["new", name, "--from-layout", layout, "--into", str(sites)]
    args += [part for member in MEMBERS for part in ("--member", member)]
    result = plugins(args, sites)
    assert result.exit_code == 0, result.output
    check = plugins(["check", name], sites)
    assert check.exit_code == 0, check.output
    assert "All 9 checks passed." in check.output
    return sites / name


def write(folder: Path, rows: list[Any], path: Path) -> Path:
    layout = ExportLayout.from_toml((folder / "export.toml").read_text(encoding="utf-8"))
    with path.open("wb") as out:
        write_export(layout, rows, out)
    return path


@pytest.fixture
def app_for(sqlite_template: Path, tmp_path: Path) -> Iterator[Any]:
    """``app_for(name, **config)``: a fresh migrated SQLite database and its application."""
    from fiptrial import create_app
    from fiptrial.extensions import db

    made: list[Any] = []

    def make(name: str, **config: Any) -> Any:
        path = tmp_path / f"{name}.sqlite"
        shutil.copy(sqlite_template, path)
        app = create_app(
            {"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", **KEYS, **config}
        )
        made.append(app)
        return app

    yield make
    for app in made:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def _post(app: Any, site: str, kind: str, path: Path) -> dict[str, Any]:
    from fiptrial.services.tokens import create_token

    token = create_token(role="research_admin", site=None, user=None, actor="test")[1]
    response = app.test_client().post(
        f"/api/v1/sites/{site}/{kind}-imports",
        headers={"Authorization": f"Bearer {token}"},
        data={"file": (io.BytesIO(path.read_bytes()), path.name)},
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.get_json()
    report: dict[str, Any] = response.get_json()
    return report


def _cli(app: Any, command: str, site: str, path: Path) -> dict[str, Any]:
    result = app.test_cli_runner().invoke(args=[command, "--site", site, str(path)])
    assert result.exit_code == 0, result.output
    report: dict[str, Any] = json.loads(result.output)
    return report


def _allocate_everybody(site: Any) -> int:
    from fiptrial.extensions import db
    from fiptrial.models import Participant
    from fiptrial.services import randomisation

    people = db.session.query(Participant).filter_by(site_id=site.id, eligible=True)
    ids = [p.id for p in people.order_by(Participant.id)]
    for pid in ids:
        randomisation.allocate(pid, actor="test")
    return len(ids)


def _state(site: Any) -> dict[str, Any]:
    """Participants, units and spells by pseudonym: everything the imports decided."""
    from fiptrial.extensions import db
    from fiptrial.models import Participant
    from fiptrial.services.spells import participant_spells

    people = db.session.query(Participant).filter_by(site_id=site.id).all()
    units: dict[str | None, set[str]] = {}
    for person in people:
        units.setdefault(person.unit_key, set()).add(person.pseudonym)
    return {
        "participants": {
            p.pseudonym: (p.birth_date, p.sex, p.municipality, p.benefit_start, p.eligible)
            for p in people
        },
        "units": sorted(sorted(members) for key, members in units.items() if key is not None),
        "spells": {
            p.pseudonym: [
                (s.start, s.end, s.end_code, s.municipality, s.transfers)
                for s in participant_spells(p)
            ]
            for p in people
        },
    }


def _import(app: Any, plugin: str, enrolment: Path, outcomes: Path, xml: bool) -> Any:
    from fiptrial.services import trials

    with app.app_context():
        trial = trials.create_trial(copy.deepcopy(TRIAL_DATA), actor="test")
        site = trials.add_site(trial, {"code": "gm", "plugin": plugin}, actor="test")
        assert tuple(site.municipalities) == MEMBERS  # from the site's site.toml
        if xml:
            enrolled = _post(app, "gm", "participant", enrolment)
        else:
            enrolled = _cli(app, "import-participants", "gm", enrolment)
        allocated = _allocate_everybody(site)
        if xml:
            outcome = _cli(app, "import-outcomes", "gm", outcomes)
        else:
            outcome = _post(app, "gm", "outcome", outcomes)
        return enrolled, allocated, outcome, _state(site)


def test_a_bus_site_from_plugins_new_imports_like_the_equivalent_csv(
    app_for: Any, tmp_path: Path
) -> None:
    # Two folders of sites: the two sites share their members, so no application may see both.
    xml_sites, csv_sites = tmp_path / "xml_sites", tmp_path / "csv_sites"
    bus, flat = new_site(xml_sites, "gouda", "bus"), new_site(csv_sites, "gouda_csv", "csv")
    assert "<Uitkering>" in (bus / "sample_export.xml").read_text(encoding="utf-8")
    enrolment_rows, outcome_rows = synthetic_exports(MEMBERS, benefits=40, seed=12)
    files = {
        name: (write(folder, enrolment_rows, tmp_path / f"{name}_enrol.{ext}"),
               write(folder, outcome_rows, tmp_path / f"{name}_outcomes.{ext}"))
        for name, folder, ext in (("gouda", bus, "xml"), ("gouda_csv", flat, "csv"))
    }  # fmt: skip
    assert b"<Persoon>" in files["gouda"][0].read_bytes()

    xml = _import(app_for("xml", PLUGINS_SITE_DIRS=[xml_sites]), "gouda", *files["gouda"], xml=True)
    csv = _import(
        app_for("csv", PLUGINS_SITE_DIRS=[csv_sites]), "gouda_csv", *files["gouda_csv"], xml=False
    )

    (xml_enrolled, xml_allocated, xml_outcome, xml_state) = xml
    (csv_enrolled, csv_allocated, csv_outcome, csv_state) = csv
    persons = sum(1 for row in enrolment_rows if row.statistic_code == "01")
    assert xml_enrolled["registered"] == persons and xml_enrolled["other_benefits"] == 1
    assert xml_enrolled["rejected"] == [] and xml_allocated > 0
    for key in ("registered", "ineligible", "other_benefits", "rejected"):
        assert xml_enrolled[key] == csv_enrolled[key], key
    assert xml_state == csv_state
    assert xml_allocated == csv_allocated
    # What the synthetic population holds, checked on the XML side:
    units = xml_state["units"]
    assert len(units) == 40 and sum(1 for members in units if len(members) == 2) == 10
    spells = xml_state["spells"].values()
    assert any(len(s) == 2 for s in spells)  # the re-entries after 60 days
    assert any(s and s[0][4] == 1 and s[0][1] is None for s in spells)  # moves within the site
    codes = {s[0][2] for s in spells if s and s[0][2]}
    assert {"11", "31"} <= codes
    assert xml_outcome["transfers_linked"] == csv_outcome["transfers_linked"] > 0
    for key in ("exits", "exits_by_code", "reentries", "other_benefits", "rejected"):
        assert xml_outcome[key] == csv_outcome[key], key


# --- a site of data files only, installed ---------------------------------------------------


def _install(folder: Path, target: Path) -> None:
    """Install the site folder as the package installer would (uv when present, else pip)."""
    uv = shutil.which("uv") or str(Path(sys.executable).with_name("uv"))
    if Path(uv).exists():
        command = [uv, "pip", "install", "--offline", "--python", sys.executable,
                   "--target", str(target), str(folder)]  # fmt: skip
    else:
        command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                   "--target", str(target), str(folder)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    if done.returncode != 0 and "offline" in " ".join(command):
        pytest.skip(f"no offline build backend for the installer: {done.stderr[-300:]}")
    assert done.returncode == 0, done.stderr


@pytest.mark.slow
def test_a_site_of_data_files_only_is_installed_checked_and_imported_from(
    app_for: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fiptrial.plugins import manager

    sites, target = tmp_path / "sites", tmp_path / "site-packages"
    folder = new_site(sites, "zundert", "csv")
    assert not list(folder.rglob("*.py")), "the site must hold no Python"
    _install(folder, target)
    shutil.rmtree(sites)  # from now on only the installed package can answer
    monkeypatch.syspath_prepend(str(target))
    manager._entry_point_names.cache_clear()
    monkeypatch.setattr(manager, "_entry_point_names", manager._entry_point_names)
    try:
        assert "zundert" in manager.installed_plugin_names()
        check = plugins(["check", "zundert"], tmp_path / "none", entry_points=True)
        assert check.exit_code == 0, check.output
        assert "declarative site" in check.output
        host = manager.build_plugin_host(entry_points="zundert")
        assert host["zundert"].distribution == "fiptrial-site-zundert 0.1.0"

        enrolment, _ = synthetic_exports(MEMBERS, benefits=6, seed=3)
        csv_path = tmp_path / "enrol.csv"
        layout = host.pm.get_plugin("zundert").layout
        with csv_path.open("wb") as out:
            write_export(layout, enrolment, out)
        app = app_for("installed")  # entry points on, no site folders
        from fiptrial.services import trials

        with app.app_context():
            trial = trials.create_trial(copy.deepcopy(TRIAL_DATA), actor="test")
            trials.add_site(trial, {"code": "zu", "plugin": "zundert"}, actor="test")
            report = _post(app, "zu", "participant", csv_path)
        expected = sum(1 for row in enrolment if row.statistic_code == "01")
        assert (report["registered"], report["other_benefits"]) == (expected, 1)
    finally:
        manager._entry_point_names.cache_clear()


def test_plugins_new_refuses_a_bad_name_and_an_existing_folder(tmp_path: Path) -> None:
    sites = tmp_path / "sites"
    bad = plugins(["new", "Gouda!", "--into", str(sites)], sites)
    assert bad.exit_code == 1 and "use 2-40 lower-case letters" in bad.output
    assert plugins(["new", "gouda", "--into", str(sites)], sites).exit_code == 0
    again = plugins(["new", "gouda", "--into", str(sites)], sites)
    assert again.exit_code == 1 and "already exists" in again.output
    member = plugins(["new", "hoorn", "--member", "0748", "--into", str(sites)], sites)
    assert member.exit_code == 1 and "not a CBS code" in member.output


def test_check_sample_reports_counts_per_column_never_a_value(tmp_path: Path) -> None:
    sites = tmp_path / "sites"
    folder = new_site(sites, "gouda", "bus")
    real = (folder / "sample_export.xml").read_text(encoding="utf-8")
    first_bsn = real.split("<BSN>")[1].split("</BSN>")[0]
    broken = real.replace(f"<BSN>{first_bsn}</BSN>", "<BSN>123456789</BSN>", 1)
    broken = broken.replace("<RedenBeeindiging>11</RedenBeeindiging>",
                            "<RedenBeeindiging>77</RedenBeeindiging>")  # fmt: skip
    sample = tmp_path / "real.xml"
    sample.write_text(broken, encoding="utf-8")
    result = plugins(["check", "gouda", "--sample", str(sample)], sites)
    assert result.exit_code == 0, result.output  # a real export may have bad rows
    assert "column Persoon/BSN:" in result.output and " 1 invalid, 0 empty" in result.output
    assert "unmapped local codes: '77' (" in result.output
    values = re.findall(r"<(?:BSN|Geboortedatum|DatumBegin|DatumEinde)>(\d+)<", broken)
    assert len(values) > 20
    assert not [value for value in values if value in result.output]
