"""Uploading the caseload and outcome exports: the import runs in the background, the upload
answers with a status page, and the status page leads on to the import report."""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from web_support import ExportRow, bw_export, csrf_token, valid_bsns

from lottery_support import allocate_cohort_with_places

STATUS_URL = re.compile(r"^/locatie/(\w+)/bestanden/taak/(\d+)$")


#: Each test spools its uploads into its own instance folder.
pytestmark = pytest.mark.usefixtures("instance_folder")
#: No test here writes to the database before asking for the staff: it comes from a snapshot.
SEEDED_STAFF = True


def _upload(web: Any, kind: str, content: bytes, name: str = "export.csv") -> Any:
    page = web.client.get("/locatie/bw/bestanden")
    prefix = "participants" if kind == "deelnemers" else "outcomes"
    return web.client.post(
        f"/locatie/bw/bestanden/{kind}",
        data={"csrf_token": csrf_token(page.text), f"{prefix}-file": (io.BytesIO(content), name)},
        content_type="multipart/form-data",
    )


def _wait_for_task(response: Any) -> tuple[str, int]:
    """The upload answered with the status page; wait for the worker thread to finish.

    The test's own session first lets go of its transaction: on SQLite it would hold the
    write lock that the worker needs (a person's requests each get a fresh session).
    """
    from fiptrial.extensions import db
    from fiptrial.services import import_tasks

    assert response.status_code == 302, response.text
    match = STATUS_URL.match(response.headers["Location"])
    assert match, response.headers["Location"]
    task_id = int(match.group(2))
    db.session.rollback()
    assert import_tasks.wait(task_id, timeout=120), "the import did not finish"
    return response.headers["Location"], task_id


def _report(web: Any, response: Any) -> Any:
    """Follow the status page of a finished import to its report."""
    status_url, _task_id = _wait_for_task(response)
    status = web.client.get(status_url)
    assert status.status_code == 302, status.text
    assert re.match(r"^/locatie/bw/bestanden/\d+$", status.headers["Location"])
    return web.client.get(status.headers["Location"])


def _plugin_installed() -> None:
    from fiptrial.plugins.manager import get_site_plugin

    if get_site_plugin("brabantse_wal") is None:
        pytest.skip("the brabantse_wal plugin is not installed")


def stored_task(staff: Any, **fields: Any) -> Any:
    """An import task as the upload would have left it, for the status page to show."""
    from fiptrial.extensions import db
    from fiptrial.models import ImportTask

    task = ImportTask(site_id=staff.bw.id, duplicate=False, created_by="user:coord", **fields)
    db.session.add(task)
    db.session.commit()
    return task


def test_caseload_upload_registers_and_reports(staff: Any, web: Any, instance_folder: Path) -> None:
    from fiptrial.extensions import db
    from fiptrial.models import ImportTask, Participant

    _plugin_installed()
    bsns = valid_bsns()
    rows = [ExportRow(next(bsns)) for _ in range(5)]
    rows.append(ExportRow("123456789"))  # fails the elfproef
    web.login("coord")
    response = _upload(web, "deelnemers", bw_export(rows), name="clienten-november.csv")
    report = _report(web, response)
    assert report.status_code == 200
    assert "Het bestand is ingelezen." in report.text
    assert "Afgekeurde regels" in report.text
    assert db.session.query(Participant).filter_by(site_id=staff.bw.id).count() == 5
    task = db.session.query(ImportTask).one()
    assert (task.status, task.rows_done, task.created_by) == ("done", 6, "user:coord")
    assert task.filename == "clienten-november.csv"
    uploads = instance_folder / "uploads"
    assert uploads.stat().st_mode & 0o777 == 0o700
    assert list(uploads.iterdir()) == []  # the spooled file is gone once the task ended
    again = _upload(web, "deelnemers", bw_export(rows))
    assert "al eerder ingelezen" in _report(web, again).text


