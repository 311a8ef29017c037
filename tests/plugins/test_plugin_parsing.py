"""The shared reader helpers: one BSN, date and municipality rule for every site."""

from __future__ import annotations

import io
from datetime import date

import pytest
from stdnum.nl import bsn as stdnum_bsn

from fiptrial.plugins.parsing import (
    MAX_LINE_BYTES,
    DateParser,
    benefit_date_errors,
    is_valid_bsn,
    municipality_parser,
    normalise_bsn,
    normalise_municipality,
    open_csv_export,
)
from fiptrial.plugins.rows import ExportFormatError

COLUMNS = ("bsn", "reden")


@pytest.mark.parametrize(
    "number",
    ["999998523", "999998535", "999993653", "999990019", "123456782", "111222333",
     "123456789", "000000000", "12345678", "1234567820", "12345678a", "١٢٣٤٥٦٧٨٢", "999998524"],
)  # fmt: skip
def test_elfproef_agrees_with_python_stdnum(number):
    assert is_valid_bsn(number) == stdnum_bsn.is_valid(number)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("999998523", "999998523"),
        (" 999998523 ", "999998523"),
        ("52856562", "052856562"),  # a spreadsheet dropped the leading zero
        ("1234567", None),  # two zeros lost is not a BSN we can trust
        ("999998524", None),
        ("", None),
    ],
)
def test_normalise_bsn(text, expected):
    assert normalise_bsn(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0748", "GM0748"), ("748", "GM0748"), ("GM0748", "GM0748"), ("gm0851", "GM0851"),
     (" 0873 ", "GM0873"), ("0000", None), ("GM", None), ("07480", None), ("Bergen", None)],
)  # fmt: skip
def test_normalise_municipality(text, expected):
    assert normalise_municipality(text) == expected


@pytest.mark.parametrize(
    ("parser", "text", "expected"),
    [
        (DateParser.dmy(), "01-11-2014", date(2014, 11, 1)),
        (DateParser.dmy(), "1-11-2014", date(2014, 11, 1)),
        (DateParser.dmy(), "29-02-2024", date(2024, 2, 29)),
        (DateParser.dmy(), "29-02-2023", None),
        (DateParser.dmy(), "31-04-2015", None),
        (DateParser.dmy(), "2014-11-01", None),
        (DateParser.dmy(), "01-11-14", None),
        (DateParser.ymd(), "20141101", date(2014, 11, 1)),
        (DateParser.ymd(), "20230229", None),
        (DateParser.ymd(), "2014110", None),
    ],
)
def test_date_parsers(parser, text, expected):
    assert parser(text) == expected
    assert parser(text) == expected  # and again, from the cache


def test_date_memo_stays_bounded(monkeypatch):
    monkeypatch.setattr(DateParser, "MAX_CACHED", 10)
    parser = DateParser.ymd()
    for day in range(1, 29):
        assert parser(f"201401{day:02d}") == date(2014, 1, day)
    assert len(parser) <= 10


def test_municipality_memo():
    parse = municipality_parser()
    assert parse("748") == parse("GM0748") == "GM0748"
    assert parse("x") is None


def test_benefit_date_errors():
    assert benefit_date_errors(date(2020, 1, 1), date(2019, 1, 1), date(1980, 1, 1)) == [
        "benefit end date is before its start date"
    ]
    assert benefit_date_errors(date(2020, 1, 1), None, date(2021, 1, 1)) == [
        "birth date is not before the benefit start"
    ]
    assert benefit_date_errors(None, None, None) == []


def _records(data: bytes, **kwargs):
    export = open_csv_export(io.BytesIO(data), columns=COLUMNS, **kwargs)
    return export, list(export.records)


def test_windows_1252_and_utf8_with_bom_read_alike():
    text = "bsn;reden\r\n999998523;Beëindigd\r\n"
    for data in (text.encode("cp1252"), b"\xef\xbb\xbf" + text.encode("utf-8"), text.encode()):
        _, records = _records(data)
        assert records == [(2, ["999998523", "Beëindigd"])]


def test_columns_are_found_by_name_in_any_order_and_case():
    export, records = _records(b"Reden;Extra;BSN\n11;x;999998523\n")
    assert export.columns == {"bsn": 2, "reden": 0}
    assert records == [(2, ["11", "x", "999998523"])]


