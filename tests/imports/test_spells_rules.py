"""The spell derivation on its own (services.spells): events in, spells out, by hand."""

from __future__ import annotations

from datetime import date
from itertools import count
from typing import Any

import pytest

from fiptrial.services.spells import SpellEvent, derive_spells, in_followup

START = date(2020, 1, 1)
_ids = count(1)


def ev(
    kind: str,
    day: date,
    bus: str | None = None,
    previous: tuple[date, str | None] | None = None,
    *,
    muni: str | None = None,
    new: str | None = None,
    start: date | None = None,
) -> SpellEvent:
    before, before_code = previous or (None, None)
    return SpellEvent(next(_ids), kind, day, bus, before, before_code, muni, new, start)


def brief(events: list[SpellEvent], municipality: str | None = "GM0748") -> list[tuple[Any, ...]]:
    return [
        (s.start, s.end, s.end_code, s.municipality, s.transfers)
        for s in derive_spells(START, municipality, events)
    ]


D = date
CASES = [
    # No events: the benefit the participant was enrolled on, running.
    ([], [(START, None, None, "GM0748", 0)]),
    ([ev("exit", D(2026, 1, 5), "11")], [(START, D(2026, 1, 5), "11", "GM0748", 0)]),
    # A correction names what it replaces; here the first of two spells.
    (
        [
            ev("exit", D(2026, 1, 5), "11"),
            ev("reentry", D(2026, 2, 1), muni="GM0851"),
            ev("exit", D(2026, 5, 1), "98"),
            ev("correction", D(2026, 1, 4), "19", (D(2026, 1, 5), "11")),
        ],
        [
            (START, D(2026, 1, 4), "19", "GM0748", 0),
            (D(2026, 2, 1), D(2026, 5, 1), "98", "GM0851", 0),
        ],
    ),
    # A NULL code turns the exit into a move within the site: the spell goes on.
    (
        [
            ev("exit", D(2026, 1, 5), "32"),
            ev("correction", D(2026, 1, 5), None, (D(2026, 1, 5), "32")),
        ],
        [(START, None, None, None, 1)],
    ),
    ([ev("transfer_within_site", D(2026, 1, 5), new="GM0873")], [(START, None, None, "GM0873", 1)]),
    # Corrected twice: the second correction names the first one's values.
    (
        [
            ev("exit", D(2026, 1, 5), "98"),
            ev("correction", D(2026, 1, 6), "11", (D(2026, 1, 5), "98")),
            ev("correction", D(2026, 1, 7), "13", (D(2026, 1, 6), "11")),
        ],
        [(START, D(2026, 1, 7), "13", "GM0748", 0)],
    ),
    # A linked move names the benefit it continues in; that benefit's end ends the spell.
    (
        [
            ev("exit", D(2026, 1, 5), "32", muni="GM0748", start=START),
            ev(
                "correction",
                D(2026, 1, 8),
                None,
                (D(2026, 1, 5), "32"),
                new="GM0873",
                start=D(2026, 1, 8),
            ),
            ev("exit", D(2026, 6, 1), "11", muni="GM0873", start=D(2026, 1, 8)),
        ],
        [(START, D(2026, 6, 1), "11", "GM0873", 1)],
    ),
    # A named move, then the new municipality's benefit ends (its own start, never recorded).
    (
        [
            ev("transfer_within_site", D(2026, 1, 5), new="GM0851", start=START),
            ev("exit", D(2026, 3, 1), "19", muni="GM0851", start=D(2026, 1, 6)),
        ],
        [(START, D(2026, 3, 1), "19", "GM0851", 1)],
    ),
    # The same with events from before the benefit start was kept.
    (
        [ev("transfer_within_site", D(2026, 1, 5), new="GM0851"), ev("exit", D(2026, 3, 1), "19")],
        [(START, D(2026, 3, 1), "19", "GM0851", 1)],
    ),
    # A benefit that ended before the one the participant was enrolled on.
    (
        [ev("exit", D(2018, 6, 1), "11", start=D(2017, 1, 1)), ev("reentry", START)],
        [(D(2017, 1, 1), D(2018, 6, 1), "11", None, 0), (START, None, None, "GM0748", 0)],
    ),
    # Nothing to turn into a move: ignored; nothing to correct with a code: it stands.
    (
        [ev("correction", D(2026, 1, 5), None, (D(2026, 1, 5), "32"))],
        [(START, None, None, "GM0748", 0)],
    ),
    (
        [ev("correction", D(2026, 1, 5), "11", (D(2026, 1, 9), "98"))],
        [(START, D(2026, 1, 5), "11", "GM0748", 0)],
    ),
    # Two moves, then a re-entry after an exit.
    (
        [
            ev("transfer_within_site", D(2025, 1, 5), new="GM0851", start=START),
            ev("transfer_within_site", D(2025, 6, 5), new="GM0873", start=D(2025, 1, 6)),
            ev("exit", D(2025, 9, 1), "11", muni="GM0873", start=D(2025, 6, 6)),
            ev("reentry", D(2026, 1, 1), muni="GM0873"),
        ],
        [(START, D(2025, 9, 1), "11", "GM0873", 2), (D(2026, 1, 1), None, None, "GM0873", 0)],
    ),
]


@pytest.mark.parametrize(("events", "expected"), CASES)
def test_derive_spells(events: list[SpellEvent], expected: list[tuple[Any, ...]]) -> None:
    assert brief(events) == expected


def test_corrections_and_events_are_listed_on_their_spell_in_order() -> None:
    events = [
        ev("exit", D(2026, 1, 5), "11"),
        ev("reentry", D(2026, 2, 1)),
        ev("correction", D(2026, 1, 4), "19", (D(2026, 1, 5), "11")),
        ev("correction", D(2026, 1, 3), "19", (D(2026, 1, 4), "19")),
    ]
    first, second = derive_spells(START, None, events)
    assert [c.event for c in first.corrections] == [events[2].id, events[3].id]
    assert [(c.previous_end, c.end) for c in first.corrections] == [
        (D(2026, 1, 5), D(2026, 1, 4)), (D(2026, 1, 4), D(2026, 1, 3)),
    ]  # fmt: skip
    assert first.events == (events[0].id, events[2].id, events[3].id)
    assert second.events == (events[1].id,) and second.corrections == ()


def test_in_followup_keeps_overlapping_spells_renumbered_and_censored() -> None:
    spells = derive_spells(START, None, [
        ev("exit", D(2025, 6, 1), "11"), ev("reentry", D(2025, 9, 1)),
        ev("exit", D(2026, 5, 1), "13"), ev("reentry", D(2026, 7, 1)),
        ev("exit", D(2026, 9, 1), "11"), ev("reentry", D(2026, 12, 1)),
    ])  # fmt: skip
    kept = in_followup(spells, D(2025, 12, 1), D(2026, 8, 31))
    assert [(s.number, s.start, s.end, s.end_code) for s in kept] == [
        (1, D(2025, 9, 1), D(2026, 5, 1), "13"),  # the spell at allocation
        (2, D(2026, 7, 1), None, None),  # ends on 1 September, after follow-up: censored
    ]
    # An end on the first day of follow-up is inside it.
    assert in_followup(spells, D(2025, 6, 1), D(2025, 6, 30))[0].end == D(2025, 6, 1)
