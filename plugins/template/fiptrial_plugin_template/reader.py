"""Reader for a generic BUS-coded CSV export.

One line per benefit, with the fields every municipality reports to CBS monthly::

    bsn;geboortedatum;geslacht;gemeentecode;aanvang_uitkering;einde_uitkering;reden_beeindiging;nieuwe_gemeentecode

- separator ``;`` (or ``,``), UTF-8 (with or without BOM) or Windows-1252;
- ``bsn``: 9 digits (8 if a spreadsheet dropped the leading zero);
- ``geslacht``: 1 (man) or 2 (vrouw) as in BUS, or M / V;
- ``gemeentecode``: CBS code, "0748" or "GM0748";
- dates as jjjjmmdd; ``einde_uitkering`` and ``reden_beeindiging`` empty while the benefit runs;
- ``reden_beeindiging``: the BUS code itself ("11"; "1" is read as "01");
- ``nieuwe_gemeentecode`` (optional column): where the client moved to, on a move;
- ``uitkeringsnummer`` (optional): the benefit's registration number (BUS kenmerk 7); partners
  on one benefit share it and are randomised as one unit (the platform pseudonymises it);
- ``statistiekcode`` (optional): the benefit's BUS statistiekcode (kenmerk 8; "01" algemene
  bijstand). Rows of other benefits than the trial's (special assistance, Bbz) are skipped.

If your export differs, change COLUMNS and the field handling below; keep using the helpers of
fiptrial.plugins.parsing so that BSNs and dates are validated as at every other site.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from fiptrial.plugins import ExportRow
from fiptrial.plugins.parsing import (
    STATISTIC_CODE_ERROR,
    CsvExport,
    DateParser,
    benefit_date_errors,
    column_error,
    could_identify,
    normalise_bsn,
    normalise_municipality,
    normalise_statistic_code,
    open_csv_export,
)
from fiptrial.plugins.rows import Sex

COLUMNS = (
    "bsn",
    "geboortedatum",
    "geslacht",
    "gemeentecode",
    "aanvang_uitkering",
    "einde_uitkering",
    "reden_beeindiging",
)
OPTIONAL_COLUMNS = ("nieuwe_gemeentecode", "uitkeringsnummer", "statistiekcode")
SEXES: dict[str, Sex] = {"1": "male", "2": "female", "M": "male", "V": "female"}


def read_export(source: BinaryIO) -> Iterator[ExportRow]:
    """Check the header now, then stream the rows.

    Raises:
        ExportFormatError: wrong header, separator or encoding.
    """
    export = open_csv_export(
        source,
        columns=COLUMNS,
        optional_columns=OPTIONAL_COLUMNS,
        delimiters=(";", ","),
        what="BUS export",
    )
    return _rows(export)


def normalise_reason(text: str) -> str | None:
    """The BUS code as text; "1" becomes "01" because spreadsheets drop leading zeros."""
    code = text.strip()
    if not code:
        return None
    return code.zfill(2) if code.isdigit() and len(code) == 1 else code


def _rows(export: CsvExport) -> Iterator[ExportRow]:
    col = export.columns
    i_new = col.get("nieuwe_gemeentecode")
    i_unit = col.get("uitkeringsnummer")
    i_code = col.get("statistiekcode")
    width = max(col.values()) + 1
    parse_date = DateParser.ymd()
    for line, fields in export.records:
        if len(fields) < width:
            yield ExportRow(
                line, None, None, None, None, None, None, None, None,
                (f"expected {width} fields, found {len(fields)}",),
            )  # fmt: skip
            continue
        errors: list[str] = []
        bsn = normalise_bsn(fields[col["bsn"]])
        if bsn is None:
            errors.append("bsn is not a valid BSN (9 digits passing the elfproef)")
        birth = parse_date(fields[col["geboortedatum"]])
        if birth is None:
            errors.append("geboortedatum is not a valid date (jjjjmmdd)")
        sex_text = fields[col["geslacht"]].strip().upper()
        sex = SEXES.get(sex_text)
        if sex is None:
            errors.append(column_error("geslacht", sex_text, "is not 1, 2, M or V"))
        municipality_text = fields[col["gemeentecode"]].strip()
        municipality = normalise_municipality(municipality_text)
        if municipality is None:
            errors.append(column_error("gemeentecode", municipality_text, "is not a CBS code"))
        start = parse_date(fields[col["aanvang_uitkering"]])
        if start is None:
            errors.append("aanvang_uitkering is not a valid date (jjjjmmdd)")
        end_text = fields[col["einde_uitkering"]].strip()
        end = parse_date(end_text) if end_text else None
        if end_text and end is None:
            errors.append("einde_uitkering is not a valid date (jjjjmmdd)")
        reason = normalise_reason(fields[col["reden_beeindiging"]])
        if end_text and reason is None:
            errors.append("einde_uitkering is filled but reden_beeindiging is empty")
        elif reason is not None and not end_text:
            errors.append("reden_beeindiging is filled but einde_uitkering is empty")
        if reason is not None and could_identify(reason):
            errors.append("reden_beeindiging is not a reason code (a long number or a date)")
        new_text = fields[i_new].strip() if i_new is not None else ""
        new = normalise_municipality(new_text) if new_text else None
        if new_text and new is None:
            errors.append(column_error("nieuwe_gemeentecode", new_text, "is not a CBS code"))
        unit = (fields[i_unit].strip() or None) if i_unit is not None else None
        code_text = fields[i_code].strip() if i_code is not None else ""
        code = normalise_statistic_code(code_text) if code_text else None
        if code_text and code is None:
            errors.append(f"statistiekcode {STATISTIC_CODE_ERROR}")
        errors += benefit_date_errors(start, end, birth)
        yield ExportRow(
            line, bsn, birth, sex, municipality, start, end, reason, new, tuple(errors), unit, code
        )
