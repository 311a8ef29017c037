"""Building blocks for export readers, so every site plugin validates fields the same way.

Dutch municipal exports share their quirks: ``;`` separators, Windows-1252 or UTF-8 with a BOM,
``dd-mm-jjjj`` dates, and spreadsheets that drop leading zeros from BSNs and codes. A plugin's
reader should use these helpers rather than its own, so that a BSN or a date that one site
rejects is rejected by every site, and so that reading streams: :func:`open_csv_export` never
holds more than one line of the file in memory.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from itertools import chain
from typing import TYPE_CHECKING, BinaryIO, TypeVar

from fiptrial.plugins.info import PLACEHOLDER_MUNICIPALITY
from fiptrial.plugins.rows import ExportFormatError

#: A longer line is not a client record; refusing it keeps memory flat on a hostile file.
MAX_LINE_BYTES = 64 * 1024
#: How much of a CSV export is decoded at a time (see ``_decoded_lines``).
_BLOCK_BYTES = 64 * 1024
UTF8_BOM = b"\xef\xbb\xbf"
COMMON_DELIMITERS = (";", ",", "\t", "|")
_DELIMITER_NAMES = {";": "';'", ",": "','", "\t": "a tab", "|": "'|'"}
T = TypeVar("T")

# sum(w * (byte - 48)) == sum(w * byte) - 48 * sum(w): the elfproef on raw ASCII bytes, where
# the weights 9..2 and -1 add up to 43.
_BSN_ASCII_OFFSET = 48 * 43


def is_valid_bsn(bsn: str) -> bool:
    """The elfproef on a 9-digit string: weights 9..2 and -1, sum divisible by 11, not all 0.

    Written out instead of calling python-stdnum because readers call it once per row of
    million-row files (it is three times faster); tests check it agrees with ``stdnum.nl.bsn``.
    """
    if len(bsn) != 9 or not bsn.isascii() or not bsn.isdigit() or bsn == "000000000":
        return False
    d = bsn.encode("ascii")
    total = 9 * d[0] + 8 * d[1] + 7 * d[2] + 6 * d[3] + 5 * d[4] + 4 * d[5] + 3 * d[6] + 2 * d[7]
    return (total - d[8] - _BSN_ASCII_OFFSET) % 11 == 0


def normalise_bsn(text: str) -> str | None:
    """A valid 9-digit BSN, left-padding the 8-digit form a spreadsheet leaves; else ``None``."""
    bsn = text
    if len(bsn) != 9:  # the usual case first: no stripping for a clean 9-digit field
        bsn = bsn.strip()
        if len(bsn) == 8:
            bsn = "0" + bsn
    return bsn if is_valid_bsn(bsn) else None


# --- Rejection reasons that never quote a value that could identify a person -------------------

#: Digits with the separators people and spreadsheets put between them (``990 000 345``,
#: ``17-05-1980``, ``17.05.1980``): eight or more digits in such a run could be a BSN, a date,
#: a phone or account number.
_DIGIT_RUN = re.compile(r"\d(?:[\s./_-]*\d){7,}")
#: A date in any common notation, also a short one (``1-5-80``, ``1980/5/1``).
_DATE = re.compile(r"\b\d{1,4}[-/.]\d{1,2}[-/.]\d{2,4}\b")
#: What a rejection reason says instead of such a value.
NOT_SHOWN = "(value not shown: it could identify a person)"
MAX_QUOTED = 40


def could_identify(text: str) -> bool:
    """Could this field value identify a person: a run of 8 or more digits, or any date?"""
    return bool(_DIGIT_RUN.search(text) or _DATE.search(text))


def quoted(text: str) -> str:
    """A field value for a rejection reason: quoted when harmless, else :data:`NOT_SHOWN`.

    Readers must quote field values only through this function: a misaligned row puts a BSN
    or a birth date in any column (``900101;;;990000345;17-05-1980;V;...`` puts them under
    Geslacht and Gemeentecode), and a reason is stored in the import report, answered by the
    API and shown on the web page. Long values are cut, so a report stays readable.
    """
    if could_identify(text):
        return NOT_SHOWN
    if len(text) > MAX_QUOTED:
        text = text[:MAX_QUOTED] + "..."
    return repr(text)


def redacted(message: str) -> str:
    """``message`` with every run of 8+ digits and every date replaced by ``...``.

    The last line of defence for reasons composed elsewhere (a third-party plugin, a service
    message): the import services pass every rejection reason through it before storing it.
    """
    return _DATE.sub("...", _DIGIT_RUN.sub("...", message))


_BSN_LIKE = re.compile(r"(?<!\d)\d(?:[\s.-]?\d){7,8}(?!\d)")


def contains_bsn(text: str | None) -> bool:
    """Does free text hold a number that passes the elfproef (9 digits, or 8 with the leading
    zero lost, spaces, dots or dashes between them)? Notes must never carry a BSN."""
    for match in _BSN_LIKE.finditer(text or ""):
        digits = re.sub(r"\D", "", match.group())
        if normalise_bsn(digits) is not None:
            return True
    return False


def column_error(column: str, text: str, problem: str) -> str:
    """``<column> <value> <problem>``, the value shown only through :func:`quoted`."""
    return f"{column} {quoted(text)} {problem}"


def normalise_municipality(text: str) -> str | None:
    """``"0748"``, ``"748"`` or ``"GM0748"`` to ``"GM0748"``; ``None`` if it is no CBS code."""
    code = text.strip().upper()
    if code.startswith("GM"):
        code = code[2:]
    if not code or len(code) > 4 or not code.isascii() or not code.isdigit():
        return None
    result = "GM" + code.zfill(4)
    return None if result == PLACEHOLDER_MUNICIPALITY else result


def normalise_statistic_code(text: str) -> str | None:
    """A BUS statistiekcode (kenmerk 8) as two digits (``"1"`` -> ``"01"``, as a spreadsheet
    leaves it); ``None`` when it is not one or two digits. Empty text is no code at all: check
    that before calling."""
    code = text.strip()
    if not code or len(code) > 2 or not code.isascii() or not code.isdigit():
        return None
    return code.zfill(2)


STATISTIC_CODE_ERROR = "is not a BUS statistiekcode (two digits, e.g. 01)"


def _parse_dmy(text: str) -> date | None:
    parts = text.strip().split("-")
    if len(parts) != 3 or len(parts[2]) != 4:
        return None
    try:
        return date(int(parts[2]), int(parts[1]), int(parts[0]))
    except ValueError:
        return None


def _parse_ymd(text: str) -> date | None:
    text = text.strip()
    if len(text) != 8 or not text.isascii() or not text.isdigit():
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None


def _parse_iso(text: str) -> date | None:
    text = text.strip()
    if len(text) != 10 or text[4] != "-" or text[7] != "-":
        return None
    return _parse_ymd(text[:4] + text[5:7] + text[8:])


class Memo(dict[str, T]):
    """A function of a field's text, remembered per distinct text; call it like the function.

    An export has far fewer distinct dates and codes than rows (birth dates, benefit starts and
    municipality codes repeat), so parsing each distinct text once makes field parsing nearly
    free. A dict subclass whose ``__call__`` is ``dict.__getitem__`` keeps a hit in C; a miss
    computes through ``__missing__``. The memo is emptied when it holds ``MAX_CACHED`` entries,
    so memory stays flat however large and varied the file is.
    """

    __slots__ = ("_compute",)
    MAX_CACHED = 50_000

    def __init__(self, compute: Callable[[str], T]) -> None:
        super().__init__()
        self._compute = compute

    def __missing__(self, text: str) -> T:
        if len(self) >= self.MAX_CACHED:
            self.clear()
        value = self[text] = self._compute(text)
        return value

    if TYPE_CHECKING:

        def __call__(self, text: str) -> T: ...

    else:
        __call__ = dict.__getitem__


class DateParser(Memo["date | None"]):
    """Parses one date format into ``date``, or ``None`` for an impossible or malformed date."""

    __slots__ = ()

    @classmethod
    def dmy(cls) -> DateParser:
        """``dd-mm-jjjj`` (also ``d-m-jjjj``, as a spreadsheet may rewrite it)."""
        return cls(_parse_dmy)

    @classmethod
    def ymd(cls) -> DateParser:
        """``jjjjmmdd``, the BUS format."""
        return cls(_parse_ymd)

    @classmethod
    def iso(cls) -> DateParser:
        """``jjjj-mm-dd`` (ISO 8601), as XML exports write ``xs:date``."""
        return cls(_parse_iso)

    @classmethod
    def named(cls, name: str) -> DateParser:
        """The parser for a layout's date format: ``"dmy"``, ``"ymd"`` or ``"iso"``."""
        return {"dmy": cls.dmy, "ymd": cls.ymd, "iso": cls.iso}[name]()


