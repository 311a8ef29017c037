"""Outcome imports (issue 3): exact counts for a realistic Brabantse Wal export, idempotence,
corrections, re-entries, held-back codes, consent withdrawals and unreadable files.

Expected counts are computed from the tags written next to each line below, never from the
importer's own output.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections import Counter
from datetime import date
from typing import Any

import pytest
from import_helpers import Line, export_bytes

from fiptrial.extensions import db
from fiptrial.models import AuditEntry, HeldRow, ImportBatch, OutcomeEvent
from fiptrial.services import consent

OUTSIDER_BSNS = ("999998523", "999998535", "12345672")  # the last lost its leading zero


def realistic_export(enrol: Any) -> tuple[list[tuple[Line, str]], dict[str, Any]]:
    """Lines with the outcome each must have: running, exit:<BUS>, transfer, unmapped:<code>,
    rejected or not_in_trial."""
    names = (
        "running",
        "running_moved",
        "work",
        "sick",
        "historic",
        "move_in",
        "move_out",
        "unknown",
        "bad_date",
        "old_code",
        "withdrawn",
        "before_withdrawal",
    )
    people = {name: enrol() for name in names}
    people["unallocated"] = enrol(allocate=False)
    for name, withdrawn_on in (
        ("withdrawn", date(2026, 11, 10)),
        ("before_withdrawal", date(2026, 11, 15)),
    ):
        consent.record(
            people[name][0], status="withdrawn", version="v1", on=withdrawn_on, actor="test"
        )

    def bsn(name: str) -> str:
        return people[name][1]

    lines = [
        (Line(bsn("running")), "running"),
        (Line(bsn("running_moved"), municipality="GM0873"), "running"),
        (Line(bsn("work"), end="05-11-2026", reason="ARB"), "exit:11"),
        (Line(bsn("sick"), sex="M", end="06-11-2026", reason="ZW"), "exit:11"),
        (Line(bsn("historic"), end="10-11-2026", reason="WLA"), "exit:11"),
        (Line(bsn("move_in"), end="07-11-2026", reason="VHG", new="0851"), "transfer"),
        (Line(bsn("move_out"), end="08-11-2026", reason="VHG", new="GM0599"), "exit:32"),
        (Line(bsn("unknown"), end="09-11-2026", reason="XYZ"), "unmapped:XYZ"),
        (Line("123456789", end="09-11-2026", reason="ARB"), "rejected"),  # fails the elfproef
        (Line(bsn("bad_date"), birth="31-02-1980"), "rejected"),
        (Line(bsn("old_code"), end="11-11-2026", reason="99"), "rejected"),  # 2010 code
        (Line(bsn("withdrawn"), end="20-11-2026", reason="ARB"), "rejected"),
        (Line(bsn("before_withdrawal"), end="12-11-2026", reason="INK"), "exit:19"),
        (Line(OUTSIDER_BSNS[0]), "not_in_trial"),
        (Line(OUTSIDER_BSNS[1], end="05-11-2026", reason="ARB"), "not_in_trial"),
        (Line(OUTSIDER_BSNS[2], end="05-11-2026", reason="VHG", new="0873"), "not_in_trial"),
        (Line(bsn("unallocated"), end="05-11-2026", reason="ARB"), "not_in_trial"),
    ]
    return lines, people


def expected_report(lines: list[tuple[Line, str]]) -> dict[str, Any]:
    tags = [tag for _line, tag in lines]
    kinds = Counter(tag.split(":")[0] for tag in tags)
    return {
        "rows": len(tags),
        "matched": kinds["running"] + kinds["exit"] + kinds["transfer"] + kinds["unmapped"],
        "not_in_trial": kinds["not_in_trial"],
        "exits": kinds["exit"],
        "exits_by_code": dict(sorted(Counter(t[5:] for t in tags if t[:5] == "exit:").items())),
        "transfers_within_site": kinds["transfer"],
        "reentries": 0,
        "corrections": 0,
        "unmapped": dict(Counter(t[9:] for t in tags if t.startswith("unmapped:"))),
        "duplicate_of": None,
    }


def rejected_lines(lines: list[tuple[Line, str]]) -> list[int]:
    return [number + 2 for number, (_line, tag) in enumerate(lines) if tag == "rejected"]


def test_realistic_export_exact_counts_and_second_import_adds_nothing(
    app: Any, enrol: Any, bw_site: Any, upload: Any
) -> None:
    lines, people = realistic_export(enrol)
    data = export_bytes([line for line, _tag in lines])

    response = upload("outcome", "bw", data)

    assert response.status_code == 201, response.get_json()
    report = response.get_json()
    expected = expected_report(lines)
    assert {key: report[key] for key in expected} == expected
    assert [r["line"] for r in report["rejected"]] == rejected_lines(lines)
    reasons = {r["line"]: r["reason"] for r in report["rejected"]}
    assert "elfproef" in reasons[rejected_lines(lines)[0]]
    assert "Geboortedatum" in reasons[rejected_lines(lines)[1]]
    assert "withdrew consent" in reasons[rejected_lines(lines)[3]]
    batch = db.session.get(ImportBatch, report["batch"])
    assert batch.file_sha256 == hashlib.sha256(data).hexdigest()
    assert batch.plugin == "brabantse_wal" and batch.mapping_version == "2026.1"

    events = db.session.query(OutcomeEvent).all()
    assert Counter(e.kind for e in events) == {
        "exit": expected["exits"],
        "transfer_within_site": expected["transfers_within_site"],
    }
    assert all(e.batch_id == batch.id and e.mapping_version == "2026.1" for e in events)
    move_in = next(e for e in events if e.kind == "transfer_within_site")
    assert move_in.participant_id == people["move_in"][0].id
    assert move_in.new_municipality == "GM0851" and move_in.line == 7
    held = db.session.query(HeldRow).one()
    assert (held.participant_id, held.local_code, held.line) == (people["unknown"][0].id, "XYZ", 9)

    # Nothing about people outside the trial is stored, not even in reports or the audit trail.
    stored = json.dumps([b.report for b in db.session.query(ImportBatch)])
    stored += json.dumps([a.data for a in db.session.query(AuditEntry)])
    for outsider in OUTSIDER_BSNS:
        assert outsider not in stored
    entry = db.session.query(AuditEntry).filter_by(action="import.outcomes").one()
    audited = json.loads(entry.data)
    assert audited["file_sha256"] == batch.file_sha256
    assert (audited["plugin"], audited["mapping_version"]) == ("brabantse_wal", "2026.1")
    assert audited["plugin_version"]

    again = upload("outcome", "bw", data)

    assert again.status_code == 200
    assert again.get_json()["duplicate_of"] == batch.id
    assert again.get_json()["batch"] is None
    assert db.session.query(OutcomeEvent).count() == len(events)
    assert db.session.query(ImportBatch).count() == 1
    assert db.session.query(HeldRow).count() == 1


def test_later_export_records_corrections_and_reentries_keeping_both_values(
    app: Any, enrol: Any, bw_site: Any, upload: Any, client: Any, build: Any, bearer: Any
) -> None:
    work, sick, moved, stays = enrol(), enrol(), enrol(), enrol()
    first = [
        Line(work[1], end="05-11-2026", reason="ARB"),
        Line(sick[1], end="06-11-2026", reason="ZW"),
        Line(moved[1], end="07-11-2026", reason="VHG", new="0851"),
        Line(stays[1]),
    ]
    assert upload("outcome", "bw", export_bytes(first)).status_code == 201
    later = [
        Line(work[1], end="04-11-2026", reason="INK"),  # end date and reason corrected
        Line(sick[1], end="06-11-2026", reason="ZW"),  # repeated: nothing new
        Line(sick[1], start="16-11-2026"),  # a new benefit after the exit
        Line(moved[1], end="07-11-2026", reason="VHG", new="0851"),  # repeated
        Line(stays[1]),
    ]

    report = upload("outcome", "bw", export_bytes(later)).get_json()

    assert (report["exits"], report["corrections"], report["reentries"]) == (0, 1, 1)
    assert report["transfers_within_site"] == 0 and report["matched"] == len(later)
    headers = bearer(build.token("research_admin"))
    events = client.get(f"/api/v1/participants/{work[0].id}/outcomes", headers=headers).get_json()
    assert [e["kind"] for e in events] == ["correction", "exit"]  # date order: 04-11, 05-11
    correction = events[0]
    assert (correction["event_date"], correction["bus_code"], correction["local_code"]) == (
        "2026-11-04",
        "19",
        "INK",
    )
    assert (
        correction["previous_date"],
        correction["previous_bus_code"],
        correction["previous_local_code"],
    ) == ("2026-11-05", "11", "ARB")
    assert events[1]["bus_code"] == "11"  # the original exit is kept, not overwritten
    kinds = [
        e["kind"]
        for e in client.get(
            f"/api/v1/participants/{sick[0].id}/outcomes", headers=headers
        ).get_json()
    ]
    assert kinds == ["exit", "reentry"]


def test_new_mapping_version_picks_up_held_rows_without_duplicates(
    app: Any, enrol: Any, bw_site: Any, upload: Any, monkeypatch: Any
) -> None:
    import dataclasses

    from fiptrial.plugins import ReasonEntry, ReasonMapping
    from fiptrial.plugins.manager import get_site_plugin
    from fiptrial.services.imports import common

    held, done = enrol(), enrol()
    data = export_bytes(
        [
            Line(held[1], end="09-11-2026", reason="XYZ"),
            Line(done[1], end="05-11-2026", reason="ARB"),
        ]
    )
    first = upload("outcome", "bw", data).get_json()
    assert first["unmapped"] == {"XYZ": 1} and first["exits"] == 1
    plugin = get_site_plugin("brabantse_wal")
    mapping = ReasonMapping("2026.2", (*plugin.mapping.entries, ReasonEntry("XYZ", "map", "98")))
    newer = dataclasses.replace(plugin, history=(*plugin.history, mapping))
    monkeypatch.setattr(common, "get_site_plugin", lambda name: newer)

    second = upload("outcome", "bw", data)

    assert second.status_code == 201
    report = second.get_json()
    assert report["duplicate_of"] is None
    assert (report["exits"], report["exits_by_code"], report["unmapped"]) == (1, {"98": 1}, {})
    assert report["corrections"] == 0
    assert db.session.query(OutcomeEvent).count() == 2
    exit_98 = db.session.query(OutcomeEvent).filter_by(participant_id=held[0].id).one()
    assert (exit_98.bus_code, exit_98.mapping_version) == ("98", "2026.2")
    assert db.session.query(HeldRow).one().released_batch_id == report["batch"]
    assert upload("outcome", "bw", data).get_json()["duplicate_of"] == report["batch"]


def test_unreadable_file_is_422_and_changes_nothing(
    app: Any, enrol: Any, bw_site: Any, upload: Any
) -> None:
    person = enrol()
    audit_before = db.session.query(AuditEntry).count()
    wrong_header = export_bytes([Line(person[1])]).replace(b";", b",")
    good_then_broken = (
        export_bytes([Line(person[1], end="05-11-2026", reason="ARB")] * 3)
        + b"100009;999998523;01-01-1980;V;0748;01-01-2020;;\x81;;\r\n"
    )

    for data in (wrong_header, good_then_broken, b""):
        response = upload("outcome", "bw", data)
        assert response.status_code == 422, data[:40]
        assert response.get_json()["error"]["message"]

    assert db.session.query(ImportBatch).count() == 0
    assert db.session.query(OutcomeEvent).count() == 0
    assert db.session.query(AuditEntry).count() == audit_before


def test_missing_file_field_is_422_naming_it(
    app: Any, bw_site: Any, client: Any, build: Any, bearer: Any
) -> None:
    response = client.post(
        "/api/v1/sites/bw/outcome-imports", headers=bearer(build.token("research_admin")), data={}
    )
    assert response.status_code == 422
    assert "file" in response.get_json()["error"]["fields"]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(lambda: {"file": "BSN;999998523"}, id="text-field-named-file"),
        pytest.param(lambda: {"file": (io.BytesIO(b"BSN;999998523"), "")}, id="part-without-name"),
        pytest.param(lambda: {"mapping_version": "2026.1"}, id="only-the-version"),
    ],
)
def test_a_body_without_an_export_file_is_422_naming_the_field(
    app: Any, bw_site: Any, client: Any, build: Any, bearer: Any, body: Any
) -> None:
    response = client.post(
        "/api/v1/sites/bw/outcome-imports",
        headers=bearer(build.token("research_admin")),
        data=body(),
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert (error["code"], list(error["fields"])) == ("invalid_field", ["file"])
    assert db.session.query(ImportBatch).count() == 0


def test_batches_are_listed_and_cli_prints_the_report(
    app: Any,
    enrol: Any,
    bw_site: Any,
    runner: Any,
    tmp_path: Any,
    client: Any,
    build: Any,
    bearer: Any,
) -> None:
    person = enrol()
    path = tmp_path / "export.csv"
    path.write_bytes(export_bytes([Line(person[1], end="05-11-2026", reason="OVL")]))

    result = runner.invoke(args=["import-outcomes", "--site", "bw", str(path)])

    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["exits"], report["exits_by_code"]) == (1, {"04": 1})
    again = json.loads(runner.invoke(args=["import-outcomes", "--site", "bw", str(path)]).output)
    assert again["duplicate_of"] == report["batch"]
    listed = client.get(
        "/api/v1/sites/bw/outcome-imports", headers=bearer(build.token("analyst"))
    ).get_json()
    assert [b["id"] for b in listed] == [report["batch"]]
    assert listed[0]["file_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert listed[0]["report"]["exits"] == 1


def test_outcome_import_closes_the_waiting_followup_round(
    app: Any, enrol: Any, bw_site: Any, upload: Any
) -> None:
    from datetime import timedelta

    from fiptrial.models import FollowupRound

    person = enrol()
    today = date.today()
    db.session.add(
        FollowupRound(
            site_id=bw_site.id,
            period=f"{today:%Y-%m}",
            opened_on=today - timedelta(days=3),
            deadline=today + timedelta(days=10),
            status="open",
        )
    )
    db.session.commit()

    report = upload("outcome", "bw", export_bytes([Line(person[1])])).get_json()

    round_ = db.session.query(FollowupRound).one()
    assert (round_.status, round_.batch_id) == ("received", str(report["batch"]))


def test_upload_over_the_size_limit_is_422_naming_the_file(
    app: Any, enrol: Any, bw_site: Any, upload: Any
) -> None:
    person = enrol()
    app.config["IMPORT_MAX_BYTES"] = 100
    data = export_bytes([Line(person[1])] * 5)
    assert len(data) > 100

    response = upload("outcome", "bw", data)

    assert response.status_code == 422
    assert "file" in response.get_json()["error"]["fields"]
    assert db.session.query(ImportBatch).count() == 0
