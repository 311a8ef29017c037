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
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import BinaryIO

from fiptrial.plugins.declarative.layout import FIELDS, ExportLayout, FieldSpec
from fiptrial.plugins.messages import format_error, row_error
from fiptrial.plugins.parsing import (
    DateParser,
    Memo,
    could_identify,
    municipality_parser,
    normalise_bsn,
    normalise_statistic_code,
    open_csv_export,
    quoted,
)
from fiptrial.plugins.rows import SKIPPED, ExportRow, RowError, Sex

Texts = Sequence[str]
Builder = Callable[[int, Texts], ExportRow]
DATE_FORMAT_NAMES = {"dmy": "dd-mm-jjjj", "ymd": "jjjjmmdd", "iso": "jjjj-mm-dd"}
_FORMAT_KEYS = {"dd-mm-jjjj": "dmy", "jjjjmmdd": "ymd", "jjjj-mm-dd": "iso"}
_NO_CODE = "not a statistiekcode"  # what the statistic-code memo gives for a malformed code
#: What the reason memo gives for a "code" that could identify a person (a BSN or a date in
#: the reason column of a misaligned row): the row is rejected without quoting it.
_NO_REASON = "not a reason code"
(
    I_BSN, I_BIRTH, I_SEX, I_HOME, I_START, I_END, I_REASON, I_NEW,
    I_UNIT, I_CODE, I_EDUCATION, I_REGION, I_CLIENT,
) = range(len(FIELDS))  # fmt: skip


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
    return _xml_rows(layout, source, wanted)


# --- one row from its texts -------------------------------------------------------------------


def _statistic_code(text: str) -> str | None:
    if not text.strip():
        return None
    return normalise_statistic_code(text) or _NO_CODE


def _reason_normaliser(spec: FieldSpec) -> Callable[[str], str | None]:
    def normalise(text: str) -> str | None:
        code = text.strip()
        if not code:
            return None
        if could_identify(code):
            return _NO_REASON
        if spec.upper:
            code = code.upper()
        if spec.zero_pad and code.isdigit() and len(code) < spec.zero_pad:
            code = code.zfill(spec.zero_pad)
        return code

    return normalise


@dataclass(frozen=True)
class _Parsers:
    """The memoised field parsers of one read (see ``Memo``): one per date format, sex codes in
    upper and lower case, municipalities, statistic codes and reason codes."""

    birth_dates: DateParser
    start_dates: DateParser
    end_dates: DateParser
    sexes: dict[str, Sex]
    municipalities: Memo[str | None]
    statistic_codes: Memo[str | None]
    reasons: Memo[str | None]

    @classmethod
    def of(cls, layout: ExportLayout) -> _Parsers:
        specs = layout.fields
        parsers: dict[str, DateParser] = {}  # one memo per date format, shared by its fields

        def dates(field: str) -> DateParser:
            spec = specs.get(field)
            key = _FORMAT_KEYS[spec.date_format] if spec else "ymd"
            if key not in parsers:
                parsers[key] = DateParser.named(key)
            return parsers[key]

        sexes: dict[str, Sex] = {}
        for code, sex in layout.sexes.items():
            sexes[code] = sexes[code.lower()] = sex
        return cls(
            dates("birth_date"), dates("benefit_start"), dates("benefit_end"), sexes,
            municipality_parser(), Memo(_statistic_code),
            Memo(_reason_normaliser(specs["local_reason"])),
        )  # fmt: skip


def row_builder(layout: ExportLayout) -> Builder:
    """A function from a record's texts (in ``FIELDS`` order, ``""`` when absent) to its row."""
    p = _Parsers.of(layout)
    birth_dates, start_dates, end_dates = p.birth_dates, p.start_dates, p.end_dates
    sexes, municipalities, statistic_codes, reasons = (
        p.sexes, p.municipalities, p.statistic_codes, p.reasons
    )  # fmt: skip
    bsn_of = normalise_bsn

    def build(line: int, t: Texts) -> ExportRow:
        (bsn_t, birth_t, sex_t, home_t, start_t, end_t, reason_t, new_t, unit_t, code_t,
         education_t, region_t, client_t) = t  # fmt: skip
        bsn = bsn_of(bsn_t)
        birth = birth_dates(birth_t)
        sex = sexes.get(sex_t) or sexes.get(sex_t.strip().upper())
        home = municipalities(home_t)
        start = start_dates(start_t)
        end_t = end_t.strip()
        end = end_dates(end_t) if end_t else None
        reason = reasons(reason_t)
        new_t = new_t.strip()
        new = municipalities(new_t) if new_t else None
        code = statistic_codes(code_t) if code_t else None
        if (
            bsn is None
            or birth is None
            or sex is None
            or home is None
            or start is None
            or (end is None) is not (reason is None)
            or (new_t and new is None)
            or birth >= start
            or (end is not None and end < start)
            or code is _NO_CODE
            or reason is _NO_REASON
        ):
            errors = _errors(layout, t, bsn, birth, sex, home, start, end, reason, new, code)
            if code is _NO_CODE:
                code = None
            if reason is _NO_REASON:
                reason = None
        else:
            errors = ()
        return ExportRow(
            line, bsn, birth, sex, home, start, end, reason, new, errors,
            unit_t.strip() or None, code, education_t.strip() or None,
            region_t.strip() or None, client_t.strip() or None,
        )  # fmt: skip

    return build