def municipality_parser() -> Memo[str | None]:
    """:func:`normalise_municipality`, remembered per distinct text."""
    return Memo(normalise_municipality)


def benefit_date_errors(start: date | None, end: date | None, birth: date | None) -> list[str]:
    """Errors for dates that are each valid but impossible together."""
    errors = []
    if start is not None and end is not None and end < start:
        errors.append("benefit end date is before its start date")
    if birth is not None and start is not None and birth >= start:
        errors.append("birth date is not before the benefit start")
    return errors


@dataclass
class CsvExport:
    """An opened CSV export: its columns, and an iterator over its records.

    ``records`` yields ``(line, fields)`` with the line number where the record starts; it is
    lazy, so decoding and CSV errors surface as :class:`ExportFormatError` while iterating.
    """

    columns: dict[str, int]
    delimiter: str
    encoding: str
    records: Iterator[tuple[int, list[str]]]


def open_csv_export(
    source: BinaryIO,
    *,
    columns: Sequence[str],
    optional_columns: Sequence[str] = (),
    delimiters: Sequence[str] = (";",),
    what: str = "export",
    encodings: Sequence[str] = ("utf-8", "windows-1252"),
) -> CsvExport:
    """Check the header of a CSV export and return a streaming reader over its records.

    Encoding: a UTF-8 BOM means UTF-8; without one each line is read as UTF-8 and, if that
    fails, as Windows-1252 -- UTF-8 decoding of Windows-1252 text with accents practically
    always fails, so both encodings that Dutch exports come in are understood, and a line in
    neither is a format error naming the line. Column names are matched case-insensitively and
    in any order; ``columns`` are required, ``optional_columns`` may be absent. ``encodings``
    narrows what is accepted: ``("utf-8",)`` refuses Windows-1252 lines, ``("windows-1252",)``
    reads every line (without a BOM) as Windows-1252.

    Raises:
        ExportFormatError: an empty file, bare-CR line endings, a line that is too long,
            another separator than one of ``delimiters``, missing or repeated columns -- with
            a message that says what is wrong.
    """
    first = source.readline(MAX_LINE_BYTES + 1)
    if not first.strip():
        raise ExportFormatError(f"the {what} is empty: expected a header line")
    if b"\r" in first.rstrip(b"\r\n"):
        raise ExportFormatError(
            f"the {what} ends its lines with a bare CR (old Mac line endings): save it as CSV "
            "with Windows (CR LF) or Unix (LF) line endings",
            code="export_line_endings",
        )
    _check_line_length(first, 1)
    if first.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        raise ExportFormatError(
            f"the {what} is a spreadsheet workbook, not a CSV file: save it as CSV"
        )
    if first.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in first:
        raise ExportFormatError(
            f"the {what} is in UTF-16 ('Unicode text') or binary: save it as CSV in UTF-8 or "
            "Windows-1252"
        )
    if first.startswith(UTF8_BOM):
        first, encoding = first[len(UTF8_BOM) :], "utf-8"
    elif "windows-1252" not in encodings:
        encoding = "utf-8"
    elif "utf-8" not in encodings:
        encoding = "windows-1252"
    else:
        encoding = "utf-8/windows-1252"
    header_text = _decode(first, 1, encoding)
    delimiter = _detect_delimiter(header_text, delimiters, what)
    try:
        header = [
            name.strip().casefold()
            for name in next(csv.reader([header_text], delimiter=delimiter, strict=True))
        ]
    except csv.Error as error:
        raise ExportFormatError(f"line 1 (the header) cannot be read as CSV: {error}") from None
    found = {name: index for index, name in enumerate(header)}
    missing = [name for name in columns if name.casefold() not in found]
    if missing:
        raise ExportFormatError(
            f"the {what} header lacks the column(s) {', '.join(missing)}; "
            f"expected {delimiter.join(columns)}",
            code="export_missing_columns",
            missing_columns=missing,
            columns=", ".join(missing),
        )
    duplicates = [name for name, n in Counter(header).items() if name and n > 1]
    if duplicates:
        names = ", ".join(quoted(name) for name in duplicates)
        raise ExportFormatError(
            f"the {what} header names the column(s) {names} more than once: each column may "
            "appear once",
            code="export_duplicate_columns",
        )
    positions = {
        name: found[name.casefold()]
        for name in (*columns, *optional_columns)
        if name.casefold() in found
    }
    return CsvExport(positions, delimiter, encoding, _records(source, delimiter, encoding))


