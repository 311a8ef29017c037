"""Reader for the ISD Brabantse Wal monthly client export.

The export is a CSV with ``;`` separators, in Windows-1252 (UTF-8 with a BOM is accepted too),
with this header::

    Registratienummer;BSN;Geboortedatum;Geslacht;Gemeentecode;Aanvangsdatum uitkering;
    Einddatum uitkering;Reden beëindiging;Omschrijving reden;Nieuwe gemeentecode;
    Uitkeringsnummer;Statistiekcode

Dates are ``dd-mm-jjjj``; a BSN may have lost its leading zero in a spreadsheet; Geslacht is
M or V; Gemeentecode is "0748" or "GM0748"; Einddatum and Reden are empty while the benefit
runs; Nieuwe gemeentecode is filled on moves. Registratienummer (the client's) and Omschrijving
reden are not passed on: the platform needs neither, and data not passed on cannot leak.

The last two columns may be absent (exports made before 2027 lack them): Uitkeringsnummer is the
benefit's registration number (BUS kenmerk 7), shared by partners on one benefit, and becomes
the benefit-unit key (the platform pseudonymises it); Statistiekcode is the benefit's BUS
statistiekcode (kenmerk 8: 01 algemene bijstand, 11/12 bijzondere bijstand, 14 Bbz, ...).

The loop is written for speed (imports of a million rows must stay close to the cost of
reading the file): a good row passes one combined test, and the messages of a bad row are only
composed in :func:`_errors`.
"""

from __future__ import annotations

import operator
from collections.abc import Iterator
from datetime import date
from typing import BinaryIO

from fiptrial.plugins import ExportRow
from fiptrial.plugins.parsing import (
    STATISTIC_CODE_ERROR,
    CsvExport,
    DateParser,
    Memo,
    column_error,
    could_identify,
    municipality_parser,
    normalise_bsn,
    normalise_statistic_code,
    open_csv_export,
)
from fiptrial.plugins.rows import Sex

COLUMNS = (
    "Registratienummer",
    "BSN",
    "Geboortedatum",
    "Geslacht",
    "Gemeentecode",
    "Aanvangsdatum uitkering",
    "Einddatum uitkering",
    "Reden beëindiging",
    "Omschrijving reden",
    "Nieuwe gemeentecode",
)
#: The columns the platform needs, in the order _rows unpacks them.
USED = COLUMNS[1:8] + COLUMNS[9:]
#: Optional: the benefit unit (kenmerk 7) and the kind of benefit (kenmerk 8).
UNIT_COLUMN, STATISTIC_COLUMN = OPTIONAL_COLUMNS = ("Uitkeringsnummer", "Statistiekcode")
SEXES: dict[str, Sex] = {"M": "male", "V": "female", "m": "male", "v": "female"}


def read_export(source: BinaryIO) -> Iterator[ExportRow]:
    """Check the header now, then stream the rows (see the module docstring for the format).

    Raises:
        ExportFormatError: wrong header, separator or encoding.
    """
    export = open_csv_export(
        source, columns=COLUMNS, optional_columns=OPTIONAL_COLUMNS, what="Brabantse Wal export"
    )
    return _rows(export)


def _rows(export: CsvExport) -> Iterator[ExportRow]:
    positions = [export.columns[name] for name in USED]
    pick = operator.itemgetter(*positions)
    i_unit, i_code = (export.columns.get(name) for name in OPTIONAL_COLUMNS)
    width = max(export.columns.values()) + 1
    dates = DateParser.dmy()
    municipalities = municipality_parser()
    statistic_codes = Memo(_statistic_code)
    for line, fields in export.records:
        if len(fields) < width:
            yield _short_row(line, len(fields))
            continue
        bsn_text, birth_text, sex_text, home_text, start_text, end_text, reason_text, new_text = (
            pick(fields)
        )
        bsn = normalise_bsn(bsn_text)
        birth = dates(birth_text)
        sex = SEXES.get(sex_text) or SEXES.get(sex_text.strip())
        home = municipalities(home_text)
        start = dates(start_text)
        end_text = end_text.strip()
        end = dates(end_text) if end_text else None
        reason = reason_text.strip().upper() or None
        new_text = new_text.strip()
        new = municipalities(new_text) if new_text else None
        unit = (fields[i_unit].strip() or None) if i_unit is not None else None
        code = statistic_codes(fields[i_code]) if i_code is not None else None
        if (
            bsn is None
            or birth is None
            or sex is None
            or home is None
            or start is None
            or (end is None) is not (reason is None)
            or (new_text and new is None)
            or birth >= start
            or (end is not None and end < start)
            or code is _NO_CODE
            or (reason is not None and could_identify(reason))
        ):
            errors = _errors(fields, positions, dates, municipalities, bsn, birth, start, end)
            if code is _NO_CODE:
                errors += (f"{STATISTIC_COLUMN} {STATISTIC_CODE_ERROR}",)
                code = None
        else:
            errors = ()
        yield ExportRow(line, bsn, birth, sex, home, start, end, reason, new, errors, unit, code)


_NO_CODE = "not a statistiekcode"  # what _statistic_code gives for a malformed code


def _statistic_code(text: str) -> str | None:
    """Statistiekcode text to its two digits; ``None`` when empty, ``_NO_CODE`` when wrong."""
    if not text.strip():
        return None
    return normalise_statistic_code(text) or _NO_CODE


def _errors(
    fields: list[str],
    positions: list[int],
    dates: DateParser,
    municipalities: Memo[str | None],
    bsn: str | None,
    birth: date | None,
    start: date | None,
    end: date | None,
) -> tuple[str, ...]:
    """Why a row is bad, in column order. Values are quoted only through ``column_error``: a
    misaligned row puts a BSN or a birth date in any column."""
    _, _, sex_text, home_text, _, end_text, reason_text, new_text = (
        fields[i].strip() for i in positions
    )
    errors = []
    if bsn is None:
        errors.append("BSN is not a valid BSN (9 digits passing the elfproef)")
    if birth is None:
        errors.append("Geboortedatum is not a valid date (dd-mm-jjjj)")
    if sex_text.upper() not in SEXES:
        errors.append(column_error("Geslacht", sex_text, "is not M or V"))
    if municipalities(home_text) is None:
        errors.append(column_error("Gemeentecode", home_text, "is not a CBS code"))
    if start is None:
        errors.append("Aanvangsdatum uitkering is not a valid date (dd-mm-jjjj)")
    if end_text and end is None:
        errors.append("Einddatum uitkering is not a valid date (dd-mm-jjjj)")
    if end_text and not reason_text:
        errors.append("Einddatum uitkering is filled but Reden beëindiging is empty")
    if reason_text and not end_text:
        errors.append("Reden beëindiging is filled but Einddatum uitkering is empty")
    if could_identify(reason_text):
        errors.append("Reden beëindiging is not a reason code (it looks like a number or a date)")
    if new_text and municipalities(new_text) is None:
        errors.append(column_error("Nieuwe gemeentecode", new_text, "is not a CBS code"))
    if start is not None and end is not None and end < start:
        errors.append("benefit end date is before its start date")
    if birth is not None and start is not None and birth >= start:
        errors.append("birth date is not before the benefit start")
    return tuple(errors)


def _short_row(line: int, found: int) -> ExportRow:
    message = f"expected {len(COLUMNS)} fields separated by ';', found {found}"
    return ExportRow(line, None, None, None, None, None, None, None, None, (message,))
