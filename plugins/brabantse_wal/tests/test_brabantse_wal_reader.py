"""Reading the ISD Brabantse Wal export: the platform's declarative reader with the site's
export.toml (the site has no reader of its own)."""

from __future__ import annotations

import io
import tracemalloc
from datetime import date

import pytest

from fiptrial.plugins import ExportFormatError, ExportRow
from fiptrial.plugins.manager import build_plugin_host
from fiptrial.plugins.parsing import DateParser
from fiptrial_brabantse_wal import COLUMNS, OPTIONAL_COLUMNS
from fiptrial_brabantse_wal.synthetic import write_export

SITE = build_plugin_host(entry_points="brabantse_wal")["brabantse_wal"]


def read_export(source):
    return SITE.read_export(source)


HEADER = ";".join(COLUMNS)
GOOD = "100001;999998523;12-03-1978;M;0748;05-01-2023;;;;"


def _read(*lines: str, encoding: str = "cp1252") -> list[ExportRow]:
    data = "\r\n".join((HEADER, *lines)).encode(encoding)
    return list(read_export(io.BytesIO(data)))


def test_a_running_benefit():
    (row,) = _read(GOOD)
    assert row == ExportRow(
        line=2,
        bsn="999998523",
        birth_date=date(1978, 3, 12),
        sex="male",
        municipality="GM0748",
        benefit_start=date(2023, 1, 5),
        benefit_end=None,
        local_reason=None,
        new_municipality=None,
    )
    assert row.is_valid and row.is_running


def test_an_ended_benefit_with_a_move():
    (row,) = _read("1;052856562;01-01-1990;V;GM0873;01-02-2020;30-09-2025;vhg;Verhuizing;0851")
    assert (row.sex, row.municipality, row.benefit_end) == ("female", "GM0873", date(2025, 9, 30))
    assert (row.local_reason, row.new_municipality) == ("VHG", "GM0851")


def test_an_export_without_the_optional_columns_has_no_unit_and_no_statistic_code():
    (row,) = _read(GOOD)
    assert (row.unit_key, row.statistic_code) == (None, None)


def test_benefit_number_and_statistic_code_when_the_export_has_them():
    header = HEADER + ";Uitkeringsnummer;Statistiekcode"
    lines = [
        GOOD + ";004711;1",  # a spreadsheet dropped the zero of the statistiekcode
        GOOD + ";;12",
        GOOD + ";4711;bijstand",
    ]
    data = "\r\n".join((header, *lines)).encode("cp1252")
    first, second, bad = read_export(io.BytesIO(data))
    assert (first.unit_key, first.statistic_code, first.is_valid) == ("004711", "01", True)
    assert (second.unit_key, second.statistic_code) == (None, "12")
    assert bad.errors == ("Statistiekcode is not a BUS statistiekcode (two digits, e.g. 01)",)
    assert bad.unit_key == "4711"  # the unit is read even when another field is wrong


def test_a_bsn_that_lost_its_leading_zero():
    (row,) = _read("1;52856562;01-01-1990;V;0748;01-02-2020;;;;")
    assert row.bsn == "052856562" and row.is_valid


def test_utf8_with_bom_reads_like_windows_1252():
    line = "1;999998523;12-03-1978;M;0748;05-01-2023;01-02-2025;OVR;Beëindiging;"
    assert _read(line) == _read(line, encoding="utf-8-sig")


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ("1;999998524;12-03-1978;M;0748;05-01-2023;;;;", "BSN is not a valid BSN"),
        ("1;999998523;31-02-1978;M;0748;05-01-2023;;;;", "Geboortedatum is not a valid date"),
        (
            "1;999998523;12-03-1978;X;0748;05-01-2023;;;;",
            "Geslacht 'X' is not one of the sex codes M, V",
        ),
        ("1;999998523;12-03-1978;M;Bergen;05-01-2023;;;;", "Gemeentecode 'Bergen' is not"),
        ("1;999998523;12-03-1978;M;0748;2023-01-05;;;;", "Aanvangsdatum uitkering is not"),
        ("1;999998523;12-03-1978;M;0748;05-01-2023;32-01-2025;ARB;;", "Einddatum uitkering is not"),
        ("1;999998523;12-03-1978;M;0748;05-01-2023;01-02-2025;;;", "Reden beëindiging is empty"),
        ("1;999998523;12-03-1978;M;0748;05-01-2023;;ARB;;", "Einddatum uitkering is empty"),
        ("1;999998523;12-03-1978;M;0748;05-01-2023;01-02-2025;VHG;;Roosendaal", "Nieuwe gemeente"),
        ("1;999998523;12-03-1978;M;0748;05-01-2023;01-02-2022;ARB;;", "end date is before"),
        ("1;999998523;12-03-1978;M;0748", "expected 10 fields separated by ';', found 5"),
    ],
)
def test_bad_rows_carry_errors_not_exceptions(line, error):
    good, bad, after = _read(GOOD, line, GOOD)
    assert good.is_valid and after.is_valid
    assert bad.line == 3
    assert any(error in message for message in bad.errors), bad.errors