def _errors(
    layout: ExportLayout,
    t: Texts,
    bsn: str | None,
    birth: date | None,
    sex: Sex | None,
    home: str | None,
    start: date | None,
    end: date | None,
    reason: str | None,
    new: str | None,
    code: str | None,
) -> tuple[RowError, ...]:
    """Why a row is bad, in field order; names columns, never quotes a BSN or a date."""
    label = layout.label
    specs = layout.fields
    errors: list[RowError] = []

    def date_error(field: str, value: date | None, text: str) -> None:
        if value is None and text.strip():
            fmt = specs[field].date_format
            errors.append(row_error("row_invalid_date", field, column=label(field), format=fmt))
        elif value is None:
            errors.append(row_error("row_value_missing", field, column=label(field)))

    if bsn is None:
        errors.append(
            row_error("row_invalid_bsn", "bsn", column=label("bsn"))
            if t[I_BSN].strip()
            else row_error("row_value_missing", "bsn", column=label("bsn"))
        )
    date_error("birth_date", birth, t[I_BIRTH])
    if sex is None:
        errors.append(
            row_error("row_invalid_sex", "sex", column=label("sex"),
                      value=quoted(t[I_SEX].strip()), codes=layout.sex_codes)
        )  # fmt: skip
    if home is None:
        errors.append(
            row_error("row_invalid_municipality", "municipality", column=label("municipality"),
                      value=quoted(t[I_HOME].strip()))
        )  # fmt: skip
    date_error("benefit_start", start, t[I_START])
    end_text = t[I_END].strip()
    if end_text and end is None:
        errors.append(
            row_error("row_invalid_date", "benefit_end", column=label("benefit_end"),
                      format=specs["benefit_end"].date_format)
        )  # fmt: skip
    if end_text and reason is None:
        errors.append(
            row_error("row_end_without_reason", "local_reason", column=label("benefit_end"),
                      other=label("local_reason"))
        )  # fmt: skip
    if reason is _NO_REASON:
        errors.append(
            row_error("row_reason_identifying", "local_reason", column=label("local_reason"))
        )
    if reason is not None and not end_text:
        errors.append(
            row_error("row_reason_without_end", "benefit_end", column=label("local_reason"),
                      other=label("benefit_end"))
        )  # fmt: skip
    if t[I_NEW].strip() and new is None:
        errors.append(
            row_error("row_invalid_municipality", "new_municipality",
                      column=label("new_municipality"), value=quoted(t[I_NEW].strip()))
        )  # fmt: skip
    if code is _NO_CODE:
        errors.append(
            row_error(
                "row_invalid_statistic_code", "statistic_code", column=label("statistic_code")
            )
        )
    if start is not None and end is not None and end < start:
        errors.append(row_error("row_end_before_start", "benefit_end"))
    if birth is not None and start is not None and birth >= start:
        errors.append(row_error("row_birth_not_before_start", "birth_date"))
    return tuple(errors)


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
    rather than calling ``row_builder``: it is the whole cost of reading a million-row export,
    and a good row passes one combined test (the messages of a bad one come from ``_errors``)."""
    p = _Parsers.of(layout)
    birth_dates, start_dates, end_dates = p.birth_dates, p.start_dates, p.end_dates
    sexes, municipalities, statistic_codes, reasons = (
        p.sexes, p.municipalities, p.statistic_codes, p.reasons
    )  # fmt: skip
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
        birth = birth_dates(birth_t)
        sex = sexes.get(sex_t) or sexes.get(sex_t.strip().upper())
        home = municipalities(home_t)
        start = start_dates(start_t)
        end_t = end_t.strip()
        end = end_dates(end_t) if end_t else None
        reason = reasons(reason_t)
        new_t = new_t.strip()
        new = municipalities(new_t) if new_t else None
        unit = fields[i_unit].strip() or None if i_unit >= 0 else None
        code_t = fields[i_code] if i_code >= 0 else ""
        code = statistic_codes(code_t) if code_t else None
        if (
            bsn is None
            or birth is None
            or sex is None
            or home is None
            or start is None
            or (end is None) is not (reason is None)
            or (new_t and new is None)
            or birth >= start
            or (end is not None and end < start)
            or code is _NO_CODE
            or reason is _NO_REASON
        ):
            texts = [fields[i] if i >= 0 else "" for i in positions]
            errors = _errors(layout, texts, bsn, birth, sex, home, start, end, reason, new, code)
            if code is _NO_CODE:
                code = None
            if reason is _NO_REASON:
                reason = None
        else:
            errors = ()
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


# --- XML --------------------------------------------------------------------------------------

_PERSON, _UNKNOWN = -2, -1
#: How much of the start of an XML file is searched for a DTD (it must precede the root).
_PROLOG_BYTES = 64 * 1024


class _Prefixed:
    """A binary stream that first gives back ``head`` (already read to look at the prolog)."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self.head, self.rest = head, rest

    def read(self, size: int = -1) -> bytes:
        if self.head:
            if size < 0 or size >= len(self.head):
                data, self.head = self.head, b""
                return data + (self.rest.read(size - len(data)) if size > len(data) else b"")
            data, self.head = self.head[:size], self.head[size:]
            return data
        return self.rest.read(size)