def test_line_numbers_count_physical_lines():
    data = b'bsn;reden\n1;"two\nlines"\n\n2;x\n'
    _, records = _records(data)
    assert [line for line, _ in records] == [2, 5]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "the export is empty"),
        (b"bsn,reden\n1,2\n", "separates its columns with ','; expected ';'"),
        (b"bsn\treden\n", "separates its columns with a tab"),
        (b"bsn\n", "has a single column"),
        (b"bsn;naam\n", "lacks the column(s) reden"),
        (b"bsn;reden\n1;\x81\x8d\n", "line 2: the text is neither UTF-8 nor Windows-1252"),
        (
            b"\xef\xbb\xbfbsn;reden\n1;\xe9\n",
            "line 2: the file is read as UTF-8 (it starts with a byte order mark",
        ),
        (b"bsn;reden\n" + b"x" * (MAX_LINE_BYTES + 10) + b"\n", "line 2 is longer than"),
        (b'bsn;reden\n1;"a\x00b"\n', "line 2 contains a NUL byte"),
        ("bsn;reden\n".encode("utf-16"), "UTF-16"),
        (b"PK\x03\x04\x14\x00\x06\x00", "spreadsheet workbook"),
        (b'bsn;reden\n1;"open quote\n2;x\n', "line 3: unexpected end of data"),
    ],
)
def test_whole_file_problems_raise_a_format_error(data, message):
    with pytest.raises(ExportFormatError) as caught:
        _records(data)
    assert message in caught.value.message
    assert caught.value.status == 422


def test_format_error_is_a_422():
    assert ExportFormatError("x").to_dict()["error"]["code"] == "export_format"


def test_comma_is_accepted_when_allowed():
    export, records = _records(b"bsn,reden\n1,2\n", delimiters=(";", ","))
    assert export.delimiter == ","
    assert records == [(2, ["1", "2"])]


def _line_by_line(data: bytes) -> list[tuple[int, list[str]]]:
    """The records as a plain reader gets them: split at LF, each line UTF-8 else
    Windows-1252, then the csv module (an independent reference for the block reader)."""
    import csv

    raw_lines = [line + b"\n" for line in data.split(b"\n")]
    raw_lines[-1] = raw_lines[-1][:-1]
    texts = []
    for raw in raw_lines[1:]:
        try:
            texts.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            texts.append(raw.decode("cp1252"))
    reader = csv.reader(texts, delimiter=";", strict=True)
    records, consumed = [], 1
    for fields in reader:
        start, consumed = consumed + 1, reader.line_num + 1
        if len(fields) > 1 or (fields and fields[0].strip()):
            records.append((start, fields))
    return records


@pytest.mark.parametrize(
    "odd_line",
    [
        "999998523;Beëindigd".encode("cp1252"),  # Windows-1252 among UTF-8 lines
        "999998523;Beëindigd".encode(),
        b'999998523;"form\x0cfeed"',  # a break str.splitlines knows and the csv module doesn't
        '999998523;"line\u2028separator"'.encode(),
        b'999998523;"two\nlines"',
        b'999998523;"two\r\nlines"',
        b"999998523;" + b"x" * (MAX_LINE_BYTES - 20),  # long, within the limit
    ],
)
def test_reading_in_blocks_gives_what_reading_line_by_line_gives(odd_line):
    # the odd line lands in a late block, beside lines that straddle block boundaries
    body = b"".join(b"%09d;reden %d\r\n" % (n, n) for n in range(30_000))
    data = b"bsn;reden\r\n" + body + odd_line + b"\r\n" + body + b"123;last line without LF"
    _, records = _records(data)
    assert records == _line_by_line(data)


@pytest.mark.parametrize(
    ("odd_line", "message"),
    [
        (b"1;\x81\x8d", "the text is neither UTF-8 nor Windows-1252"),
        (b"x" * (MAX_LINE_BYTES + 10), "is longer than"),
        (b'1;"a\x00b"', "contains a NUL byte"),
        (b"1;a\rb", "new-line character seen in unquoted field"),
    ],
)
def test_a_bad_line_in_a_late_block_is_named_by_its_number(odd_line, message):
    body = b"".join(b"%09d;reden\n" % n for n in range(20_000))
    data = b"bsn;reden\n" + body + odd_line + b"\n" + body
    with pytest.raises(ExportFormatError) as caught:
        _records(data)
    assert message in caught.value.message
    assert "line 20002" in caught.value.message
