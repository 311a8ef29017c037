"""Uploading the caseload and outcome exports and reading their reports (issue 3's importer)."""

from __future__ import annotations

import io
from datetime import date
from typing import Any

import pytest
from web_support import ExportRow, bw_export, csrf_token, valid_bsns

pytest.importorskip("fiptrial.services.imports")


def _upload(web: Any, kind: str, content: bytes, name: str = "export.csv") -> Any:
    page = web.client.get("/locatie/bw/bestanden")
    prefix = "participants" if kind == "deelnemers" else "outcomes"
    return web.client.post(
        f"/locatie/bw/bestanden/{kind}",
        data={"csrf_token": csrf_token(page.text), f"{prefix}-file": (io.BytesIO(content), name)},
        content_type="multipart/form-data",
    )


def _plugin_installed() -> None:
    from fiptrial.plugins.manager import get_site_plugin

    if get_site_plugin("brabantse_wal") is None:
        pytest.skip("the brabantse_wal plugin is not installed")


def test_caseload_upload_registers_and_reports(staff: Any, web: Any) -> None:
    from fiptrial.extensions import db
    from fiptrial.models import Participant

    _plugin_installed()
    bsns = valid_bsns()
    rows = [ExportRow(next(bsns)) for _ in range(5)]
    rows.append(ExportRow("123456789"))  # fails the elfproef
    web.login("coord")
    response = _upload(web, "deelnemers", bw_export(rows))
    assert response.status_code == 302, response.text
    report = web.client.get(response.headers["Location"])
    assert report.status_code == 200
    assert db.session.query(Participant).filter_by(site_id=staff.bw.id).count() == 5
    assert "Afgekeurde regels" in report.text
    again = _upload(web, "deelnemers", bw_export(rows))
    assert again.status_code == 302
    assert "al eerder ingelezen" in web.client.get(again.headers["Location"]).text


def test_outcome_upload_flags_unknown_codes(staff: Any, web: Any, build: Any) -> None:
    from fiptrial.services import randomisation

    _plugin_installed()
    bsns = valid_bsns(200_000_000)
    people = [next(bsns) for _ in range(4)]
    for bsn in people:
        build.participant(staff.bw, bsn=bsn)
    randomisation.allocate_cohort(staff.bw.id, 2, actor="test")
    rows = [ExportRow(people[0], end=date(2026, 11, 10), reason="ARB"),
            ExportRow(people[1], end=date(2026, 11, 12), reason="XYZ")]
    web.login("coord")
    response = _upload(web, "uitkomsten", bw_export(rows))
    assert response.status_code == 302, response.text
    report = web.client.get(response.headers["Location"]).text
    assert "Onbekende redencodes" in report
    assert "<strong>XYZ</strong>" in report


def test_unreadable_file_error_sits_next_to_the_file_field(staff: Any, web: Any) -> None:
    _plugin_installed()
    web.login("coord")
    response = _upload(web, "uitkomsten", b"dit;is;geen;export\n1;2;3;4\n")
    assert response.status_code == 422
    assert 'id="outcomes-file-error"' in response.text


def test_upload_without_a_file(staff: Any, web: Any) -> None:
    web.login("coord")
    page = web.client.get("/locatie/bw/bestanden")
    response = web.client.post("/locatie/bw/bestanden/uitkomsten",
                               data={"csrf_token": csrf_token(page.text)})
    assert response.status_code == 422
    assert "Kies een bestand." in response.text


def test_other_sites_batches_are_hidden(staff: Any, web: Any) -> None:
    web.login("coord")
    assert web.client.get("/locatie/bw/bestanden/999").status_code == 404
    assert web.client.get("/locatie/breda/bestanden").status_code == 404
