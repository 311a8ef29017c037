"""Helpers shared by the web and browser tests (a uniquely named module, not a conftest)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

PASSWORD = "kalm-en-veilig-2027"
CSRF = re.compile(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"')
BW_HEADER = (
    "Registratienummer;BSN;Geboortedatum;Geslacht;Gemeentecode;Aanvangsdatum uitkering;"
    "Einddatum uitkering;Reden beëindiging;Omschrijving reden;Nieuwe gemeentecode"
)


def csrf_token(html: str) -> str:
    match = CSRF.search(html)
    assert match, "page has no CSRF token"
    return match.group(1)


def valid_bsns(start: int = 100_000_000) -> Iterable[str]:
    """Valid BSNs (elfproef) from ``start`` upwards; synthetic, never real people."""
    from stdnum.nl import bsn

    number = start
    while True:
        number += 1
        candidate = str(number).zfill(9)
        if bsn.is_valid(candidate):
            yield candidate


@dataclass
class ExportRow:
    bsn: str
    birth: date = date(1980, 5, 17)
    sex: str = "V"
    municipality: str = "0748"
    start: date = date(2020, 1, 1)
    end: date | None = None
    reason: str = ""
    new_municipality: str = ""


def bw_export(rows: Iterable[ExportRow]) -> bytes:
    """A Brabantse Wal client export (';', Windows-1252, dd-mm-jjjj) with the given rows."""
    lines = [BW_HEADER]
    for number, row in enumerate(rows, start=1):
        lines.append(
            ";".join(
                [
                    str(number),
                    row.bsn,
                    f"{row.birth:%d-%m-%Y}",
                    row.sex,
                    row.municipality,
                    f"{row.start:%d-%m-%Y}",
                    f"{row.end:%d-%m-%Y}" if row.end else "",
                    row.reason,
                    "",
                    row.new_municipality,
                ]
            )
        )
    return ("\r\n".join(lines) + "\r\n").encode("cp1252")
