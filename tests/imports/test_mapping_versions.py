"""Mapping versions (issue 12): a new version of the site's table that changes what a code
means corrects the exits already recorded; an old export can be re-read under the version it
was read with; an unknown version is refused naming the field.

The expected codes come from the two tables written out below, never from the importer.
"""

from __future__ import annotations

import dataclasses
import io
from datetime import date
from typing import Any

import pytest
from import_helpers import Line, export_bytes

from fiptrial.extensions import db
from fiptrial.models import OutcomeEvent
from fiptrial.plugins import ReasonMapping
from fiptrial.services.spells import participant_spells

#: In 2026.1 GIL ("geen inlichtingen") is BUS 31; the ISD finds out that its GIL code is used
#: for clients who did not turn up (BUS 34) and releases 2026.2.
GIL_BEFORE, GIL_AFTER = "31", "34"


@pytest.fixture
def newer_plugin(bw_site: Any, monkeypatch: Any) -> Any:
    """Install a Brabantse Wal plugin whose history adds 2026.2 (GIL -> 34) after 2026.1."""
    from fiptrial.plugins.manager import get_site_plugin
    from fiptrial.services.imports import common

    plugin = get_site_plugin("brabantse_wal")
    assert plugin.mapping.get("GIL").bus_code == GIL_BEFORE
    entries = tuple(
        dataclasses.replace(e, bus_code=GIL_AFTER) if e.local_code == "GIL" else e
        for e in plugin.mapping.entries
    )
    newer = ReasonMapping("2026.2", entries, valid_from=date(2026, 6, 1))
    installed = dataclasses.replace(plugin, history=(*plugin.history, newer))
    assert installed.mapping_version == "2026.2"

    def install() -> Any:
        monkeypatch.setattr(common, "get_site_plugin", lambda name: installed)
        return installed

    return install


def _events(participant: Any) -> list[tuple[str, str | None, str | None, str, int]]:
    return [
        (e.kind, e.previous_bus_code, e.bus_code, e.mapping_version, e.line)
        for e in db.session.query(OutcomeEvent)
        .filter_by(participant_id=participant.id)
        .order_by(OutcomeEvent.id)
    ]


def test_a_changed_code_corrects_the_exits_recorded_under_the_old_version(
    app: Any, enrol: Any, upload: Any, newer_plugin: Any
) -> None:
    gil, arb, later = enrol(), enrol(), enrol()
    first = upload("outcome", "bw", export_bytes([
        Line(gil[1], end="05-10-2026", reason="GIL"),
        Line(arb[1], end="06-10-2026", reason="ARB"),
        Line(later[1]),
    ])).get_json()  # fmt: skip
    assert first["exits_by_code"] == {"11": 1, GIL_BEFORE: 1}
    assert first["mapping_version"] == "2026.1"

    newer_plugin()
    # The next month's export no longer lists the GIL client: the table alone corrects it.
    second = upload("outcome", "bw", export_bytes([Line(later[1], end="07-11-2026", reason="GIL")]))
    report = second.get_json()

    assert second.status_code == 201
    assert (report["remapped"], report["remap_conflicts"]) == (1, 0)
    assert report["exits_by_code"] == {GIL_AFTER: 1}  # the new exit under the new version
    assert report["mapping_version"] == "2026.2"
    assert _events(gil[0]) == [
        ("exit", None, GIL_BEFORE, "2026.1", 2),
        ("correction", GIL_BEFORE, GIL_AFTER, "2026.2", 0),  # line 0: from the table
    ]
    assert _events(arb[0]) == [("exit", None, "11", "2026.1", 3)]  # ARB did not change
    (spell,) = participant_spells(gil[0])
    assert (spell.end, spell.end_code) == (date(2026, 10, 5), GIL_AFTER)
    assert [(c.previous_code, c.code) for c in spell.corrections] == [(GIL_BEFORE, GIL_AFTER)]

    # Nothing more to correct: a third import under 2026.2 adds no second correction.
    third = upload("outcome", "bw", export_bytes([Line(gil[1], end="05-10-2026", reason="GIL")]))
    assert third.get_json()["remapped"] == 0
    assert len(_events(gil[0])) == 2


def test_an_old_export_is_re_read_under_the_version_it_used(
    app: Any, enrol: Any, upload: Any, client: Any, build: Any, bearer: Any, newer_plugin: Any
) -> None:
    gil = enrol()
    old_file = export_bytes([Line(gil[1], end="05-10-2026", reason="GIL")])
    first = upload("outcome", "bw", old_file).get_json()
    newer_plugin()

    def post(data: bytes, version: str) -> Any:
        return client.post(
            "/api/v1/sites/bw/outcome-imports",
            headers=bearer(build.token("research_admin")),
            data={"file": (io.BytesIO(data), "export.csv"), "mapping_version": version},
            content_type="multipart/form-data",
        )

    again = post(old_file, "2026.1")
    assert again.status_code == 200  # the same file under the version it used: the same batch
    assert again.get_json()["duplicate_of"] == first["batch"]

    # Another old file read under 2026.1 keeps the old meaning and corrects nothing.
    other = enrol()
    under_old = post(export_bytes([Line(other[1], end="06-10-2026", reason="GIL")]), "2026.1")
    report = under_old.get_json()
    assert under_old.status_code == 201
    assert (report["exits_by_code"], report["remapped"]) == ({GIL_BEFORE: 1}, 0)
    assert _events(gil[0]) == [("exit", None, GIL_BEFORE, "2026.1", 2)]

    unknown = post(old_file, "2019.9")
    assert unknown.status_code == 422
    error = unknown.get_json()["error"]
    assert error["code"] == "mapping_version_unknown"
    assert "mapping_version" in error["fields"]
    assert error["known"] == "2026.1, 2026.2"


def test_a_blank_version_reads_under_the_current_one_and_other_fields_are_left_out(
    app: Any, enrol: Any, client: Any, build: Any, bearer: Any, newer_plugin: Any
) -> None:
    newer_plugin()
    gil = enrol()
    response = client.post(
        "/api/v1/sites/bw/outcome-imports",
        headers=bearer(build.token("research_admin")),
        data={
            "file": (
                io.BytesIO(export_bytes([Line(gil[1], end="05-10-2026", reason="GIL")])),
                "e.csv",
            ),
            "mapping_version": "",
            "comment": "a field the API does not read",
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 201
    report = response.get_json()
    assert (report["mapping_version"], report["exits_by_code"]) == ("2026.2", {GIL_AFTER: 1})


def test_the_cli_reads_under_an_earlier_version(
    app: Any, enrol: Any, runner: Any, tmp_path: Any, newer_plugin: Any
) -> None:
    import json

    newer_plugin()
    gil = enrol()
    path = tmp_path / "export.csv"
    path.write_bytes(export_bytes([Line(gil[1], end="05-10-2026", reason="GIL")]))
    result = runner.invoke(
        args=["import-outcomes", "--site", "bw", "--mapping-version", "2026.1", str(path)]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["mapping_version"], report["exits_by_code"]) == ("2026.1", {GIL_BEFORE: 1})
