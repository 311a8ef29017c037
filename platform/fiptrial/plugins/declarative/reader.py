"""The one reader of every declarative export: CSV or XML, as its ``export.toml`` describes.

Both formats stream. A CSV goes through :func:`fiptrial.plugins.parsing.open_csv_export` (the
encoding, separator and header checks every site shares); an XML file is fed line by line to
the standard library's pull parser (``xml.etree.ElementTree.XMLPullParser``, expat underneath),
and each benefit record is removed from the tree as soon as it has been read, so a million
records cost the memory of one. A file that declares a DTD or entities is refused before
anything is parsed: an export never needs one, and refusing it closes the door on entity
expansion attacks.

Every record becomes one :class:`~fiptrial.plugins.rows.ExportRow` per person: a CSV line is
one person (two with a partner on the row, ``unit.given_by = "partner_columns"``); an XML
benefit record gives one row per person element inside it, each with the benefit's own fields
(municipality, unit key, statistic code, end reason). Fields are validated with the shared
helpers (elfproef, dates, CBS codes), and a bad field becomes a :class:`RowError` from
:mod:`fiptrial.plugins.messages` naming its column -- never quoting a BSN or a date.

Speed: a good row passes one combined test and its messages are only composed for bad rows;
dates, codes and municipalities are parsed once per distinct text (``Memo``).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator
from typing import BinaryIO

from fiptrial.plugins.declarative.layout import FIELDS, ExportLayout, FieldSpec
from fiptrial.plugins.declarative.record import (
    I_BSN,
    I_CODE,
    I_EDUCATION,
    I_NEW,
    I_UNIT,
    Parsers,
    core_reader,
    rejected,
    row_builder,
)
from fiptrial.plugins.declarative.xml_reader import xml_rows
from fiptrial.plugins.messages import row_error
from fiptrial.plugins.parsing import (
    normalise_bsn,
    open_csv_export,
)
from fiptrial.plugins.rows import SKIPPED, ExportRow, RowError


def read_export(
    layout: ExportLayout, source: BinaryIO, wanted: Callable[[str], bool] | None = None
) -> Iterator[ExportRow]:
    """Check the start of the file now, then stream its rows.

    ``wanted`` (see the ``read_export`` hook): a person whose valid BSN it refuses is given as
    ``SKIPPED``, read no further -- on the plain one-person-per-line CSV and in XML; lines with
    partners or baseline columns are read in full.

    Raises:
        ExportFormatError: a wrong header, separator, encoding or XML structure -- at once when
            the start of the file shows it, else while iterating.
    """
    if layout.format == "csv":
        return _csv_rows(layout, source, wanted)
    return xml_rows(layout, source, wanted)


# --- CSV --------------------------------------------------------------------------------------


def _csv_rows(
    layout: ExportLayout, source: BinaryIO, wanted: Callable[[str], bool] | None
) -> Iterator[ExportRow]:
    specs = [layout.fields.get(name) for name in FIELDS]
    partner_specs = layout.partner
    columns = [*(s.name for s in specs if s is not None and not s.optional),
               *(s.name for s in partner_specs.values() if not s.optional),
               *layout.required_columns]  # fmt: skip
    optional = [*(s.name for s in specs if s is not None and s.optional),
                *(s.name for s in partner_specs.values() if s.optional)]  # fmt: skip
    export = open_csv_export(
        source,
        columns=columns,
        optional_columns=optional,
        delimiters=layout.delimiters,
        what=layout.what,
        encodings=layout.encodings,
    )
    found = {name.casefold(): index for name, index in export.columns.items()}

    def position(spec: FieldSpec | None) -> int:
        if spec is None:
            return -1
        return found.get(spec.name.casefold(), -1)

    positions = [position(spec) for spec in specs]
    width = max(export.columns.values()) + 1
    partner = _partner_picker(layout, positions, found)
    return _csv_loop(layout, export.records, positions, width, export.delimiter, partner, wanted)


def _csv_loop(
    layout: ExportLayout,
    records: Iterator[tuple[int, list[str]]],
    positions: list[int],
    width: int,
    delimiter: str,
    partner: Callable[[int, list[str], ExportRow], ExportRow | None] | None,
    wanted: Callable[[str], bool] | None,
) -> Iterator[ExportRow]:
    padded = -1 in positions  # an absent optional column reads as the "" appended to each row
    if partner is None and all(p < 0 for p in positions[I_EDUCATION:]):
        # the plain loop reads the unit and code columns by position: only the eight fields
        # it picks need the padding
        core_padded = -1 in positions[: I_NEW + 1]
        return _plain_csv_loop(layout, records, positions, width, delimiter, core_padded, wanted)
    return _built_csv_loop(layout, records, positions, width, delimiter, padded, partner)


def _built_csv_loop(
    layout: ExportLayout,
    records: Iterator[tuple[int, list[str]]],
    positions: list[int],
    width: int,
    delimiter: str,
    padded: bool,
    partner: Callable[[int, list[str], ExportRow], ExportRow | None] | None,
) -> Iterator[ExportRow]:
    """Every field through ``row_builder``, and the partner's row after the applicant's."""
    build = row_builder(layout)
    pick = operator.itemgetter(*positions)
    # Partners on one line without a unit column: the applicant's BSN keys the unit, for the
    # applicant too (a partner who joins later finds the same unit).
    keyed_by_bsn = partner is not None and positions[I_UNIT] < 0
    for line, fields in records:
        if len(fields) < width:
            yield _short_row(line, width, len(fields), delimiter)
            continue
        if padded:
            fields.append("")
        row = build(line, pick(fields))
        if keyed_by_bsn and row.bsn is not None:
            row = row._replace(unit_key=row.bsn)
        yield row
        if partner is not None:
            other = partner(line, fields, row)
            if other is not None:
                yield other


def _plain_csv_loop(
    layout: ExportLayout,
    records: Iterator[tuple[int, list[str]]],
    positions: list[int],
    width: int,
    delimiter: str,
    padded: bool,
    wanted: Callable[[str], bool] | None,
) -> Iterator[ExportRow]:
    """The loop of the common case -- one person per line, no baseline columns -- written out
    rather than calling ``row_builder``: it is the whole cost of reading a million-row export.
    It picks only the columns it needs and asks ``wanted`` before parsing more than the BSN;
    the fields' parse and the one test of a good row are ``core_reader``'s, as in
    ``row_builder``."""
    core = core_reader(Parsers.of(layout))
    pick = operator.itemgetter(*positions[: I_NEW + 1])
    i_unit, i_code = positions[I_UNIT], positions[I_CODE]
    bsn_of = normalise_bsn
    for line, fields in records:
        if len(fields) < width:
            yield _short_row(line, width, len(fields), delimiter)
            continue
        if padded:
            fields.append("")
        bsn_t, birth_t, sex_t, home_t, start_t, end_t, reason_t, new_t = pick(fields)
        bsn = bsn_of(bsn_t)
        if bsn is not None and wanted is not None and not wanted(bsn):
            yield SKIPPED
            continue
        unit = fields[i_unit].strip() or None if i_unit >= 0 else None
        code_t = fields[i_code] if i_code >= 0 else ""
        core_fields = core(bsn, birth_t, sex_t, home_t, start_t, end_t, reason_t, new_t, code_t)
        birth, sex, home, start, end, reason, new, code, good = core_fields
        errors: tuple[RowError, ...] = ()
        if not good:
            texts = [fields[i] if i >= 0 else "" for i in positions]
            errors, reason, code = rejected(layout, texts, bsn, core_fields)
        yield ExportRow(line, bsn, birth, sex, home, start, end, reason, new, errors, unit, code)


def _partner_picker(
    layout: ExportLayout, positions: list[int], found: dict[str, int]
) -> Callable[[int, list[str], ExportRow], ExportRow | None] | None:
    """With ``unit.given_by = "partner_columns"``: the partner's row, when the partner's BSN
    column is filled. The partner shares the applicant's benefit fields and unit: the unit key
    column if the layout has one, else the applicant's BSN (the platform pseudonymises either)."""
    if layout.unit != "partner_columns":
        return None
    build = row_builder(layout)
    own = {FIELDS.index(name): found.get(spec.name.casefold(), -1)
           for name, spec in layout.partner.items()}  # fmt: skip
    bsn_position = own[I_BSN]

    def partner(line: int, fields: list[str], applicant: ExportRow) -> ExportRow | None:
        if bsn_position < 0 or not fields[bsn_position].strip():
            return None
        texts = [fields[p] if p >= 0 else "" for p in positions]
        for index, position in own.items():
            texts[index] = fields[position] if position >= 0 else ""
        if not texts[I_UNIT].strip():
            texts[I_UNIT] = applicant.bsn or fields[positions[I_BSN]].strip()
        return build(line, texts)

    return partner


def _short_row(line: int, expected: int, found: int, delimiter: str) -> ExportRow:
    name = {"\t": "a tab"}.get(delimiter, repr(delimiter))
    error = row_error("row_too_few_fields", None, expected=expected, delimiter=name, found=found)
    return ExportRow(line, None, None, None, None, None, None, None, None, (error,))
