"""Reason mappings: from a municipality's local end-of-benefit codes to the shared BUS codes.

Each site plugin ships its table as a versioned data file (format below) and hands it to the
platform through the ``reason_mappings`` hook (every version, oldest first). The platform reads
the shared codes from ``fiptrial/data/termination_categories.csv`` (kenmerk 34 of the Regeling
statistiek Participatiewet) and applies one rule for every site: a local code that maps to 32
("moved to another municipality") is a *transfer within the site*, not an exit, when the client
moved to one of the site's own member municipalities -- the pilot lost exactly those clients.

Mapping file format (UTF-8, ``;``-separated, ``#`` lines are metadata)::

    # mapping_version: 2026.1
    local_code;action;bus_code;historic_codes;description
    ARB;map;11;;Werk in loondienst
    WLA;map;11;20;Werkleeraanbod (regeling 2010, code 20)
    51;reject;;51;Wetstechnische beëindiging (regeling 2010) bestaat niet meer

A file may instead hold the site's whole mapping history: every version in full, each row
starting with its version and the date from which it applies (``jjjj-mm-dd``), oldest first::

    mapping_version;valid_from;local_code;action;bus_code;historic_codes;description
    2026.1;2026-01-01;ARB;map;11;;Werk in loondienst
    2027.1;2027-01-01;ARB;map;12;;Werk in loondienst (nu: gesubsidieerd)

:func:`load_mapping_history` reads both forms (a single-version file is a history of one, its
``# valid_from:`` line optional).

``action`` is ``map`` (``bus_code`` required) or ``reject`` (an explicit refusal: the importer
rejects such rows with the description as reason). ``historic_codes`` lists the codes of the
2010 regulation that the row stands for, separated by spaces, so the conformance checks can see
that every historic code is handled on purpose. A changed table must get a new
``mapping_version``: outcome events carry the version that produced them.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Literal

from fiptrial.plugins.parsing import quoted

#: Codes of the 2010 regulation (BWBR0017194) that no longer exist; a plugin must map or reject
#: each of them explicitly. Values say what they meant, for messages and docs.
HISTORIC_2010_CODES: Mapping[str, str] = {
    "20": "geaccepteerd werkleeraanbod",
    "21": "kunstenaarschap",
    "22": "kunstenaarschap",
    "51": "wetstechnische beëindiging",
    "52": "wetstechnische beëindiging",
    "53": "wetstechnische beëindiging",
    "61": "WIJ",
    "62": "WIJ",
    "99": "niet van toepassing",
}

#: The shared code for "moved to another municipality": the only exit that can be a transfer.
MOVED_MUNICIPALITY = "32"

MappingKind = Literal["exit", "transfer", "unmapped", "rejected"]
ACTIONS = ("map", "reject")
MAPPING_HEADER = ("local_code", "action", "bus_code", "historic_codes", "description")
HISTORY_HEADER = ("mapping_version", "valid_from", *MAPPING_HEADER)


class MappingFileError(ValueError):
    """A mapping data file is malformed; the message names the file and line."""


@cache
def shared_codes() -> Mapping[str, str]:
    """The valid shared BUS codes with their English labels, read once from the platform data."""
    text = (
        resources.files("fiptrial")
        .joinpath("data/termination_categories.csv")
        .read_text(encoding="utf-8")
    )
    return {row["bus_code"]: row["label_en"] for row in csv.DictReader(io.StringIO(text))}


@dataclass(frozen=True)
class ReasonEntry:
    """One row of a mapping table."""

    local_code: str
    action: Literal["map", "reject"]
    bus_code: str | None
    historic_codes: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class ReasonMapping:
    """A site's whole mapping table at one version.

    ``entries`` is kept as the plugin wrote it (a tuple, not a dict) so that a duplicate local
    code is visible to the start-up checks instead of silently overwritten.
    """

    version: str
    entries: tuple[ReasonEntry, ...] = field(repr=False)
    source: str = ""
    #: The first day the version applies to (``None``: from the start of the trial).
    valid_from: date | None = None
    _index: dict[str, ReasonEntry] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index: dict[str, ReasonEntry] = {}
        for entry in self.entries:
            index.setdefault(entry.local_code, entry)
        object.__setattr__(self, "_index", index)

    def get(self, local_code: str) -> ReasonEntry | None:
        """The entry for a local code (the first one if the table has duplicates)."""
        return self._index.get(local_code)

    @property
    def local_codes(self) -> tuple[str, ...]:
        return tuple(entry.local_code for entry in self.entries)

    def historic_handling(self) -> dict[str, ReasonEntry]:
        """Each historic 2010 code the table handles, with the entry that handles it."""
        handled: dict[str, ReasonEntry] = {}
        for entry in self.entries:
            for code in (*entry.historic_codes, entry.local_code):
                if code in HISTORIC_2010_CODES:
                    handled.setdefault(code, entry)
        return handled

    @property
    def fingerprint(self) -> str:
        """SHA-256 over the table's content: record it with the version, so that a table edited
        without a new version number is caught (by a plugin's own test, or in an audit)."""
        digest = hashlib.sha256()
        for e in self.entries:
            line = f"{e.local_code};{e.action};{e.bus_code or ''};{' '.join(e.historic_codes)}\n"
            digest.update(line.encode("utf-8"))
        return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class MappedReason:
    """What a local reason code means for the trial.

    Attributes:
        kind: ``"exit"`` (left the benefit; ``bus_code`` says why), ``"transfer"`` (moved to
            another municipality of the same site: not an exit), ``"unmapped"`` (the table does
            not know the code: hold the row back until a new mapping version knows it) or
            ``"rejected"`` (the table refuses the code on purpose, e.g. a 2010 code: reject the
            row with ``reason``).
        local_code: the code as the export gave it.
        bus_code: shared BUS code for an exit, else ``None``.
        mapping_version: version of the table that decided; store it with the outcome.
        reason: human-readable explanation for ``unmapped`` and ``rejected``.
    """

    kind: MappingKind
    local_code: str
    bus_code: str | None
    mapping_version: str
    reason: str = ""

    @property
    def is_exit(self) -> bool:
        return self.kind == "exit"


def map_with_table(
    mapping: ReasonMapping,
    local_code: str,
    new_municipality: str | None,
    site_municipalities: Iterable[str],
) -> MappedReason:
    """The platform's shared mapping rule, used unless a plugin answers ``map_reason`` itself."""
    entry = mapping.get(local_code)
    version = mapping.version
    if entry is None:
        return MappedReason(
            "unmapped",
            local_code,
            None,
            version,
            f"local code {quoted(local_code)} is not in the table",
        )
    if entry.action == "reject":
        reason = entry.description or f"local code {quoted(local_code)} is rejected by the table"
        return MappedReason("rejected", local_code, None, version, reason)
    if (
        entry.bus_code == MOVED_MUNICIPALITY
        and new_municipality is not None
        and new_municipality in site_municipalities
    ):
        return MappedReason("transfer", local_code, None, version)
    return MappedReason("exit", local_code, entry.bus_code, version)


def load_mapping_csv(source: Traversable | Path | str) -> ReasonMapping:
    """Read a mapping data file (format in the module docstring).

    Raises:
        MappingFileError: naming the file and line, for a missing version, a wrong header or a
            row with an unknown action. Unknown shared codes and duplicates are *not* refused
            here: the plugin manager checks those at start-up and names the plugin.
    """
    path = Path(source) if isinstance(source, str) else source
    name = getattr(path, "name", str(path))
    text = path.read_text(encoding="utf-8-sig")
    metadata: dict[str, str] = {}
    body: list[tuple[int, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith("#"):
            key, sep, value = line[1:].partition(":")
            if sep:
                metadata[key.strip().lower()] = value.strip()
        elif line.strip():
            body.append((number, line))
    version = metadata.get("mapping_version", "")
    if not version:
        raise MappingFileError(f"{name}: no '# mapping_version: ...' line")
    if not body:
        raise MappingFileError(f"{name}: no header line")
    header_line, *data = body
    header = tuple(column.strip() for column in header_line[1].split(";"))
    if header != MAPPING_HEADER:
        raise MappingFileError(
            f"{name}, line {header_line[0]}: header must be {';'.join(MAPPING_HEADER)}"
        )
    entries = []
    for (number, _), fields in zip(
        data, csv.reader((line for _, line in data), delimiter=";"), strict=True
    ):
        if len(fields) != len(MAPPING_HEADER):
            raise MappingFileError(
                f"{name}, line {number}: expected {len(MAPPING_HEADER)} fields, got {len(fields)}"
            )
        entries.append(_entry(name, number, [f.strip() for f in fields]))
    valid_from = None
    if metadata.get("valid_from"):
        try:
            valid_from = date.fromisoformat(metadata["valid_from"])
        except ValueError:
            raise MappingFileError(f"{name}: valid_from must be a date jjjj-mm-dd") from None
    return ReasonMapping(version=version, entries=tuple(entries), source=name,
                         valid_from=valid_from)  # fmt: skip


def load_mapping_history(source: Traversable | Path | str) -> tuple[ReasonMapping, ...]:
    """Every version of a site's table, oldest first (format in the module docstring).

    Reads a history file (header starting ``mapping_version;valid_from``) or a single-version
    file, which is a history of one.

    Raises:
        MappingFileError: naming the file and line, as :func:`load_mapping_csv` does, and for
            a history row whose version or date is missing or malformed.
    """
    path = Path(source) if isinstance(source, str) else source
    name = getattr(path, "name", str(path))
    text = path.read_text(encoding="utf-8-sig")
    lines = [
        (number, line)
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.startswith("#")
    ]
    if not lines or not lines[0][1].startswith("mapping_version;"):
        return (load_mapping_csv(path),)
    header_number, header_line = lines[0]
    header = tuple(column.strip() for column in header_line.split(";"))
    if header != HISTORY_HEADER:
        raise MappingFileError(
            f"{name}, line {header_number}: header must be {';'.join(HISTORY_HEADER)}"
        )
    versions: dict[str, tuple[date, list[ReasonEntry]]] = {}
    data = lines[1:]
    for (number, _), fields in zip(
        data, csv.reader((line for _, line in data), delimiter=";"), strict=True
    ):
        if len(fields) != len(HISTORY_HEADER):
            raise MappingFileError(
                f"{name}, line {number}: expected {len(HISTORY_HEADER)} fields, got {len(fields)}"
            )
        version, valid_text, *rest = (f.strip() for f in fields)
        if not version:
            raise MappingFileError(f"{name}, line {number}: mapping_version is empty")
        try:
            valid_from = date.fromisoformat(valid_text)
        except ValueError:
            raise MappingFileError(
                f"{name}, line {number}: valid_from must be a date jjjj-mm-dd"
            ) from None
        known = versions.setdefault(version, (valid_from, []))
        if known[0] != valid_from:
            raise MappingFileError(
                f"{name}, line {number}: version {version} has two valid_from dates"
            )
        known[1].append(_entry(name, number, rest))
    return tuple(
        ReasonMapping(version, tuple(entries), name, valid_from)
        for version, (valid_from, entries) in versions.items()
    )


def _entry(name: str, number: int, fields: Sequence[str]) -> ReasonEntry:
    local_code, action, bus_code, historic, description = fields
    if action not in ACTIONS:
        raise MappingFileError(f"{name}, line {number}: action must be 'map' or 'reject'")
    return ReasonEntry(
        local_code=local_code,
        action=action,  # type: ignore[arg-type]  # checked against ACTIONS above
        bus_code=bus_code or None,
        historic_codes=tuple(historic.split()),
        description=description,
    )


def version_on(history: Sequence[ReasonMapping], day: date) -> ReasonMapping:
    """The version of a history that applies on ``day`` (the oldest before its valid_from)."""
    chosen = history[0]
    for mapping in history:
        if mapping.valid_from is None or mapping.valid_from <= day:
            chosen = mapping
    return chosen