def test_errors_never_contain_the_bsn_or_birth_date():
    (row,) = _read("1;999998524;31-02-1978;Q;0748;05-01-2023;;;;")
    assert len(row.errors) == 3
    assert not any("999998524" in e or "1978" in e for e in row.errors)
    # each error carries its code and field, for the pages' own words and the column report
    assert [(e.code, e.field) for e in row.errors] == [
        ("row_invalid_bsn", "bsn"),
        ("row_invalid_date", "birth_date"),
        ("row_invalid_sex", "sex"),
    ]


def test_a_value_that_could_identify_a_person_is_never_quoted():
    (row,) = _read("1;999998523;12-03-1978;12-03-1978;0748;05-01-2023;;;;")
    assert row.errors == (
        "Geslacht (value not shown: it could identify a person) is not one of the sex codes M, V",
    )


def test_the_layout_names_the_columns_of_the_export(site):
    layout = site.pm.get_plugin("brabantse_wal").layout
    named = {spec.name for spec in layout.fields.values()} | set(layout.required_columns)
    assert named == set(COLUMNS) | set(OPTIONAL_COLUMNS)


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (HEADER.replace(";", ","), "separates its columns with ','"),
        (HEADER.replace("BSN", "Burgerservicenummer"), r"lacks the column\(s\) BSN"),
        ("", "is empty"),
    ],
)
def test_a_wrong_file_fails_at_once(header, message):
    data = (header + "\r\n" + GOOD).encode("cp1252") if header else b""
    with pytest.raises(ExportFormatError, match=message):
        read_export(io.BytesIO(data))  # before any row is read


def test_the_source_is_not_closed():
    source = io.BytesIO((HEADER + "\r\n" + GOOD).encode("cp1252"))
    assert len(list(read_export(source))) == 1
    assert not source.closed


def test_the_shipped_sample_reads_cleanly(site):
    with site.sample_export().open("rb") as handle:
        rows = list(site.read_export(handle))
    assert len(rows) == 42  # 40 clients and 2 records of special assistance
    assert all(row.is_valid for row in rows)
    assert {row.municipality for row in rows} == {"GM0748", "GM0851", "GM0873"}
    assert {row.statistic_code for row in rows} == {"01", "12"}
    units = [row.unit_key for row in rows if row.statistic_code == "01"]
    assert all(units) and len(set(units)) < len(units)  # partners share a benefit


def _peak_reading(rows: int) -> int:
    buffer = io.BytesIO()
    write_export(buffer, rows, seed=3)
    buffer.seek(0)
    tracemalloc.start()
    try:
        for _ in read_export(buffer):
            pass
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_reading_streams_memory_does_not_grow_with_the_file(monkeypatch):
    # The date cache is bounded (MAX_CACHED) and fills with the distinct dates, which stop
    # growing with the file; shrink it so that this small test sees the flat part at once.
    monkeypatch.setattr(DateParser, "MAX_CACHED", 500)
    small, large = _peak_reading(2_000), _peak_reading(20_000)
    assert large < small * 1.3, (small, large)


def test_a_client_the_importer_does_not_want_is_read_no_further_than_the_bsn():
    from fiptrial.plugins.rows import SKIPPED

    wanted = "999998523"
    lines = [
        GOOD,  # wanted: read in full
        "100002;052856562;31-02-1978;?;9999;05-01-2023;;;;",  # valid BSN, not wanted: skipped,
        # although its birth date, sex and municipality are wrong
        "100003;123456789;12-03-1978;M;0748;05-01-2023;;;;",  # invalid BSN: read, rejected
    ]
    data = "\r\n".join((HEADER, *lines)).encode("cp1252")
    asked: list[str] = []

    def want(bsn: str) -> bool:
        asked.append(bsn)
        return bsn == wanted

    first, second, third = SITE.read_export(io.BytesIO(data), want)
    assert first.bsn == wanted and first.is_valid
    assert second is SKIPPED
    assert third.bsn is None and third.errors
    assert asked == [wanted, "052856562"]  # an invalid BSN is never asked about
    # without the question every line is read in full, the bad one with its errors
    assert [row.is_valid for row in SITE.read_export(io.BytesIO(data))] == [True, False, False]
