"""The one set of messages of the declarative reader, by code.

Every declarative export is read by the same code, so it says the same things the same way:
each message has a code, an English text (for the API, the CLI and the logs) and a Dutch text
in the web's translation catalogue (``fiptrial.web.messages.ERRORS``, English in the .po file),
so the import report on the pages shows it in the reader's language. A test checks that every
code here has its sentence there.

The parameters never carry a value that could identify a person: a message names the column
(``column``), and quotes a value only through :func:`~fiptrial.plugins.parsing.quoted`, which
withholds runs of 8+ digits and dates.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fiptrial.plugins.rows import ExportFormatError, RowError

#: Problems with one record (the row is rejected, the rest of the file is read).
ROW_MESSAGES: Mapping[str, str] = {
    "row_invalid_bsn": "%(column)s is not a valid BSN (9 digits passing the elfproef)",
    "row_invalid_date": "%(column)s is not a valid date (%(format)s)",
    "row_invalid_sex": "%(column)s %(value)s is not one of the sex codes %(codes)s",
    "row_reason_identifying": "%(column)s is not a reason code (it looks like a number or a date)",
    "row_invalid_municipality": "%(column)s %(value)s is not a CBS municipality code",
    "row_invalid_statistic_code": "%(column)s is not a BUS statistiekcode (two digits, e.g. 01)",
    "row_value_missing": "%(column)s is empty",
    "row_end_without_reason": "%(column)s is filled but %(other)s is empty",
    "row_reason_without_end": "%(column)s is filled but %(other)s is empty",
    "row_end_before_start": "benefit end date is before its start date",
    "row_birth_not_before_start": "birth date is not before the benefit start",
    "row_too_few_fields": (
        "expected %(expected)s fields separated by %(delimiter)s, found %(found)s"
    ),
    "row_no_person": "the benefit record has no %(element)s element",
}

#: Problems with the whole file (nothing is imported).
FILE_MESSAGES: Mapping[str, str] = {
    "export_empty": "the export is empty: expected %(expected)s",
    "export_missing_columns": "the export header lacks the column(s) %(columns)s",
    "export_not_xml": "the export is not well-formed XML (line %(line)s): %(reason)s",
    "export_xml_dtd": "the export declares a DTD or entities, which an export never needs: "
    "refused for safety",
    "export_xml_no_records": "the export has no %(element)s elements: check the record element "
    "in export.toml",
}


def row_error(code: str, field: str | None = None, **params: Any) -> RowError:
    """A :class:`RowError` with the English text of ``code`` filled in with ``params``."""
    return RowError(ROW_MESSAGES[code] % params, code, field, params)


def format_error(code: str, **params: Any) -> ExportFormatError:
    """An :class:`ExportFormatError` with the English text of ``code``; the pages show the
    catalogue's sentence for the code with the same parameters."""
    return ExportFormatError(FILE_MESSAGES[code] % params, code=code, **params)