def _records(source: BinaryIO, delimiter: str, encoding: str) -> Iterator[tuple[int, list[str]]]:
    # strict: an unclosed quote must not silently swallow the rest of the file into one field
    reader = csv.reader(_decoded_lines(source, encoding), delimiter=delimiter, strict=True)
    consumed = 1  # the header
    try:
        for fields in reader:
            start = consumed + 1
            consumed = reader.line_num + 1
            if len(fields) > 1 or (fields and fields[0].strip()):
                yield start, fields
    except csv.Error as error:
        raise ExportFormatError(f"line {reader.line_num + 1}: {error}") from error


def _decoded_lines(source: BinaryIO, encoding: str) -> Iterator[str]:
    """The file's lines as text, for ``csv.reader``.

    Read in blocks of whole lines: a plain block (no NUL, no line over the limit, no line
    break other than LF or CR LF) is decoded and split in C, and ``chain`` hands its lines to
    the csv module without a Python step per line -- this runs once per line of a
    million-row file. Any other block goes line by line through :func:`_checked_lines`, which
    raises the format error naming the exact line.
    """
    return chain.from_iterable(_decoded_blocks(source, encoding))


def _decoded_blocks(source: BinaryIO, encoding: str) -> Iterator[Iterable[str]]:
    number = 1  # lines before the block: the header
    read, rest = source.read, b""
    while data := read(_BLOCK_BYTES):
        block = rest + data
        cut = block.rfind(b"\n") + 1
        if cut == 0:  # not one whole line yet
            _check_line_length(block, number + 1)
            rest = block
            continue
        block, rest = block[:cut], block[cut:]
        yield _plain_lines(block, number, encoding) or _checked_lines(block, number, encoding)
        number += block.count(b"\n")
    if rest:
        yield _plain_lines(rest, number, encoding) or _checked_lines(rest, number, encoding)


