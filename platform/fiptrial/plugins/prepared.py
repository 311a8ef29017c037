"""Exports pseudonymised at the source: the file a municipality prepares on its own machine.

``fiptrial-prepare-export`` (:mod:`fiptrial.plugins.prepare`) reads the municipality's export
through its site plugin, exactly as the platform would, and writes a *prepared* file: the same
rows, with every BSN (and benefit registration number) replaced by a **site token**, and no
BSN anywhere in it. The platform recognises the file by its first line and reads it with
:func:`read_prepared` instead of the plugin, so the import that follows is the import of the
original file.

Whose key? Each site has its own key (a :class:`SiteKey`, 256 bits, versioned), derived by the
platform from its own key and handed to that municipality only. A site token is the BSN under
AES-SIV with the site's key (deterministic authenticated encryption, RFC 5297; the site, trial,
key version and field are its associated data, so a token cannot be moved to another site,
field or key). So:

* a leak at one municipality (its key file, its prepared files) exposes that municipality's
  own clients only -- it holds no key that works for any other site, and no key that computes
  the trial's pseudonyms;
* duplicates across sites are still found: the platform, which holds every site's key and the
  trial key, turns each token back into the BSN in memory, computes the trial pseudonym as for
  any import and forgets the BSN; the same person at two sites gets the same trial pseudonym;
* a prepared file on its way, in the upload spool or in a backup is useless without the key.

This is the platform acting as the trusted party of NEN 7524's pseudonymisation; an
organisation that wants the two roles apart runs the mapping (:func:`read_prepared` plus the
trial pseudonym) at a separate trusted third party. Key hand-over and rotation are in
``docs/privacy/pseudonymisation-at-the-source.md``.

Like the rest of the plugin host, nothing here imports Flask or the database.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import IO, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESSIV

from fiptrial.plugins.rows import ExportFormatError, ExportRow, RowError

MAGIC = "#fiptrial-prepared-export"
FORMAT_VERSION = 1
KEY_FILE_KIND = "fiptrial-site-key"
COLUMNS = (
    "line",
    "bsn_token",
    "birth_date",
    "sex",
    "municipality",
    "benefit_start",
    "benefit_end",
    "local_reason",
    "new_municipality",
    "unit_token",
    "statistic_code",
    "education",
    "country_of_birth_region",
    "client_number",
    "errors",
)


@dataclass(frozen=True)
class SiteKey:
    """One site's key: what the municipality holds (its key file), never another site's."""

    trial: str
    site: str
    plugin: str
    version: int
    key: bytes  # 64 bytes: AES-SIV with AES-256

    def fingerprint(self) -> str:
        """SHA-256 of the key, first 16 hex digits: to compare over the phone at hand-over."""
        return hashlib.sha256(self.key).hexdigest()[:16]

    def to_json(self) -> str:
        return json.dumps(
            {
                "kind": KEY_FILE_KIND,
                "trial": self.trial,
                "site": self.site,
                "plugin": self.plugin,
                "version": self.version,
                "key": base64.b64encode(self.key).decode(),
                "fingerprint": self.fingerprint(),
            },
            indent=1,
        )

    def write(self, path: Path) -> None:
        """Write the key file readable by its owner only (mode 0600)."""
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(self.to_json() + "\n")

    @classmethod
    def read(cls, path: Path) -> SiteKey:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            key = base64.b64decode(data["key"], validate=True)
            if data.get("kind") != KEY_FILE_KIND or len(key) != 64:
                raise ValueError("not a site key file")
            return cls(data["trial"], data["site"], data["plugin"], int(data["version"]), key)
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise ExportFormatError(
                "the key file is not a site key file written by `fiptrial site-key issue`",
                code="site_key_file_invalid",
            ) from error


def _associated(key: SiteKey, field: str) -> list[bytes]:
    return [f"{key.trial}/{key.site}/v{key.version}/{field}".encode()]


def token(key: SiteKey, field: str, value: str | None) -> str:
    """The site token of ``value`` (empty for no value): deterministic, so one person has one
    token per site and key version."""
    if not value:
        return ""
    sealed = AESSIV(key.key).encrypt(value.encode(), _associated(key, field))
    return base64.urlsafe_b64encode(sealed).decode().rstrip("=")


def untoken(key: SiteKey, field: str, text: str, line: int) -> str | None:
    if not text:
        return None
    try:
        padded = text + "=" * (-len(text) % 4)
        return (
            AESSIV(key.key)
            .decrypt(base64.urlsafe_b64decode(padded), _associated(key, field))
            .decode()
        )
    except (InvalidTag, ValueError) as error:
        raise ExportFormatError(
            f"line {line}: the {field} token was not made with this site's key "
            f"(version {key.version}) or was changed",
            code="prepared_token_invalid",
            line=line,
        ) from error


def _day(value: date | None) -> str:
    return value.isoformat() if value else ""


def _errors_json(errors: Iterable[str]) -> str:
    out = []
    for error in errors:
        if isinstance(error, RowError):
            out.append({"text": str(error), "code": error.code, "field": error.field,
                        "params": dict(error.params)})  # fmt: skip
        else:
            out.append({"text": str(error)})
    return json.dumps(out, ensure_ascii=False, sort_keys=True, default=str) if out else ""


@dataclass
class PreparedSummary:
    rows: int = 0
    valid: int = 0
    with_errors: int = 0
    without_bsn: int = 0


def write_prepared(rows: Iterable[ExportRow], key: SiteKey, out: IO[str]) -> PreparedSummary:
    """Write the prepared file of ``rows``; returns counts only (never a value)."""
    summary = PreparedSummary()
    out.write(
        f"{MAGIC};v{FORMAT_VERSION};trial={key.trial};site={key.site};key_version={key.version}\n"
    )
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        summary.rows += 1
        summary.valid += not row.errors
        summary.with_errors += bool(row.errors)
        summary.without_bsn += row.bsn is None
        writer.writerow(
            [
                row.line,
                token(key, "bsn", row.bsn),
                _day(row.birth_date),
                row.sex or "",
                row.municipality or "",
                _day(row.benefit_start),
                _day(row.benefit_end),
                row.local_reason or "",
                row.new_municipality or "",
                token(key, "unit", row.unit_key),
                row.statistic_code or "",
                row.education or "",
                row.country_of_birth_region or "",
                row.client_number or "",
                _errors_json(row.errors),
            ]
        )
    return summary


@dataclass(frozen=True)
class PreparedHeader:
    trial: str
    site: str
    key_version: int


def is_prepared(path: str | os.PathLike[str]) -> bool:
    with open(path, "rb") as handle:
        return handle.read(len(MAGIC)) == MAGIC.encode()


def read_header(first_line: str) -> PreparedHeader:
    parts = first_line.strip().split(";")
    fields = dict(part.split("=", 1) for part in parts[2:] if "=" in part)
    if parts[0] != MAGIC or parts[1:2] != [f"v{FORMAT_VERSION}"] or not {
        "trial", "site", "key_version"} <= set(fields):  # fmt: skip
        raise ExportFormatError(
            "the prepared file's first line is not a fiptrial-prepared-export header",
            code="prepared_header_invalid",
        )
    try:
        version = int(fields["key_version"])
    except ValueError:
        raise ExportFormatError(
            "the prepared file's key version is not a number", code="prepared_header_invalid"
        ) from None
    return PreparedHeader(fields["trial"], fields["site"], version)


def _parse_day(text: str) -> date | None:
    return date.fromisoformat(text) if text else None


def _parse_errors(text: str) -> tuple[str, ...]:
    if not text:
        return ()
    errors: list[str] = []
    for item in json.loads(text):
        if "code" in item:
            errors.append(
                RowError(item["text"], item["code"], item.get("field"), item.get("params"))
            )
        else:
            errors.append(item["text"])
    return tuple(errors)


def read_prepared(
    source: str | os.PathLike[str] | IO[bytes], key_for: Callable[[PreparedHeader], SiteKey]
) -> Iterator[ExportRow]:
    """The rows of a prepared file, with the BSNs back (in memory only): what the site's reader
    gave the municipality. ``key_for`` chooses the site's key for the file's header (and
    refuses a wrong site or a retired key version)."""
    if hasattr(source, "read"):
        text = io.TextIOWrapper(source, encoding="utf-8", newline="")  # type: ignore[type-var,arg-type]
        try:
            yield from _prepared_rows(text, key_for)
        finally:
            text.detach()  # the caller closes its own handle
        return
    with open(source, encoding="utf-8", newline="") as handle:  # type: ignore[arg-type]
        yield from _prepared_rows(handle, key_for)


def _prepared_rows(
    handle: IO[str], key_for: Callable[[PreparedHeader], SiteKey]
) -> Iterator[ExportRow]:
    header = read_header(handle.readline())
    key = key_for(header)
    reader = csv.reader(handle)
    if tuple(next(reader, ())) != COLUMNS:
        raise ExportFormatError(
            "the prepared file's columns are not those of this platform version",
            code="prepared_header_invalid",
        )
    for record in reader:
        if len(record) != len(COLUMNS):
            raise ExportFormatError(
                "a line of the prepared file has the wrong number of columns",
                code="prepared_header_invalid",
            )
        values: dict[str, Any] = dict(zip(COLUMNS, record, strict=True))
        line = int(values["line"])
        yield ExportRow(
            line=line,
            bsn=untoken(key, "bsn", values["bsn_token"], line),
            birth_date=_parse_day(values["birth_date"]),
            sex=values["sex"] or None,
            municipality=values["municipality"] or None,
            benefit_start=_parse_day(values["benefit_start"]),
            benefit_end=_parse_day(values["benefit_end"]),
            local_reason=values["local_reason"] or None,
            new_municipality=values["new_municipality"] or None,
            errors=_parse_errors(values["errors"]),
            unit_key=untoken(key, "unit", values["unit_token"], line),
            statistic_code=values["statistic_code"] or None,
            education=values["education"] or None,
            country_of_birth_region=values["country_of_birth_region"] or None,
            client_number=values["client_number"] or None,
        )
