"""Brabantse Wal exports written line by line, so each test states exactly what the file says."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

HEADER = (
    "Registratienummer;BSN;Geboortedatum;Geslacht;Gemeentecode;Aanvangsdatum uitkering;"
    "Einddatum uitkering;Reden beëindiging;Omschrijving reden;Nieuwe gemeentecode"
)


@dataclass(frozen=True)
class Line:
    """One export line; ``None`` for an empty field."""

    bsn: str
    birth: str = "17-05-1980"
    sex: str = "V"
    municipality: str = "0748"
    start: str = "01-01-2020"
    end: str | None = None
    reason: str | None = None
    new: str | None = None
    unit: str | None = None  # Uitkeringsnummer: partners on one benefit share it
    code: str | None = None  # Statistiekcode: 01 algemene bijstand, 12 bijzondere bijstand, ...

    def text(self, number: int, optional_columns: bool = False) -> str:
        fields = [
            str(100000 + number),
            self.bsn,
            self.birth,
            self.sex,
            self.municipality,
            self.start,
            self.end or "",
            self.reason or "",
            "",
            self.new or "",
        ]
        if optional_columns:
            fields += [self.unit or "", self.code or ""]
        return ";".join(fields)


def export_bytes(lines: list[Line], encoding: str = "cp1252") -> bytes:
    """The lines as the ISD writes them (line 1 is the header, so ``lines[i]`` is line i+2).

    The optional columns Uitkeringsnummer and Statistiekcode are written when a line uses them.
    """
    optional = any(line.unit or line.code for line in lines)
    header = HEADER + (";Uitkeringsnummer;Statistiekcode" if optional else "")
    rows = (line.text(n, optional) for n, line in enumerate(lines))
    text = "\r\n".join([header, *rows]) + "\r\n"
    return text.encode(encoding)


def dmy(day: date) -> str:
    return day.strftime("%d-%m-%Y")
