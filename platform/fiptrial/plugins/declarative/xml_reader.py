"""The XML half of the declarative reader: a delivery of benefit records, each with its persons
(the BUS nesting), streamed with lxml and refused whole when it declares a DTD or entities.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

from lxml import etree

from fiptrial.plugins.declarative.layout import FIELDS, ExportLayout
from fiptrial.plugins.declarative.record import I_BSN, row_builder
from fiptrial.plugins.messages import format_error, row_error
from fiptrial.plugins.parsing import (
    normalise_bsn,
)
from fiptrial.plugins.rows import SKIPPED, ExportRow

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


def xml_rows(
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

    def fill(texts: list[str], element: Any, tags: dict[str, int], person_level: bool) -> list[Any]:
        """Each child's text into ``texts`` at its field, then the nested paths of this level
        (benefit record or person); returns the person elements among the children."""
        by_name = person_index if person_level else benefit_index
        persons = []
        for child in element:
            tag = child.tag
            found = tags.get(tag)
            index = resolve(tags, by_name, tag) if found is None else found
            if index >= 0:
                texts[index] = child.text or ""
            elif index == _PERSON:
                persons.append(child)
        for index, path, is_person in nested:
            if is_person is person_level:
                texts[index] = element.findtext(path) or ""
        return persons

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
            persons = fill(texts, record, benefit_tags, False)
            if not person_tag:
                yield build(record.sourceline or 0, texts)
            elif not persons:
                error = row_error("row_no_person", None, element=person_tag)
                yield ExportRow(record.sourceline or 0, None, None, None, None, None, None, None,
                                None, (error,))  # fmt: skip
            for person in persons:
                own = texts.copy()
                fill(own, person, person_tags, True)
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