def _xml_rows(
    layout: ExportLayout, source: BinaryIO, wanted: Callable[[str], bool] | None
) -> Iterator[ExportRow]:
    head = source.read(_PROLOG_BYTES)
    if not head.strip():
        raise format_error("export_empty", expected=f"XML with {layout.record} elements")
    root_at = _first_element(head)
    prolog = head if root_at < 0 else head[:root_at]
    if b"<!DOCTYPE" in prolog or b"<!ENTITY" in prolog:
        raise format_error("export_xml_dtd")
    return _xml_loop(layout, _Prefixed(head, source), wanted)


def _first_element(head: bytes) -> int:
    """Where the root element starts (after the declaration, comments and a DTD), or -1."""
    index = 0
    while (index := head.find(b"<", index)) >= 0:
        if head[index + 1 : index + 2] not in (b"?", b"!"):
            return index
        index += 1
    return -1


def _xml_loop(
    layout: ExportLayout, source: _Prefixed, wanted: Callable[[str], bool] | None
) -> Iterator[ExportRow]:
    """lxml's ``iterparse`` delivers the end of each benefit record only (``tag`` filter), with
    the line it started on (``sourceline``); entities are not resolved, nothing is fetched, and
    each record is dropped from the tree once its rows are out."""
    from lxml import etree

    build = row_builder(layout)
    person_tag = layout.person
    benefit_index: dict[str, int] = {}
    person_index: dict[str, int] = {}
    nested: list[tuple[int, str, bool]] = []  # (field, "{*}A/{*}B", is a person field)
    for index, name in enumerate(FIELDS):
        spec = layout.fields.get(name)
        if spec is None:
            continue
        is_person = bool(person_tag) and spec.level == "person"
        if "/" in spec.name:
            path = "/".join(f"{{*}}{part}" for part in spec.name.split("/"))
            nested.append((index, path, is_person))
        else:
            (person_index if is_person else benefit_index)[spec.name] = index
    # Each element tag (as lxml gives it, with its namespace) resolved once to a field index,
    # PERSON for the person element, or UNKNOWN: one dict lookup per element of the file.
    benefit_tags: dict[str, int] = {}
    person_tags: dict[str, int] = {}

    def resolve(tags: dict[str, int], by_name: dict[str, int], tag: str) -> int:
        name = tag.rpartition("}")[2]
        index = tags[tag] = (
            _PERSON if tags is benefit_tags and name == person_tag else by_name.get(name, _UNKNOWN)
        )
        return index

    context = etree.iterparse(
        source,
        events=("end",),
        tag=f"{{*}}{layout.record}",
        resolve_entities=False,
        load_dtd=False,
        no_network=True,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    blank = [""] * len(FIELDS)
    records = 0
    try:
        for _event, record in context:
            records += 1
            texts = blank.copy()
            persons = []
            for child in record:
                tag = child.tag
                found = benefit_tags.get(tag)
                index = resolve(benefit_tags, benefit_index, tag) if found is None else found
                if index >= 0:
                    texts[index] = child.text or ""
                elif index == _PERSON:
                    persons.append(child)
            if nested:
                for index, path, is_person in nested:
                    if not is_person:
                        texts[index] = record.findtext(path) or ""
            if not person_tag:
                yield build(record.sourceline or 0, texts)
            elif not persons:
                error = row_error("row_no_person", None, element=person_tag)
                yield ExportRow(record.sourceline or 0, None, None, None, None, None, None, None,
                                None, (error,))  # fmt: skip
            for person in persons:
                own = texts.copy()
                for child in person:
                    tag = child.tag
                    found = person_tags.get(tag)
                    index = resolve(person_tags, person_index, tag) if found is None else found
                    if index >= 0:
                        own[index] = child.text or ""
                if nested:
                    for index, path, is_person in nested:
                        if is_person:
                            own[index] = person.findtext(path) or ""
                if wanted is not None:
                    bsn = normalise_bsn(own[I_BSN])
                    if bsn is not None and not wanted(bsn):
                        yield SKIPPED
                        continue
                yield build(person.sourceline or 0, own)
            record.clear(keep_tail=True)
            parent = record.getparent()
            if parent is not None:
                while record.getprevious() is not None:
                    del parent[0]
    except etree.XMLSyntaxError as error:
        line = error.lineno or (error.position[0] if error.position else 0)
        reason = str(error.msg or error).split(",")[0]  # libxml2's reason, no quoted content
        raise format_error("export_not_xml", line=line, reason=reason) from None
    if records == 0:
        raise format_error("export_xml_no_records", element=layout.record)
