"""Benefit spells: a participant's continuous stretches on benefit, derived from the outcome events.

The platform stores what the municipal exports said, as append-only outcome events
(``models.outcomes``); it never stores a spell. A spell is derived here, the same way for the
web page, the API and the analysis export, so it cannot disagree with the events it comes from.

The derivation works in two steps.

1. **Benefit records.** A municipality registers one benefit per person per municipality: the
   record the participant was enrolled on (its start and municipality are on the participant),
   and one per ``reentry``. ``exit`` and ``transfer_within_site`` events end a record; a
   ``correction`` changes the end of the record whose end it names (``previous_date`` and
   ``previous_bus_code``), and with a NULL BUS code turns that end into a move within the site.
   Events are replayed in the order they were recorded (file order within a file, files in
   import order), so a later correction wins. An event says which record it belongs to by the
   benefit start of its export row (``spell_start``); events recorded before that column
   existed belong to the last record that started on or before their date.
2. **Spells.** Records sorted by start are chained: a record that ended with a move within the
   site continues in the next record (one spell, ``transfers`` counts the moves); any other end
   closes the spell, and the next record opens a new one.

Which rows become these events (linking a code-32 end to a new benefit in another member
municipality within the trial's move gap; leaving other benefit kinds out) is decided by the
outcome import (``services.imports.outcomes``); the rules are stated there and in the analysis
package's README, which documents the spells file.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, NamedTuple

from fiptrial.errors import field_error
from fiptrial.extensions import db
from fiptrial.models import OutcomeEvent, Participant

#: The BUS code of an end by a move to another municipality (kenmerk 34).
MOVED = "32"

#: BUS statistiekcodes (kenmerk 8) and what they stand for.
STATISTIC_CODES: Mapping[str, str] = {
    "01": "algemene bijstand",
    "02": "IOAW",
    "03": "IOAZ",
    "11": "bijzondere bijstand (levensonderhoud)",
    "12": "bijzondere bijstand (overig)",
    "14": "Bbz",
}
#: The statistiekcodes a trial may study: a benefit for a living. Special assistance (11, 12)
#: and Bbz (14) are one-off or business support, never a spell.
TRIAL_BENEFIT_CODES = ("01", "02", "03")
MAX_MOVE_GAP_DAYS = 366
ONE_DAY = timedelta(days=1)


def check_spell_settings(data: Mapping[str, Any]) -> None:
    """422 naming the field for a move gap or benefit codes a trial cannot have."""
    gap = data.get("move_gap_days")
    if gap is not None and not 0 <= gap <= MAX_MOVE_GAP_DAYS:
        raise field_error(
            "move_gap_days",
            f"must lie between 0 and {MAX_MOVE_GAP_DAYS} days",
            code="value_out_of_range",
            low=0,
            high=MAX_MOVE_GAP_DAYS,
        )
    codes = data.get("benefit_statistic_codes")
    if codes is None:
        return
    if not codes:
        raise field_error(
            "benefit_statistic_codes", "give one or more codes", code="value_required"
        )
    wrong = sorted({code for code in codes if code not in TRIAL_BENEFIT_CODES})
    if wrong or len(set(codes)) != len(codes):
        raise field_error(
            "benefit_statistic_codes",
            f"{', '.join(wrong) or 'a code twice'} cannot be studied: give distinct codes of "
            f"{', '.join(TRIAL_BENEFIT_CODES)} (special assistance 11/12 and Bbz 14 are never "
            "spells)",
            code="benefit_code_not_studied",
            codes=", ".join(wrong),
            allowed=", ".join(TRIAL_BENEFIT_CODES),
        )


class SpellEvent(NamedTuple):
    """The columns of an outcome event that the derivation reads, in recorded order."""

    id: int
    kind: str
    event_date: date
    bus_code: str | None
    previous_date: date | None
    previous_bus_code: str | None
    municipality: str | None
    new_municipality: str | None
    spell_start: date | None


#: The event columns in :class:`SpellEvent` order, for set-based queries.
SPELL_EVENT_COLUMNS = (
    OutcomeEvent.id,
    OutcomeEvent.kind,
    OutcomeEvent.event_date,
    OutcomeEvent.bus_code,
    OutcomeEvent.previous_date,
    OutcomeEvent.previous_bus_code,
    OutcomeEvent.municipality,
    OutcomeEvent.new_municipality,
    OutcomeEvent.spell_start,
)


@dataclass(frozen=True)
class Correction:
    """A correction applied to a spell, as the page and the API show it."""

    event: int
    previous_end: date | None
    previous_code: str | None
    end: date | None  # None with ``code`` None: the end turned out to be a move in the site
    code: str | None

    @property
    def to_move(self) -> bool:
        return self.code is None


@dataclass(frozen=True)
class Spell:
    """One continuous stretch on benefit at the site.

    ``end`` and ``end_code`` are ``None`` while the spell runs; ``municipality`` is where the
    benefit was paid at its end (after a move, the new municipality), ``None`` when unknown.
    ``events`` are the ids of the outcome events it was derived from, ``corrections`` those of
    them that changed its end, in the order they were applied.
    """

    number: int
    start: date
    end: date | None
    end_code: str | None
    municipality: str | None
    transfers: int
    events: tuple[int, ...] = ()
    corrections: tuple[Correction, ...] = ()


@dataclass(slots=True)
class _Record:
    """One benefit of one municipality while the events are replayed."""

    start: date
    municipality: str | None
    end: date | None = None
    code: str | None = None
    moved: bool = False  # ended with a move within the site: the spell continues
    moved_to: str | None = None
    events: list[int] = field(default_factory=list)
    corrections: list[Correction] = field(default_factory=list)


class _Records:
    """The benefit records of one participant, kept sorted by start."""

    __slots__ = ("records", "starts")

    def __init__(self, start: date, municipality: str | None) -> None:
        self.records = [_Record(start, municipality)]
        self.starts = [start]

    def add(self, start: date, municipality: str | None) -> _Record:
        index = bisect.bisect_left(self.starts, start)
        if index < len(self.starts) and self.starts[index] == start:
            return self.records[index]
        record = _Record(start, municipality)
        self.starts.insert(index, start)
        self.records.insert(index, record)
        return record

    def of(self, event: SpellEvent) -> _Record:
        """The record an ending event belongs to (see the module docstring)."""
        if event.spell_start is not None:
            index = bisect.bisect_left(self.starts, event.spell_start)
            if index < len(self.starts) and self.starts[index] == event.spell_start:
                return self.records[index]
        index = bisect.bisect_right(self.starts, event.event_date) - 1
        if index < 0:
            # An end before every known start: a benefit that ended before the enrolled one.
            return self.add(event.spell_start or event.event_date, event.municipality)
        record = self.records[index]  # the last record started on or before the end
        if record.moved and record.end is not None and event.event_date > record.end:
            # The benefit the client moved to, first seen ending: it continues the spell.
            continued = self.add(event.spell_start or record.end + ONE_DAY, event.municipality)
            continued.municipality = continued.municipality or record.moved_to
            return continued
        return record

    def ended_with(self, day: date | None, code: str | None) -> _Record | None:
        """The last record whose current end is ``day`` with ``code`` (what a correction names)."""
        for record in reversed(self.records):
            if record.end == day and record.code == code and not record.moved:
                return record
        return None


def derive_spells(
    start: date, municipality: str | None, events: Iterable[SpellEvent]
) -> list[Spell]:
    """A participant's spells from the benefit start and municipality it was enrolled with and
    its outcome events in recorded order (see the module docstring). Pure: no database."""
    records = _Records(start, municipality)
    for event in events:
        kind = event.kind
        if kind == "reentry":
            records.add(event.event_date, event.municipality).events.append(event.id)
            continue
        if kind == "correction":
            target = records.ended_with(event.previous_date, event.previous_bus_code)
            if target is None and event.bus_code is None:
                continue  # a move of an end that is not (or no longer) there: nothing to undo
            if target is None:
                target = records.of(event)  # nothing to correct: it stands as an end
            moved = event.bus_code is None
            target.corrections.append(
                Correction(event.id, target.end, target.code,
                           None if moved else event.event_date, event.bus_code)
            )  # fmt: skip
            target.events.append(event.id)
            if moved:
                target.moved, target.moved_to = True, event.new_municipality
                if event.spell_start is not None and event.spell_start > (target.end or start):
                    # A linked move names the benefit it continues in: make sure it is there.
                    records.add(event.spell_start, event.new_municipality)
            else:
                target.end, target.code, target.moved = event.event_date, event.bus_code, False
            continue
        target = records.of(event)
        target.events.append(event.id)
        if event.municipality is not None:
            target.municipality = event.municipality
        target.end = event.event_date
        if kind == "exit":
            target.code, target.moved = event.bus_code, False
        elif kind == "transfer_within_site":
            target.code, target.moved, target.moved_to = MOVED, True, event.new_municipality
    return _chain(records.records)


def _chain(records: Sequence[_Record]) -> list[Spell]:
    spells: list[Spell] = []
    opened: _Record | None = None
    transfers = 0
    events: list[int] = []
    corrections: list[Correction] = []
    for record in records:
        if opened is None:
            opened, transfers, events, corrections = record, 0, [], []
        events += record.events
        corrections += record.corrections
        if record.moved:
            transfers += 1
            if record is not records[-1]:
                continue
            end, code, municipality = None, None, record.moved_to
        else:
            end, code, municipality = record.end, record.code, record.municipality
        spells.append(
            Spell(len(spells) + 1, opened.start, end, code, municipality, transfers,
                  tuple(dict.fromkeys(events)), tuple(corrections))
        )  # fmt: skip
        opened = None
    return spells


def in_followup(spells: Iterable[Spell], first: date, last: date) -> list[Spell]:
    """The spells overlapping ``[first, last]``, renumbered from 1, censored at ``last``.

    A spell that ended before ``first`` or starts after ``last`` is left out; one that ends
    after ``last`` is returned running (no end, no code): nothing dated after the end of
    follow-up is used.
    """
    kept: list[Spell] = []
    for spell in spells:
        if spell.start > last or (spell.end is not None and spell.end < first):
            continue
        censored = spell.end is not None and spell.end > last
        kept.append(
            Spell(len(kept) + 1, spell.start, None if censored else spell.end,
                  None if censored else spell.end_code, spell.municipality, spell.transfers,
                  spell.events, spell.corrections)
        )  # fmt: skip
    return kept


def participant_spells(participant: Participant) -> list[Spell]:
    """All spells of one participant (the site's page and the API show them)."""
    events = db.session.execute(
        db.select(*SPELL_EVENT_COLUMNS)
        .where(OutcomeEvent.participant_id == participant.id)
        .order_by(OutcomeEvent.id)
    )
    return derive_spells(
        participant.benefit_start,
        participant.municipality,
        (SpellEvent(*row) for row in events),
    )
