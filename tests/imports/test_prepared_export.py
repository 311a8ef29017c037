"""Pseudonymisation at the source (issue 16): ``fiptrial-prepare-export`` turns a municipality's
export into a file with no BSN, which the platform imports with the same result as the
original, saying in the report that no BSN arrived."""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from import_helpers import Line, export_bytes
from stdnum.nl import bsn as stdnum_bsn

from fiptrial.plugins.prepare import main as prepare_main

PARTICIPANT_FACTS = ("pseudonym", "birth_date", "sex", "benefit_start", "eligible", "stratum")


def lines(build: Any) -> tuple[list[Line], list[str]]:
    """A small export: running benefits, an ended one, a bad BSN and a bad date."""
    bsns = [build.next_bsn() for _ in range(5)]
    return [
        Line(bsns[0]),
        Line(bsns[1], sex="M", start="01-03-2021"),
        Line(bsns[2], birth="03-02-1990"),
        Line(bsns[3], end="01-06-2026", reason="01"),
        Line(bsns[4], start="31-02-2021"),
        Line("123456789"),
    ], bsns


def prepare(tmp_path: Path, export: bytes, key_file: Path) -> bytes:
    source = tmp_path / "clienten.csv"
    source.write_bytes(export)
    result = CliRunner().invoke(
        prepare_main, ["--site", "brabantse_wal", "--key-file", str(key_file), str(source)]
    )
    assert result.exit_code == 0, result.output
    assert "Prepared 6 rows" in result.output and "(no BSN in it)" in result.output
    return (tmp_path / "clienten.prepared.csv").read_bytes()


def outcome(site: Any, data: bytes) -> tuple[dict[str, Any], list[tuple[Any, ...]]]:
    from fiptrial.extensions import db
    from fiptrial.models import Participant
    from fiptrial.services.imports import import_participants

    report = import_participants(site, io.BytesIO(data), actor="test")
    people = sorted(
        tuple(getattr(p, f) for f in PARTICIPANT_FACTS)
        for p in db.session.query(Participant).filter_by(site_id=site.id)
    )
    return report, people


def altered(prepared: bytes) -> bytes:
    """The prepared file with one character of the first row's BSN token changed."""
    head, columns, first, *rest = prepared.split(b"\n")
    fields = first.split(b",")
    fields[1] = fields[1][:5] + (b"A" if fields[1][5:6] != b"A" else b"B") + fields[1][6:]
    return b"\n".join([head, columns, b",".join(fields), *rest])


def comparable(report: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in report.items() if k not in ("batch", "bsn_received")}


def test_a_prepared_file_imports_like_the_original_and_holds_no_bsn(
    app: Any, build: Any, bw_site: Any, tmp_path: Path, sqlite_template: Path
) -> None:
    from fiptrial import create_app
    from fiptrial.services import source_keys

    export_lines, bsns = lines(build)
    original = export_bytes(export_lines)
    key = source_keys.issue(bw_site, actor="test")
    key_file = tmp_path / "bw.key"
    key.write(key_file)
    assert key_file.stat().st_mode & 0o777 == 0o600
    prepared = prepare(tmp_path, original, key_file)

    # No BSN in the prepared file: not the export's, nor any 9 digits passing the elfproef.
    text = prepared.decode("utf-8")
    assert not any(number in text for number in bsns)
    assert [n for n in re.findall(r"(?<!\d)\d{9}(?!\d)", text) if stdnum_bsn.is_valid(n)] == []
    assert "17-05-1980" not in text  # dates are ISO, as the reader gave them

    report_original, people_original = outcome(bw_site, original)
    assert report_original["registered"] == 3 and len(report_original["rejected"]) == 2
    assert "bsn_received" not in report_original

    # The same file prepared at the source, imported into a second, empty platform database
    # (a SQLite copy of the migrated template, whichever database the first one is) with the
    # same platform key: so the same trial pseudonyms, and the same site key.
    copy = tmp_path / "second.sqlite"
    shutil.copy(sqlite_template, copy)
    second = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{copy}",
            "SECRET_KEY": app.config["SECRET_KEY"],
            "PSEUDONYM_KEY": app.config["PSEUDONYM_KEY"],
        }
    )
    with second.app_context():
        from fiptrial.extensions import db

        twin = build.site(build.trial("t1"), "bw", "brabantse_wal")
        assert source_keys.issue(twin, actor="test").key == key.key
        report_prepared, people_prepared = outcome(twin, prepared)
        db.session.remove()
        db.engine.dispose()
    assert report_prepared["bsn_received"] is False
    assert comparable(report_prepared) == comparable(report_original)
    assert people_prepared == people_original  # the same trial pseudonyms: duplicates still meet


