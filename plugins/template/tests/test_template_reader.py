"""Reading a generic BUS-coded CSV. Adapt these cases when you change the reader."""

from __future__ import annotations

import io
from datetime import date

import pytest

from fiptrial.plugins import ExportFormatError
from fiptrial_plugin_template.reader import normalise_reason, read_export

HEADER = (
    "bsn;geboortedatum;geslacht;gemeentecode;aanvang_uitkering;einde_uitkering;reden_beeindiging"
)


def _read(*lines: str, header: str = HEADER, encoding: str = "utf-8"):
    return list(read_export(io.BytesIO("\n".join((header, *lines)).encode(encoding))))


def test_running_and_ended_benefits():
    running, ended = _read(
        "999998523;19780312;1;0363;20230105;;",
        "999998535;19851120;2;GM0363;20220614;20250101;11",
    )
    assert (running.bsn, running.sex, running.municipality) == ("999998523", "male", "GM0363")
    assert running.is_running and running.is_valid
    assert (ended.sex, ended.benefit_end, ended.local_reason) == ("female", date(2025, 1, 1), "11")
    assert ended.new_municipality is None  # the column is optional


def test_new_municipality_column_and_comma_separator():
    header = HEADER.replace(";", ",") + ",nieuwe_gemeentecode"
    (row,) = _read("123456782,19720709,M,363,20180312,20250601,32,0599", header=header)
    assert (row.local_reason, row.new_municipality, row.sex) == ("32", "GM0599", "male")


def test_benefit_number_and_statistic_code_columns_are_optional():
    header = HEADER + ";uitkeringsnummer;statistiekcode"
    partner, special, bad = _read(
        "999998523;19780312;1;0363;20230105;;;U-17;1",
        "999998535;19851120;2;0363;20220614;20250101;11;;14",
        "999993653;19690801;M;0363;20191002;;;U-17;Bbz",
        header=header,
    )
    assert (partner.unit_key, partner.statistic_code, partner.is_valid) == ("U-17", "01", True)
    assert (special.unit_key, special.statistic_code) == (None, "14")
    assert bad.errors == ("statistiekcode is not a BUS statistiekcode (two digits, e.g. 01)",)
    (plain,) = _read("999998523;19780312;1;0363;20230105;;")
    assert (plain.unit_key, plain.statistic_code) == (None, None)


@pytest.mark.parametrize(("text", "code"), [("1", "01"), ("01", "01"), (" 11 ", "11"), ("", None)])
def test_reason_codes_get_their_leading_zero_back(text, code):
    assert normalise_reason(text) == code


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ("999998524;19780312;1;0363;20230105;;", "bsn is not a valid BSN"),
        ("999998523;19780230;1;0363;20230105;;", "geboortedatum is not a valid date"),
        ("999998523;19780312;3;0363;20230105;;", "geslacht '3' is not 1, 2, M or V"),
        ("999998523;19780312;1;Amsterdam;20230105;;", "gemeentecode 'Amsterdam'"),
        ("999998523;19780312;1;0363;05-01-2023;;", "aanvang_uitkering is not a valid date"),
        ("999998523;19780312;1;0363;20230105;20250101;", "reden_beeindiging is empty"),
        ("999998523;19780312;1;0363;20230105;;11", "einde_uitkering is empty"),
        ("999998523;19780312;1;0363", "expected 7 fields, found 4"),
    ],
)
def test_bad_rows_carry_their_errors(line, error):
    (row,) = _read(line)
    assert row.line == 2
    assert any(error in message for message in row.errors), row.errors


def test_windows_1252_is_read_too():
    (row,) = _read("999998523;19780312;V;0363;20230105;;", encoding="cp1252")
    assert row.is_valid


def test_a_file_without_the_columns_is_refused():
    with pytest.raises(ExportFormatError, match="lacks the column"):
        read_export(io.BytesIO(b"bsn;naam\n999998523;x\n"))


def test_the_shipped_sample_reads_cleanly():
    from fiptrial_plugin_template.plugin import DATA

    with (DATA / "sample_export.csv").open("rb") as handle:
        rows = list(read_export(handle))
    assert len(rows) == 12
    assert all(row.is_valid for row in rows)
    assert rows[6].bsn == "052856562"  # its leading zero was lost in the file
