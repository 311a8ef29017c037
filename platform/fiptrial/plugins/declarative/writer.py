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


def write_export(layout: ExportLayout, rows: Iterable[ExportRow], out: BinaryIO) -> int:
    """Write ``rows`` to ``out`` in ``layout``; returns the number of persons written.

    A nested XML layout groups consecutive rows with the same ``unit_key`` into one benefit
    record (their benefit fields are taken from the first of them).
    """
    if layout.format == "csv":
        return _write_csv(layout, rows, out)
    return _write_xml(layout, rows, out)


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


def _groups(rows: Iterable[ExportRow]) -> Iterator[list[ExportRow]]:
    group: list[ExportRow] = []
    for row in rows:
        if group and (row.unit_key is None or row.unit_key != group[0].unit_key):
            yield group
            group = []
        group.append(row)
    if group:
        yield group


def _element(path: str, text: str, indent: str) -> str:
    parts = path.split("/")
    opening = "".join(f"<{p}>" for p in parts)
    closing = "".join(f"</{p}>" for p in reversed(parts))
    return f"{indent}{opening}{escape(text)}{closing}\n"


def _write_xml(layout: ExportLayout, rows: Iterable[ExportRow], out: BinaryIO) -> int:
    benefit = [n for n in FIELDS if n in layout.fields and (
        not layout.person or layout.fields[n].level == "benefit")]  # fmt: skip
    person = [n for n in FIELDS if n in layout.fields and n not in benefit]
    out.write(b'<?xml version="1.0" encoding="UTF-8"?>\n<Levering>\n')
    count = 0
    groups = _groups(rows) if layout.person else ([row] for row in rows)
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
        out.write("".join(parts).encode("utf-8"))
        count += len(group)
    out.write(b"</Levering>\n")
    return count
