"""Write rows in a layout: the samples of ``fiptrial plugins new``, test files, benchmarks.

The inverse of the reader for well-formed rows: the same :class:`ExportRow` values written as
a CSV or a nested XML file that the layout describes, so that a test can write *one* synthetic
population as a BUS XML delivery and as a CSV and compare what the imports make of each. Only
synthetic data should ever pass through here.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import date
from typing import BinaryIO
from xml.sax.saxutils import escape

from fiptrial.plugins.declarative.layout import FIELDS, ExportLayout
from fiptrial.plugins.rows import ExportRow

_DATE_WRITERS = {
    "dd-mm-jjjj": lambda d: d.strftime("%d-%m-%Y"),
    "jjjjmmdd": lambda d: d.strftime("%Y%m%d"),
    "jjjj-mm-dd": lambda d: d.isoformat(),
}


def _texts(layout: ExportLayout, row: ExportRow) -> dict[str, str]:
    """The row's fields as the layout writes them, by field name (only the layout's fields)."""
    sex_code = {sex: code for code, sex in reversed(list(layout.sexes.items()))}
    texts: dict[str, str] = {}
    for name, spec in layout.fields.items():
        value = getattr(row, name)
        if value is None:
            text = ""
        elif isinstance(value, date):
            text = _DATE_WRITERS[spec.date_format](value)
        elif name == "sex":
            text = sex_code[value]
        elif name in ("municipality", "new_municipality"):
            text = str(value).removeprefix("GM")
        else:
            text = str(value)
        texts[name] = text
    return texts


def write_export(
    layout: ExportLayout, rows: Iterable[ExportRow], out: BinaryIO, *, indent: bool = True
) -> int:
    """Write ``rows`` to ``out`` in ``layout``; returns the number of persons written.

    A nested XML layout groups consecutive rows of one benefit (the same ``unit_key`` and
    benefit fields) into one benefit record. ``indent=False`` writes XML without the
    whitespace between elements, as a delivery made by a program usually is.
    """
    if layout.format == "csv":
        return _write_csv(layout, rows, out)
    return _write_xml(layout, rows, out, indent)


def _write_csv(layout: ExportLayout, rows: Iterable[ExportRow], out: BinaryIO) -> int:
    names = [name for name in FIELDS if name in layout.fields]
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
    writer = csv.writer(text, delimiter=layout.delimiters[0], lineterminator="\n")
    writer.writerow([*layout.required_columns, *(layout.fields[name].name for name in names)])
    unread = [""] * len(layout.required_columns)
    count = 0
    for row in rows:
        texts = _texts(layout, row)
        writer.writerow([*unread, *(texts[name] for name in names)])
        count += 1
    text.detach()
    return count


def _groups(layout: ExportLayout, rows: Iterable[ExportRow]) -> Iterator[list[ExportRow]]:
    """Consecutive rows of one benefit: the same unit key and the same benefit fields (a row
    whose benefit fields differ cannot share the record, or they would be lost)."""
    benefit = [n for n in layout.fields if layout.fields[n].level == "benefit"]
    group: list[ExportRow] = []
    key: tuple[object, ...] = ()
    for row in rows:
        own = tuple(getattr(row, n) for n in benefit)
        if group and (row.unit_key is None or own != key):
            yield group
            group = []
        if not group:
            key = own
        group.append(row)
    if group:
        yield group


def _element(path: str, text: str, indent: str) -> str:
    parts = path.split("/")
    opening = "".join(f"<{p}>" for p in parts)
    closing = "".join(f"</{p}>" for p in reversed(parts))
    return f"{indent}{opening}{escape(text)}{closing}\n"


def _write_xml(layout: ExportLayout, rows: Iterable[ExportRow], out: BinaryIO, indent: bool) -> int:
    benefit = [n for n in FIELDS if n in layout.fields and (
        not layout.person or layout.fields[n].level == "benefit")]  # fmt: skip
    person = [n for n in FIELDS if n in layout.fields and n not in benefit]
    out.write(b'<?xml version="1.0" encoding="UTF-8"?>\n<Levering>\n')
    count = 0
    groups = _groups(layout, rows) if layout.person else ([row] for row in rows)
    for group in groups:
        parts = [f"  <{layout.record}>\n"]
        first = _texts(layout, group[0])
        parts += [_element(layout.fields[n].name, first[n], "    ") for n in benefit]
        parts += [_element(name, "", "    ") for name in layout.unread]
        for row in group if layout.person else ():
            texts = _texts(layout, row)
            parts.append(f"    <{layout.person}>\n")
            parts += [_element(layout.fields[n].name, texts[n], "      ") for n in person]
            parts.append(f"    </{layout.person}>\n")
        parts.append(f"  </{layout.record}>\n")
        text = "".join(parts)
        if not indent:
            text = "".join(line.strip() for line in text.splitlines()) + "\n"
        out.write(text.encode("utf-8"))
        count += len(group)
    out.write(b"</Levering>\n")
    return count