def _plain_lines(block: bytes, number: int, encoding: str) -> list[str] | None:
    """The lines of a plain block (see :func:`_decoded_lines`), else ``None``.

    Every test here is one pass in C: a line break other than LF or CR LF shows as more lines
    than LFs, a non-UTF-8 byte as a lone surrogate that strict encoding refuses.
    """
    if b"\x00" in block:
        return None
    if encoding == "windows-1252":
        text = block.decode("cp1252", errors="replace")
    else:
        # Bytes that are not UTF-8 become lone surrogates: only their lines are decoded again,
        # one by one, as a line-by-line read would (Windows-1252, or the error naming it).
        text = block.decode("utf-8", errors="surrogateescape")
    lines = text.splitlines(keepends=True)
    if len(lines) != block.count(b"\n") + (not block.endswith(b"\n")):
        return None
    one_byte = encoding == "windows-1252" or text.isascii()
    # a character is at most four bytes: a longer line goes to the exact check
    if max(map(len, lines)) >= (MAX_LINE_BYTES if one_byte else MAX_LINE_BYTES // 4):
        return None
    if not one_byte:
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            for index, line in enumerate(lines):
                raw = line.encode("utf-8", errors="surrogateescape")
                if not raw.isascii():
                    lines[index] = _decode(raw, number + index + 1, encoding)
    return lines


def _checked_lines(block: bytes, number: int, encoding: str) -> Iterator[str]:
    """The lines of a block one by one, each checked (length, NUL, encoding)."""
    utf8_first = encoding != "windows-1252"
    for raw in _lf_lines(block):
        number += 1
        _check_line_length(raw, number)
        if b"\x00" in raw:
            raise ExportFormatError(f"line {number} contains a NUL byte: this is not a text file")
        if utf8_first:
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                text = _decode(raw, number, encoding)
        else:
            text = _decode(raw, number, encoding)
        yield text


def _lf_lines(block: bytes) -> list[bytes]:
    """A block's lines split at LF only (a bare CR stays inside its line, for csv to judge)."""
    lines = block.split(b"\n")
    last = lines.pop()
    return [line + b"\n" for line in lines] + ([last] if last else [])


def _decode(raw: bytes, number: int, encoding: str) -> str:
    if encoding == "windows-1252":
        return raw.decode("cp1252", errors="replace")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        if encoding == "utf-8":
            raise ExportFormatError(
                f"line {number}: the file is read as UTF-8 (it starts with a byte order mark, "
                "or its layout allows no other encoding) but this line is not valid UTF-8"
            ) from None
    try:
        return raw.decode("cp1252")
    except UnicodeDecodeError:
        raise ExportFormatError(
            f"line {number}: the text is neither UTF-8 nor Windows-1252"
        ) from None


def _check_line_length(raw: bytes, number: int) -> None:
    if len(raw) > MAX_LINE_BYTES:
        raise ExportFormatError(
            f"line {number} is longer than {MAX_LINE_BYTES} bytes: this is not a client export"
        )


def _detect_delimiter(header: str, allowed: Sequence[str], what: str) -> str:
    for delimiter in allowed:
        if delimiter in header:
            return delimiter
    expected = " or ".join(_DELIMITER_NAMES.get(d, repr(d)) for d in allowed)
    for other in COMMON_DELIMITERS:
        if other in header:
            raise ExportFormatError(
                f"the {what} separates its columns with {_DELIMITER_NAMES[other]}; "
                f"expected {expected}"
            )
    raise ExportFormatError(
        f"the {what} header has a single column; expected columns separated by {expected}"
    )
