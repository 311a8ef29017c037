"""From one record's texts to its :class:`~fiptrial.plugins.rows.ExportRow`: the field parsers
(memoised per distinct text) and the messages of a bad row, shared by the CSV and XML loops.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from fiptrial.plugins.declarative.layout import FIELDS, ExportLayout, FieldSpec
from fiptrial.plugins.messages import row_error
from fiptrial.plugins.parsing import (
    DateParser,
    Memo,
    could_identify,
    municipality_parser,
    normalise_bsn,
    normalise_statistic_code,
    quoted,
)
from fiptrial.plugins.rows import ExportRow, RowError, Sex

Texts = Sequence[str]
Builder = Callable[[int, Texts], ExportRow]
_FORMAT_KEYS = {"dd-mm-jjjj": "dmy", "jjjjmmdd": "ymd", "jjjj-mm-dd": "iso"}
NO_CODE = "not a statistiekcode"  # what the statistic-code memo gives for a malformed code
#: What the reason memo gives for a "code" that could identify a person (a BSN or a date in
#: the reason column of a misaligned row): the row is rejected without quoting it.
NO_REASON = "not a reason code"
(
    I_BSN, I_BIRTH, I_SEX, I_HOME, I_START, I_END, I_REASON, I_NEW,
    I_UNIT, I_CODE, I_EDUCATION, I_REGION, I_CLIENT,
) = range(len(FIELDS))  # fmt: skip


# --- one row from its texts -------------------------------------------------------------------


def _statistic_code(text: str) -> str | None:
    if not text.strip():
        return None
    return normalise_statistic_code(text) or NO_CODE


def _reason_normaliser(spec: FieldSpec) -> Callable[[str], str | None]:
    def normalise(text: str) -> str | None:
        code = text.strip()
        if not code:
            return None
        if could_identify(code):
            return NO_REASON
        if spec.upper:
            code = code.upper()
        if spec.zero_pad and code.isdigit() and len(code) < spec.zero_pad:
            code = code.zfill(spec.zero_pad)
        return code

    return normalise


@dataclass(frozen=True)
class Parsers:
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
    def of(cls, layout: ExportLayout) -> Parsers:
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


#: A record's parsed fields after its BSN -- birth date, sex, municipality, start, end, reason,
#: new municipality, statistic code -- and whether they pass the one test of a good row.
CoreFields = tuple[
    date | None, Sex | None, str | None, date | None, date | None, str | None, str | None,
    str | None, bool,
]  # fmt: skip


def core_reader(p: Parsers) -> Callable[..., CoreFields]:
    """The parse of a record's core fields and the one combined test a good row passes (the
    messages of a bad one come from :func:`row_errors`), for :func:`row_builder` and the CSV
    reader's plain loop alike. The BSN comes parsed: that loop asks ``wanted`` about it first."""
    birth_dates, start_dates, end_dates = p.birth_dates, p.start_dates, p.end_dates
    sexes, municipalities, statistic_codes, reasons = (
        p.sexes, p.municipalities, p.statistic_codes, p.reasons
    )  # fmt: skip

    def read(
        bsn: str | None, birth_t: str, sex_t: str, home_t: str, start_t: str, end_t: str,
        reason_t: str, new_t: str, code_t: str,
    ) -> CoreFields:  # fmt: skip
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
        good = not (
            bsn is None
            or birth is None
            or sex is None
            or home is None
            or start is None
            or (end is None) is not (reason is None)
            or (new_t and new is None)
            or birth >= start
            or (end is not None and end < start)
            or code is NO_CODE
            or reason is NO_REASON
        )
        return birth, sex, home, start, end, reason, new, code, good

    return read


def rejected(
    layout: ExportLayout,
    t: Texts,
    bsn: str | None,
    fields: CoreFields,
) -> tuple[tuple[RowError, ...], str | None, str | None]:
    """A bad row's messages, and its reason and statistic code without the markers of ones
    that could not be read (or could identify a person)."""
    birth, sex, home, start, end, reason, new, code, _good = fields
    errors = row_errors(layout, t, bsn, birth, sex, home, start, end, reason, new, code)
    return errors, None if reason is NO_REASON else reason, None if code is NO_CODE else code


def row_builder(layout: ExportLayout) -> Builder:
    """A function from a record's texts (in ``FIELDS`` order, ``""`` when absent) to its row."""
    core = core_reader(Parsers.of(layout))
    bsn_of = normalise_bsn

    def build(line: int, t: Texts) -> ExportRow:
        (bsn_t, birth_t, sex_t, home_t, start_t, end_t, reason_t, new_t, unit_t, code_t,
         education_t, region_t, client_t) = t  # fmt: skip
        bsn = bsn_of(bsn_t)
        fields = core(bsn, birth_t, sex_t, home_t, start_t, end_t, reason_t, new_t, code_t)
        birth, sex, home, start, end, reason, new, code, good = fields
        errors: tuple[RowError, ...] = ()
        if not good:
            errors, reason, code = rejected(layout, t, bsn, fields)
        return ExportRow(
            line, bsn, birth, sex, home, start, end, reason, new, errors,
            unit_t.strip() or None, code, education_t.strip() or None,
            region_t.strip() or None, client_t.strip() or None,
        )  # fmt: skip

    return build


def row_errors(
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
    if reason is NO_REASON:
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
    if code is NO_CODE:
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