def test_a_rejected_line_is_explained_in_the_readers_language(staff: Any, web: Any) -> None:
    """The declarative reader's errors carry codes: the report says them from the catalogue,
    in Dutch and in English, and never shows the BSN it refused."""
    _plugin_installed()
    bsns = valid_bsns(600_000_000)
    web.login("coord")
    rows = [ExportRow(next(bsns)), ExportRow("123456789")]  # the second fails the elfproef
    report = _report(web, _upload(web, "deelnemers", bw_export(rows)))
    assert "BSN is geen geldig BSN (9 cijfers die voldoen aan de elfproef)." in report.text
    assert "123456789" not in report.text
    page = web.client.get("/locatie/bw/bestanden")
    web.client.post("/taal", data={"csrf_token": csrf_token(page.text), "lang": "en"})
    english = web.client.get(report.request.path)
    assert "BSN is not a valid BSN (9 digits passing the elfproef)." in english.text


def test_status_page_and_its_endpoint(
    staff: Any, web: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Progress is reported after every row here: on PostgreSQL each count is written to the
    task row through its own connection while the import's transaction is open."""
    _plugin_installed()
    monkeypatch.setattr("fiptrial.services.imports.participants.PROGRESS_ROWS", 1)
    bsns = valid_bsns(500_000_000)
    web.login("coord")
    response = _upload(web, "deelnemers", bw_export([ExportRow(next(bsns)) for _ in range(3)]))
    status_url, _task_id = _wait_for_task(response)
    answer = web.client.get(f"{status_url}.json")
    assert answer.status_code == 200
    assert answer.get_json() == {"status": "done", "rows_done": 3, "finished": True, "attempts": 1}


def test_a_running_task_shows_its_progress(staff: Any, web: Any) -> None:
    """A task the worker is still on: the page refreshes itself through the script, and says
    how far the import got; no inline script (the CSP forbids it)."""

    task = stored_task(
        staff,
        kind="outcomes",
        status="running",
        rows_done=15000,
        attempts=1,
        filename="groot.csv",
        spool_name="import-x.upload",
    )
    web.login("coord")
    page = web.client.get(f"/locatie/bw/bestanden/taak/{task.id}")
    assert page.status_code == 200
    assert "15.000 regels gelezen" in page.text  # Babel: Dutch thousands
    assert f'data-import-status="/locatie/bw/bestanden/taak/{task.id}.json"' in page.text
    assert "<script" not in page.text.split("</head>", 1)[1]
    assert web.client.get(f"/locatie/bw/bestanden/taak/{task.id}.json").get_json() == {
        "status": "running",
        "rows_done": 15000,
        "finished": False,
        "attempts": 1,
    }
    listing = web.client.get("/locatie/bw/bestanden")
    assert f"/locatie/bw/bestanden/taak/{task.id}" in listing.text and "bezig" in listing.text
    assert "data-import-retried" not in page.text


def test_a_retried_task_says_that_its_first_worker_stopped(staff: Any, web: Any) -> None:
    """A worker died under the import and another took it up again (issue 15)."""
    task = stored_task(
        staff,
        kind="participants",
        status="running",
        rows_done=0,
        attempts=2,
        filename="groot.csv",
        spool_name="import-y.upload",
    )
    web.login("coord")
    page = web.client.get(f"/locatie/bw/bestanden/taak/{task.id}")
    assert page.status_code == 200
    assert "data-import-retried" in page.text and "opnieuw gedaan" in page.text
    assert web.client.get(f"/locatie/bw/bestanden/taak/{task.id}.json").get_json()["attempts"] == 2


def test_a_task_whose_worker_died_is_shown_as_interrupted(
    staff: Any, web: Any, instance_folder: Path
) -> None:
    from fiptrial.services import import_tasks

    spooled = import_tasks.upload_folder() / "import-dead.upload"
    spooled.write_bytes(b"half")
    stale = datetime.now(UTC) - import_tasks.STALE_AFTER - timedelta(minutes=1)
    task = stored_task(
        staff,
        kind="outcomes",
        status="running",
        rows_done=0,
        filename="dood.csv",
        spool_name=spooled.name,
        created_at=stale,
        updated_at=stale,
    )
    web.login("coord")
    page = web.client.get(f"/locatie/bw/bestanden/taak/{task.id}")
    assert page.status_code == 422
    assert "onderbroken" in page.text and "Er is niets opgeslagen" in page.text
    assert not spooled.exists()
    assert (
        web.client.get(f"/locatie/bw/bestanden/taak/{task.id}.json").get_json()["status"]
        == "interrupted"
    )


def _allocated_people(staff: Any, build: Any, count: int, first_bsn: int) -> list[str]:
    """The BSNs of ``count`` participants of the site, allocated as a cohort (half to FIP)."""

    _plugin_installed()
    bsns = valid_bsns(first_bsn)
    people = [next(bsns) for _ in range(count)]
    for bsn in people:
        build.participant(staff.bw, bsn=bsn)
    allocate_cohort_with_places(staff.bw.id, count // 2)
    return people


def test_outcome_upload_flags_unknown_codes(staff: Any, web: Any, build: Any) -> None:
    people = _allocated_people(staff, build, 4, 200_000_000)
    rows = [
        ExportRow(people[0], end=date(2026, 11, 10), reason="ARB"),
        ExportRow(people[1], end=date(2026, 11, 12), reason="XYZ"),
    ]
    web.login("coord")
    report = _report(web, _upload(web, "uitkomsten", bw_export(rows))).text
    assert "Onbekende redencodes" in report
    assert "<strong>XYZ</strong>" in report


def test_the_outcome_report_says_how_many_moves_it_linked(staff: Any, web: Any, build: Any) -> None:
    people = _allocated_people(staff, build, 2, 300_000_000)
    rows = [  # an end with VHG without the new municipality, and the benefit in Woensdrecht
        ExportRow(people[0], end=date(2026, 11, 6), reason="VHG"),
        ExportRow(people[0], municipality="0873", start=date(2026, 11, 9)),
        ExportRow(people[1]),
    ]
    web.login("coord")
    report = _report(web, _upload(web, "uitkomsten", bw_export(rows))).text
    linked = re.search(
        r"verhuizing binnen de locatie, herkend aan de nieuwe uitkering</td>"
        r'<td class="num">(\d+)</td>',
        report,
    )
    assert linked and linked.group(1) == "1"

    # The participant's page shows one spell, still running, with the move and its correction.
    from participant_lookup import find_by_bsn

    person = find_by_bsn(staff.bw, people[0])
    page = web.client.get(f"/locatie/bw/deelnemers/{person.id}").text
    spells = page[page.index('<table id="spells">') :]
    spells = spells[: spells.index("</table>")]
    assert spells.count("<tr>") == 2  # the header and one spell
    cells = re.findall(r"<td>(.*?)</td>", spells, re.S)
    assert cells[:6] == ["1", "01-01-2020", "loopt nog", "–", "Woensdrecht", "1"]
    assert cells[6].startswith("<div>06-11-2026 (Verhuizing naar andere gemeente)")
    assert "→ verhuizing binnen de locatie" in cells[6]


def test_an_unreadable_file_fails_in_plain_dutch(
    staff: Any, web: Any, instance_folder: Path
) -> None:
    from fiptrial.extensions import db
    from fiptrial.models import ImportBatch, ImportTask

    _plugin_installed()
    web.login("coord")
    status_url, _task_id = _wait_for_task(
        _upload(web, "uitkomsten", b"dit;is;geen;export\n1;2;3;4\n")
    )
    page = web.client.get(status_url)
    assert page.status_code == 422
    assert 'id="file-error"' in page.text
    assert "niet de indeling die de plug-in van de locatie verwacht" in page.text
    assert db.session.query(ImportBatch).count() == 0  # nothing half-written
    assert db.session.query(ImportTask).one().status == "failed"
    assert list((instance_folder / "uploads").iterdir()) == []
    assert "niet ingelezen" in web.client.get("/locatie/bw/bestanden").text


def test_a_too_large_file_is_refused_next_to_the_file_field(staff: Any, web: Any, app: Any) -> None:
    from fiptrial.extensions import db
    from fiptrial.models import ImportTask

    app.config["IMPORT_MAX_BYTES"] = 1024 * 1024
    web.login("coord")
    response = _upload(web, "uitkomsten", b"x" * (1024 * 1024 + 1))
    assert response.status_code == 422
    assert 'id="outcomes-file-error"' in response.text and "is groter dan 1 MB" in response.text
    assert db.session.query(ImportTask).count() == 0


def test_upload_without_a_file(staff: Any, web: Any) -> None:
    web.login("coord")
    response = web.post_form(
        "/locatie/bw/bestanden/uitkomsten", {}, form_page="/locatie/bw/bestanden"
    )
    assert response.status_code == 422
    assert "Kies een bestand." in response.text


def test_other_sites_batches_are_hidden(staff: Any, web: Any) -> None:
    web.login("coord")
    assert web.client.get("/locatie/bw/bestanden/999").status_code == 404
    assert web.client.get("/locatie/breda/bestanden").status_code == 404


def test_a_task_is_visible_only_to_who_may_read_its_sites_imports(staff: Any, web: Any) -> None:

    task = stored_task(
        staff,
        kind="participants",
        status="failed",
        error="the import stopped because of an unexpected error; nothing was saved",
        rows_done=0,
        spool_name="import-y.upload",
    )
    own, other = f"/locatie/bw/bestanden/taak/{task.id}", f"/locatie/breda/bestanden/taak/{task.id}"
    web.login("coordbreda")
    for url in (own, f"{own}.json", other, f"{other}.json"):
        assert web.client.get(url).status_code == 404, url
    web.client.post(
        "/uitloggen",
        data={"csrf_token": csrf_token(web.client.get("/locatie/breda/bestanden").text)},
    )
    web.login("analyse")  # the research team may read every site's imports
    page = web.client.get(own)
    assert page.status_code == 422 and "onverwachte fout" in page.text
    assert web.client.get(other).status_code == 404  # the task belongs to bw
    web.client.post("/uitloggen", data={"csrf_token": csrf_token(page.text)})
    web.login("km")  # client managers have no site lists
    assert web.client.get(own).status_code == 403


@pytest.mark.parametrize("kind", ["participants", "outcomes"])
def test_imports_report_their_progress(
    staff: Any, build: Any, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The optional ``progress`` callback of both imports sees the rows read so far."""
    from fiptrial.services import imports

    _plugin_installed()
    engine = {"participants": "participants", "outcomes": "outcome_rows"}[kind]
    monkeypatch.setattr(f"fiptrial.services.imports.{engine}.PROGRESS_ROWS", 2)
    bsns = valid_bsns(600_000_000)
    seen: list[int] = []
    run = imports.import_participants if kind == "participants" else imports.import_outcomes
    report = run(
        staff.bw,
        io.BytesIO(bw_export([ExportRow(next(bsns)) for _ in range(5)])),
        actor="test",
        progress=seen.append,
    )
    assert report["rows"] == 5
    assert seen == [2, 4]


def test_progress_reaches_the_row_on_postgresql_and_memory_on_sqlite(staff: Any) -> None:
    from fiptrial.extensions import db
    from fiptrial.models import ImportTask
    from fiptrial.services import import_tasks

    task = stored_task(
        staff,
        kind="outcomes",
        status="running",
        rows_done=0,
        spool_name="import-z.upload",
    )
    task_id = task.id
    db.session.rollback()  # let go of SQLite's write lock, as a request's session would
    try:
        import_tasks._progress_recorder(task_id)(7000)
        stored = db.session.get(ImportTask, task_id)
        expected = 0 if db.engine.dialect.name == "sqlite" else 7000
        assert stored.rows_done == expected
        assert import_tasks.describe(stored).rows_done == 7000
    finally:
        import_tasks._live.pop(task_id, None)


def test_the_import_report_never_shows_a_bsn_from_a_misaligned_row(staff: Any, web: Any) -> None:
    """The issue's misaligned row puts a BSN under Geslacht and a birth date under
    Gemeentecode: the report names the line and the columns, not the values."""
    from web_support import BW_HEADER

    _plugin_installed()
    good = next(valid_bsns(600_000_000))
    content = "\r\n".join(
        [
            BW_HEADER,
            f"1;{good};17-05-1980;V;0748;01-01-2020;;;;",
            "900101;;;990000345;17-05-1980;V;0748;01-03-2019;;;",
        ]
    ).encode("cp1252")
    web.login("coord")
    report = _report(web, _upload(web, "deelnemers", content)).text
    assert "Afgekeurde regels" in report
    rejected = report[report.index("Afgekeurde regels") :]
    assert '<td class="num">3</td>' in rejected
    assert "Geslacht" in rejected and "Gemeentecode" in rejected
    for value in ("990000345", "17-05-1980", "01-03-2019", good):
        assert value not in report
