"""``export.toml``: the layout of a municipality's export, read and checked.

A layout says, for each field of :class:`~fiptrial.plugins.rows.ExportRow`, where the export
has it (a header name in a CSV, an element path in an XML file) and how its values are written
(date format, sex codes); plus the file's format (``csv`` or ``xml``), the separators it may
use, and how a benefit unit and a partner are given. The whole format is documented in the
README of ``fiptrial.plugins.declarative`` and in every file ``fiptrial plugins new`` writes.

Nothing here reads an export: :mod:`fiptrial.plugins.declarative.reader` does, from a checked
:class:`ExportLayout`. A layout error is a :class:`SiteFileError` naming the file and the key.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from fiptrial.plugins.rows import ExportRow, Sex

#: The ExportRow fields a layout can fill, in ExportRow order (``line`` and ``errors`` are the
#: reader's own).
FIELDS = tuple(name for name in ExportRow._fields if name not in ("line", "errors"))
#: Fields every export must have (end date and reason may be empty while a benefit runs).
REQUIRED_FIELDS = (
    "bsn",
    "birth_date",
    "sex",
    "municipality",
    "benefit_start",
    "benefit_end",
    "local_reason",
)
DATE_FIELDS = ("birth_date", "benefit_start", "benefit_end")
#: Fields that belong to a person, not to the benefit; in a nested XML layout they are found
#: under the person element, the others under the benefit record (``level`` overrides this).
PERSON_FIELDS = (
    "bsn",
    "birth_date",
    "sex",
    "benefit_start",
    "benefit_end",
    "education",
    "country_of_birth_region",
    "client_number",
)
#: The fields a partner on the applicant's row may have ([partner] in a CSV layout).
PARTNER_FIELDS = ("bsn", "birth_date", "sex", "client_number")
DATE_FORMATS = {"dd-mm-jjjj": "dmy", "jjjjmmdd": "ymd", "jjjj-mm-dd": "iso"}
DELIMITERS = {";": ";", ",": ",", "tab": "\t", "\t": "\t", "|": "|"}
ENCODINGS = ("utf-8", "windows-1252")
UNIT_WAYS = ("none", "column", "partner_columns", "nested")


class SiteFileError(ValueError):
    """A site's data file is wrong; the message names the file and what to change."""


@dataclass(frozen=True)
class FieldSpec:
    """Where one ExportRow field is in the export and how it is written."""

    field: str
    name: str  # header name (CSV) or element path relative to its level (XML)
    optional: bool = False  # the column or element may be absent from the file
    date_format: str = ""  # for date fields: a key of DATE_FORMATS
    upper: bool = False  # local_reason: compare codes in upper case
    zero_pad: int = 0  # local_reason: "1" -> "01" when zero_pad is 2
    level: Literal["benefit", "person"] = "benefit"  # XML: under the record or the person


