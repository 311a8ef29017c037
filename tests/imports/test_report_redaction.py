"""Rejection reasons name the line, the column and what is wrong, never a value that could
identify a person (a run of 8+ digits, a date): not in the 201 body, not in the listing of
batches, not in ``import_batch.report``, not in what the CLI prints."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from import_helpers import HEADER, Line

from fiptrial.extensions import db
from fiptrial.models import ImportBatch
from fiptrial.plugins.parsing import NOT_SHOWN, could_identify, quoted, redacted

#: The misaligned row of the issue: an empty field too many at the start shifts the BSN under
#: Geslacht and the birth date under Gemeentecode.
MISALIGNED_BW = "900101;;;990000345;17-05-1980;V;0748;01-03-2019;;;"
MISALIGNED_TEMPLATE = ";990000345;19800517;2;0748;20190301;;"
TEMPLATE_HEADER = (
    "bsn;geboortedatum;geslacht;gemeentecode;aanvang_uitkering;einde_uitkering;reden_beeindiging"
)
IDENTIFYING = re.compile(r"990000345|17-05-1980|19800517|01-03-2019|20190301")


def _bw_file(good_bsn: str) -> bytes:
    good = Line(good_bsn).text(0)
    return (HEADER + "\r\n" + good + "\r\n" + MISALIGNED_BW + "\r\n").encode("cp1252")


def _template_file() -> bytes:
    return (TEMPLATE_HEADER + "\n" + MISALIGNED_TEMPLATE + "\n").encode()


@pytest.mark.parametrize(
    ("text", "identifying"),
    [
        ("990000345", True),
        ("99000034", True),
        ("990 000 345", True),
        ("17-05-1980", True),
        ("1-5-80", True),
        ("1980/05/17", True),
        ("19800517", True),
        ("0748", False),
        ("V", False),
        ("GM0748", False),
        ("1234567", False),
    ],
)
def test_what_could_identify_a_person(text: str, identifying: bool) -> None:
    assert could_identify(text) is identifying
    assert (quoted(text) == NOT_SHOWN) is identifying
    assert (text in redacted(f"column X {text} is wrong")) is not identifying


def test_a_long_harmless_value_is_cut() -> None:
    assert quoted("x" * 100) == repr("x" * 40 + "...")


def _assert_clean_rejection(rejected: list[dict[str, Any]], line: int, columns: list[str]) -> None:
    text = json.dumps(rejected)
    assert not IDENTIFYING.search(text), text
    entry = next(r for r in rejected if r["line"] == line)
    for column in columns:
        assert column in entry["reason"], entry


def test_participant_import_api_db_and_listing_quote_no_bsn(
    bw_site: Any, build: Any, upload: Any, client: Any, bearer: Any
) -> None:
    response = upload("participant", "bw", _bw_file(build.next_bsn()))
    assert response.status_code == 201, response.json
    assert response.json["registered"] == 1
    _assert_clean_rejection(response.json["rejected"], 3, ["Geslacht", "Gemeentecode"])
    assert NOT_SHOWN in response.text
    stored = db.session.query(ImportBatch).one()
    _assert_clean_rejection(stored.report["rejected"], 3, ["Geslacht", "Gemeentecode"])


def test_outcome_import_api_listing_and_db_quote_no_bsn(
    bw_site: Any, enrol: Any, upload: Any, client: Any, bearer: Any, build: Any
) -> None:
    _person, bsn = enrol()
    response = upload("outcome", "bw", _bw_file(bsn))
    assert response.status_code == 201, response.json
    _assert_clean_rejection(response.json["rejected"], 3, ["Geslacht", "Gemeentecode"])
    listing = client.get(
        "/api/v1/sites/bw/outcome-imports", headers=bearer(build.token("research_admin"))
    )
    assert listing.status_code == 200
    assert not IDENTIFYING.search(listing.text), listing.text
    assert "Reden" in listing.text  # the reason column holds a date: refused, unquoted
    for batch in db.session.query(ImportBatch):
        assert not IDENTIFYING.search(json.dumps(batch.report))


def test_template_plugin_quotes_no_bsn(build: Any, upload: Any) -> None:
    build.site(build.trial("t2"), "breda", "template", municipalities=["GM0748"])
    response = upload("participant", "breda", _template_file())
    assert response.status_code == 201, response.json
    _assert_clean_rejection(response.json["rejected"], 2, ["geboortedatum", "geslacht"])


def test_cli_import_prints_no_bsn(bw_site: Any, build: Any, runner: Any, tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(_bw_file(build.next_bsn()))
    result = runner.invoke(args=["import-participants", "--site", "bw", str(path)])
    assert result.exit_code == 0, result.output
    assert "Geslacht" in result.output
    assert not IDENTIFYING.search(result.output), result.output


def test_a_plugin_reason_quoting_a_bsn_is_redacted_before_it_is_stored(
    bw_site: Any, build: Any, upload: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A third-party reader that quotes raw values: the import service redacts the reason."""
    from fiptrial.plugins.rows import ExportRow

    def careless(_source: Any) -> Any:
        yield ExportRow(
            2, None, None, None, None, None, None, None, None, ("BSN '990000345' born 17-05-1980",)
        )

    from fiptrial.plugins.manager import SitePlugin

    monkeypatch.setattr(SitePlugin, "_read", lambda _self, source, wanted=None: careless(source))
    response = upload("participant", "bw", b"anything")
    assert response.status_code == 201, response.json
    assert not IDENTIFYING.search(response.text), response.text
    assert response.json["rejected"][0]["reason"] == "BSN '...' born ..."