def test_the_platform_refuses_a_foreign_retired_or_altered_file(
    app: Any, build: Any, bw_site: Any, tmp_path: Path
) -> None:
    from fiptrial.errors import PlatformError
    from fiptrial.services import source_keys
    from fiptrial.services.imports import import_participants

    export_lines, bsns = lines(build)
    key = source_keys.issue(bw_site, actor="test")
    key.write(tmp_path / "bw.key")
    prepared = prepare(tmp_path, export_bytes(export_lines), tmp_path / "bw.key")
    other = build.site(bw_site.trial, "wal2", "brabantse_wal", municipalities=["GM0797"])
    for site, data, code in (
        (other, prepared, "prepared_wrong_site"),
        (bw_site, altered(prepared), "prepared_token_invalid"),
    ):
        with pytest.raises(PlatformError) as refused:
            import_participants(site, io.BytesIO(data), actor="test")
        assert refused.value.code == code
        assert not any(number in refused.value.message for number in bsns)
    source_keys.retire(bw_site, key.version, actor="test")
    with pytest.raises(PlatformError) as refused:
        import_participants(bw_site, io.BytesIO(prepared), actor="test")
    assert refused.value.code == "prepared_key_retired"


def test_the_upload_report_says_no_bsn_arrived(
    app: Any, build: Any, bw_site: Any, tmp_path: Path, upload: Any
) -> None:
    from fiptrial.services import source_keys

    key = source_keys.issue(bw_site, actor="test")
    key.write(tmp_path / "bw.key")
    export_lines, _ = lines(build)
    prepared = prepare(tmp_path, export_bytes(export_lines), tmp_path / "bw.key")
    response = upload("participant", "bw", prepared, name="clienten.prepared.csv")
    assert response.status_code in (200, 201), response.get_json()
    assert response.get_json()["bsn_received"] is False


def test_the_tool_refuses_a_key_for_another_site(app: Any, bw_site: Any, tmp_path: Path) -> None:
    from fiptrial.services import source_keys

    source_keys.issue(bw_site, actor="test").write(tmp_path / "bw.key")
    (tmp_path / "x.csv").write_bytes(b"x")
    result = CliRunner().invoke(
        prepare_main,
        ["--site", "template", "--key-file", str(tmp_path / "bw.key"), str(tmp_path / "x.csv")],
    )
    assert result.exit_code == 1 and "not 'template'" in result.output
    (tmp_path / "bad.key").write_text("{}")
    result = CliRunner().invoke(
        prepare_main,
        [
            "--site",
            "brabantse_wal",
            "--key-file",
            str(tmp_path / "bad.key"),
            str(tmp_path / "x.csv"),
        ],
    )
    assert result.exit_code == 1 and "not a site key file" in result.output


def test_a_prepared_outcome_export_records_the_same_exits(
    app: Any, enrol: Any, bw_site: Any, tmp_path: Path
) -> None:
    from fiptrial.extensions import db
    from fiptrial.models import OutcomeEvent
    from fiptrial.services import source_keys
    from fiptrial.services.imports import import_outcomes

    people = [enrol() for _ in range(2)]
    export = export_bytes(
        [Line(bsn, end="05-11-2026", reason="ARB") for _person, bsn in people]
        + [Line("999998523", end="05-11-2026", reason="ARB")]  # not in the trial
    )
    source_keys.issue(bw_site, actor="test").write(tmp_path / "bw.key")
    source = tmp_path / "uitstroom.csv"
    source.write_bytes(export)
    result = CliRunner().invoke(
        prepare_main,
        ["--site", "brabantse_wal", "--key-file", str(tmp_path / "bw.key"), str(source)],
    )
    assert result.exit_code == 0, result.output
    prepared = (tmp_path / "uitstroom.prepared.csv").read_bytes()
    assert not any(bsn.encode() in prepared for _p, bsn in people)
    report = import_outcomes(bw_site, io.BytesIO(prepared), actor="test")
    assert report["bsn_received"] is False
    exits = db.session.query(OutcomeEvent).filter_by(kind="exit").all()
    assert sorted(e.participant_id for e in exits) == sorted(p.id for p, _bsn in people)


def test_the_tool_needs_neither_flask_nor_a_database() -> None:
    """Shipped with the plugin interface: a console script that imports no Flask, no ORM."""
    import subprocess
    import sys
    from importlib.metadata import entry_points

    [script] = [
        e for e in entry_points(group="console_scripts") if e.name == "fiptrial-prepare-export"
    ]
    assert script.value == "fiptrial.plugins.prepare:main"
    probe = (
        "import sys, fiptrial.plugins.prepare; "
        "print(sorted(m for m in ('flask', 'sqlalchemy', 'flask_sqlalchemy') if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert loaded.stdout.strip() == "[]"
