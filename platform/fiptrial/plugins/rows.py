"""What a site plugin's reader hands the importer: one normalised row per export line.

Every municipality exports differently; the importer should see one shape only. A reader turns
each record of the municipality's file into an :class:`ExportRow`. A record that cannot be
understood is still an ``ExportRow``, with ``errors`` filled in, so the importer can list it by
line number and go on with the rest of the file. Only a problem with the *whole* file (wrong
header, encoding or separator) stops reading, with :class:`ExportFormatError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any, Literal, NamedTuple

from fiptrial.errors import Unprocessable

Sex = Literal["male", "female"]


class ExportFormatError(Unprocessable):
    """The file as a whole cannot be read: the importer answers 422 and changes nothing.

    It subclasses :class:`fiptrial.errors.Unprocessable` so API, web and CLI show it the way they
    show every other 422. A reader may raise it when it is called (a wrong header) or while the
    rows are being iterated (an undecodable byte halfway through the file); the importer must
    therefore roll back whatever it did with earlier rows of the same file.
    """

    code = "export_format"


class RowError(str):
    """One reason why an export row cannot be used: the English text, plus what the pages need
    to say it in the reader's language.

    A ``str`` (the importer joins and stores the texts as before) that also carries ``code``
    (a key of the web's message catalogue), ``field`` (the ExportRow field it is about, when
    there is one: the column reports count it as invalid) and ``params`` (the values the
    message needs, never one that could identify a person: values go through
    :func:`fiptrial.plugins.parsing.quoted`).
    """

    code: str
    field: str | None
    params: Mapping[str, Any]

    def __new__(
        cls, text: str, code: str, field: str | None = None, params: Mapping[str, Any] | None = None
    ) -> RowError:
        error = super().__new__(cls, text)
        error.code, error.field, error.params = code, field, dict(params or {})
        return error

    def __reduce__(self) -> tuple[Any, ...]:
        return (RowError, (str(self), self.code, self.field, dict(self.params)))


class ExportRow(NamedTuple):
    """One record of a municipality's export, normalised and immutable.

    A ``NamedTuple`` rather than a frozen dataclass, on purpose: readers build one per line of
    files with a million lines, and a frozen dataclass costs about four times as much to
    construct (1.6 against 0.4 microseconds here, a fifth of the whole reader's time).
    Use the fields by name; the tuple behaviour is an implementation detail.

    ``errors`` is empty for a usable row. When it is not, the importer must reject the row and
    report ``line`` with the errors; the fields that could not be parsed are ``None`` and the
    others keep their parsed values (so the importer can still tell, for instance, whether the
    BSN belongs to a participant). Error texts never contain the BSN or the birth date, because
    the importer stores them in its report even for people who are not in the trial.

    Attributes:
        line: line number in the file where the record starts (the header is line 1).
        bsn: 9 digits, left-padded when a spreadsheet dropped the leading zero, and passing the
            elfproef; ``None`` when invalid.
        birth_date: date of birth.
        sex: ``"male"`` or ``"female"``.
        municipality: CBS code of the municipality paying the benefit, ``"GM0748"`` form.
        benefit_start: first day of the benefit.
        benefit_end: last day of the benefit, ``None`` while it runs.
        local_reason: the municipality's own reason code for the end, ``None`` while it runs.
        new_municipality: ``"GM0851"``-form code of the municipality the client moved to, or
            ``None``; filled on moves only.
        errors: why the row must be rejected; empty for a good row. A tuple rather than a list
            so that the row stays immutable. Name the column; quote a value only through
            ``fiptrial.plugins.parsing.quoted`` (never a BSN, a date or a run of 8+ digits).
        unit_key: the benefit's registration number (BUS kenmerk 7) as the export gives it, or
            ``None``. Partners on one benefit share it, which makes them one benefit unit; the
            platform pseudonymises it like the BSN and never stores it in clear.
        statistic_code: the benefit's BUS statistiekcode (kenmerk 8: ``"01"`` algemene
            bijstand, ``"02"`` IOAW, ``"03"`` IOAZ, ``"11"``/``"12"`` bijzondere bijstand,
            ``"14"`` Bbz), or ``None`` when the export does not say.
        education: the client's education level as a shared code, when the export has it.
        country_of_birth_region: the client's region of birth as a shared code, when known.
        client_number: the site's own registration number of the client, when the export has
            one. It stays at the site (shown to site staff next to the study number), never in
            pooled exports.
    """

    line: int
    bsn: str | None
    birth_date: date | None
    sex: Sex | None
    municipality: str | None
    benefit_start: date | None
    benefit_end: date | None
    local_reason: str | None
    new_municipality: str | None
    errors: tuple[str, ...] = ()
    unit_key: str | None = None
    statistic_code: str | None = None
    education: str | None = None
    country_of_birth_region: str | None = None
    client_number: str | None = None

    @property
    def is_valid(self) -> bool:
        """True when the importer may use the row."""
        return not self.errors

    @property
    def is_running(self) -> bool:
        """True while the benefit runs (no end date in the export)."""
        return self.benefit_end is None


#: What a reader gives, when the importer passes ``wanted`` (see the ``read_export`` hook), for
#: a record whose valid BSN the importer does not want -- a client outside the trial: the
#: record is read no further than its BSN, so nothing else of it is parsed or kept.
SKIPPED = ExportRow(0, None, None, None, None, None, None, None, None, ())
