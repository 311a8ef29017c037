"""Hostile CSV shapes get a clear 422 (API) or message (CLI), and nothing is stored: a header
with bare CR line endings (it crashed the reader with _csv.Error, a 500), a column named twice
(it was accepted), a header without rows (it created an empty batch)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from import_helpers import HEADER, Line

from fiptrial.extensions import db
from fiptrial.models import ImportBatch, Participant

TEMPLATE_HEADER = (
    "bsn;geboortedatum;geslacht;gemeentecode;aanvang_uitkering;einde_uitkering;reden_beeindiging"
)


def _cases(bsn: str) -> dict[str, tuple[bytes, str, str]]:
    row = Line(bsn).text(1)
    return {
        "bare_cr": (
            (HEADER + "\r" + row + "\r").encode("cp1252"),
            "export_line_endings",
            "bare CR",
        ),
        "duplicate": (
            (HEADER + ";BSN\r\n" + row + ";x\r\n").encode("cp1252"),
            "export_duplicate_columns",
            "'bsn' more than once",
        ),
        "header_only": ((HEADER + "\r\n").encode("cp1252"), "export_no_rows", "no rows"),
    }


def _nothing_stored() -> None:
    assert db.session.query(ImportBatch).count() == 0
    assert db.session.query(Participant).count() == 0


@pytest.mark.parametrize("kind", ["participant", "outcome"])
@pytest.mark.parametrize("case", ["bare_cr", "duplicate", "header_only"])
def test_the_api_refuses_clearly_and_stores_nothing(
    bw_site: Any, build: Any, upload: Any, kind: str, case: str
) -> None:
    content, code, words = _cases(build.next_bsn())[case]
    response = upload(kind, "bw", content)
    assert response.status_code == 422, response.text
    error = response.json["error"]
    assert error["code"] == code and words in error["message"], error
    _nothing_stored()


@pytest.mark.parametrize("case", ["bare_cr", "duplicate", "header_only"])
def test_the_cli_refuses_clearly_and_stores_nothing(
    bw_site: Any, build: Any, runner: Any, tmp_path: Path, case: str
) -> None:
    content, _code, words = _cases(build.next_bsn())[case]
    path = tmp_path / "export.csv"
    path.write_bytes(content)
    result = runner.invoke(args=["import-participants", "--site", "bw", str(path)])
    assert result.exit_code == 1 and words in result.output, result.output
    assert "Traceback" not in result.output
    _nothing_stored()


def test_the_template_plugin_refuses_a_bare_cr_header(build: Any, upload: Any) -> None:
    build.site(build.trial("t2"), "breda", "template", municipalities=["GM0748"])
    content = (TEMPLATE_HEADER + "\r;;;;;;\r").encode()
    response = upload("participant", "breda", content)
    assert response.status_code == 422 and response.json["error"]["code"] == "export_line_endings"