@dataclass(frozen=True)
class ExportLayout:
    """A checked ``export.toml``."""

    format: Literal["csv", "xml"]
    fields: Mapping[str, FieldSpec]
    sexes: Mapping[str, Sex]
    what: str = "export"
    delimiters: tuple[str, ...] = (";",)
    encodings: tuple[str, ...] = ENCODINGS
    required_columns: tuple[str, ...] = ()  # CSV: columns that must be there, never read
    unread: tuple[str, ...] = ()  # XML: benefit elements the delivery has and nobody reads
    record: str = ""  # XML: the element of one benefit
    person: str = ""  # XML: the element of one person inside the record ("" = flat)
    unit: str = "none"
    partner: Mapping[str, FieldSpec] = field(default_factory=dict)
    source: str = "export.toml"

    def label(self, name: str) -> str:
        """What the export calls a field (for messages and the column report)."""
        spec = self.fields.get(name)
        if spec is None:
            return name
        if self.format == "xml" and self.person and spec.level == "person":
            return f"{self.person}/{spec.name}"
        return spec.name

    @property
    def sex_codes(self) -> str:
        return ", ".join(sorted(self.sexes))

    @classmethod
    def from_toml(cls, text: str, source: str = "export.toml") -> ExportLayout:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise SiteFileError(f"{source}: not valid TOML: {error}") from None
        return cls.from_mapping(data, source)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], source: str = "export.toml") -> ExportLayout:
        """Check a parsed ``export.toml``; every problem names the key to change."""

        def fail(message: str) -> SiteFileError:
            return SiteFileError(f"{source}: {message}")

        kind = data.get("format")
        if kind not in ("csv", "xml"):
            raise fail('format must be "csv" or "xml"')
        dates = data.get("dates", {})
        default_format = dates.get("format", "jjjjmmdd") if isinstance(dates, Mapping) else ""
        if default_format not in DATE_FORMATS:
            raise fail(f"dates.format must be one of {', '.join(DATE_FORMATS)}")
        raw_fields = data.get("fields")
        if not isinstance(raw_fields, Mapping):
            raise fail("a [fields] table is required: where each field is in the export")
        xml = data.get("xml", {})
        person = str(xml.get("person", "")) if kind == "xml" else ""
        fields = {
            name: _field_spec(name, value, default_format, person, fail)
            for name, value in raw_fields.items()
        }
        missing = [name for name in REQUIRED_FIELDS if name not in fields]
        if missing:
            raise fail(f"[fields] lacks {', '.join(missing)}")
        for name in REQUIRED_FIELDS:
            if fields[name].optional:
                raise fail(f"fields.{name} cannot be optional: every export needs it")
        sexes = _sexes(data.get("sex"), fail)
        csv_options = data.get("csv", {})
        delimiters = tuple(csv_options.get("delimiters", [";"]))
        unknown = [d for d in delimiters if d not in DELIMITERS]
        if kind == "csv" and (not delimiters or unknown):
            raise fail(f"csv.delimiters must be taken from {', '.join(map(repr, DELIMITERS))}")
        encodings = tuple(e.lower() for e in csv_options.get("encodings", ENCODINGS))
        if not encodings or any(e not in ENCODINGS for e in encodings):
            raise fail(f"csv.encodings must be taken from {', '.join(ENCODINGS)}")
        record = str(xml.get("record", ""))
        if kind == "xml" and not record:
            raise fail("xml.record is required: the element of one benefit")
        unit_options = data.get("unit", {})
        unit = unit_options.get("given_by", _default_unit(kind, person, fields))
        if unit not in UNIT_WAYS:
            raise fail(f"unit.given_by must be one of {', '.join(UNIT_WAYS)}")
        partner = {
            name: _field_spec(name, value, default_format, "", fail)
            for name, value in data.get("partner", {}).items()
        }
        if unit == "partner_columns":
            if kind != "csv" or not {"bsn", "birth_date", "sex"} <= set(partner):
                raise fail(
                    'unit.given_by = "partner_columns" needs a CSV layout with a [partner] '
                    "table giving bsn, birth_date and sex"
                )
            wrong = sorted(set(partner) - set(PARTNER_FIELDS))
            if wrong:
                raise fail(f"[partner] can only give {', '.join(PARTNER_FIELDS)}")
        elif partner:
            raise fail('[partner] is only read with unit.given_by = "partner_columns"')
        if unit == "column" and "unit_key" not in fields:
            raise fail('unit.given_by = "column" needs fields.unit_key')
        if unit == "nested" and not person:
            raise fail('unit.given_by = "nested" needs xml.person: the element of one person')
        return cls(
            format=kind,
            fields=fields,
            sexes=sexes,
            what=str(data.get("what", "export")),
            delimiters=tuple(DELIMITERS[d] for d in delimiters),
            encodings=encodings,
            required_columns=tuple(csv_options.get("required_columns", ())),
            unread=tuple(xml.get("unread", ())),
            record=record,
            person=person,
            unit=unit,
            partner=partner,
            source=source,
        )


def _default_unit(kind: str, person: str, fields: Mapping[str, FieldSpec]) -> str:
    if kind == "xml" and person:
        return "nested"
    return "column" if "unit_key" in fields else "none"


def _field_spec(name: str, value: Any, default_format: str, person: str, fail: Any) -> FieldSpec:
    if name not in FIELDS:
        raise fail(f"fields.{name} is not a field the platform knows ({', '.join(FIELDS)})")
    if isinstance(value, str):
        value = {"name": value}
    if not isinstance(value, Mapping):
        raise fail(f"fields.{name} must be a name or a table with name = ...")
    given = value.get("name") or value.get("column") or value.get("path")
    if not isinstance(given, str) or not given.strip():
        raise fail(f"fields.{name} needs a name (the header name or the element path)")
    date_format = value.get("format", default_format) if name in DATE_FIELDS else ""
    if name in DATE_FIELDS and date_format not in DATE_FORMATS:
        raise fail(f"fields.{name}.format must be one of {', '.join(DATE_FORMATS)}")
    level = value.get("level", "person" if person and name in PERSON_FIELDS else "benefit")
    if level not in ("benefit", "person"):
        raise fail(f'fields.{name}.level must be "benefit" or "person"')
    return FieldSpec(
        field=name,
        name=given.strip(),
        optional=bool(value.get("optional", False)),
        date_format=date_format,
        upper=bool(value.get("upper", False)),
        zero_pad=int(value.get("zero_pad", 0)),
        level=level,
    )


def _sexes(value: Any, fail: Any) -> dict[str, Sex]:
    if not isinstance(value, Mapping) or not value.get("male") or not value.get("female"):
        raise fail("a [sex] table with male = [...] and female = [...] codes is required")
    codes: dict[str, Sex] = {}
    for sex in ("male", "female"):
        for code in value[sex]:
            key = str(code).strip().upper()
            if key in codes:
                raise fail(f"sex code {code!r} is given for both sexes")
            codes[key] = sex  # type: ignore[assignment]  # the loop is over the two Sex values
    return codes
