"""A small synthetic population for declarative sites: samples, tests and demos -- never real data.

:func:`synthetic_exports` gives the rows of two exports of the same made-up people: an
enrolment export (every benefit running) and a later outcome export (exits with several BUS
codes, partners leaving together, a move to another member municipality followed by the new
benefit there, a re-entry after two months, a special-assistance benefit that the imports
must skip). Written with :func:`~fiptrial.plugins.declarative.writer.write_export`, the same
rows become a CSV or a nested BUS XML file, so that both can be imported and compared.

BSNs are generated to pass the elfproef from a seeded random source; they are not taken from
anybody.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from fiptrial.plugins.rows import ExportRow

EXIT_CODES = ("11", "31", "02", "14", "13")


def synthetic_bsn(rng: random.Random) -> str:
    """A 9-digit number passing the elfproef (weights 9..2 and -1)."""
    while True:
        digits = [rng.randrange(10) for _ in range(8)]
        total = sum(w * d for w, d in zip(range(9, 1, -1), digits, strict=True))
        check = total % 11
        if check < 10 and any(digits):
            return "".join(map(str, digits)) + str(check)


@dataclass(frozen=True)
class Person:
    bsn: str
    birth_date: date
    sex: str


def synthetic_exports(
    members: tuple[str, ...] = ("GM0363",),
    benefits: int = 12,
    seed: int = 1,
    reference: date = date(2026, 10, 1),
) -> tuple[list[ExportRow], list[ExportRow]]:
    """The rows of an enrolment export and of an outcome export of the same people.

    Every fourth benefit has two partners; in the outcome export every fifth benefit ends with
    one of several BUS codes (partners with the benefit), the seventh-ish moves (code 32) to
    another member municipality with a new benefit there ten days later (with one member
    only: a move away), one ends and comes back after 60 days, and one extra person has a
    special-assistance benefit (statistiekcode 12) in both exports.
    """
    rng = random.Random(seed)
    enrolment: list[ExportRow] = []
    outcomes: list[ExportRow] = []
    line = 1
    for number in range(benefits):
        home = members[number % len(members)]
        start = reference - timedelta(days=rng.randrange(200, 2500))
        unit = f"SYN-{seed}-{number + 1:04d}"
        people = [_person(rng, start)]
        if number % 4 == 0:
            people.append(_person(rng, start))
        for person in people:
            line += 1
            enrolment.append(_row(line, person, home, start, None, None, unit))
        outcomes += _outcome(number, people, home, start, unit, members, reference)
    special = _person(rng, reference - timedelta(days=400))
    start = reference - timedelta(days=100)
    for rows in (enrolment, outcomes):
        rows.append(_row(0, special, members[0], start, None, None, f"SYN-{seed}-BB", "12"))
    return _numbered(enrolment), _numbered(outcomes)


def _person(rng: random.Random, start: date) -> Person:
    age_days = rng.randrange(19 * 365, 60 * 365)
    return Person(
        synthetic_bsn(rng), start - timedelta(days=age_days), rng.choice(("male", "female"))
    )


def _row(
    line: int,
    person: Person,
    home: str,
    start: date,
    end: date | None,
    reason: str | None,
    unit: str,
    statistic_code: str = "01",
) -> ExportRow:
    return ExportRow(
        line, person.bsn, person.birth_date, person.sex,  # type: ignore[arg-type]
        home, start, end, reason, None, (), unit, statistic_code,
    )  # fmt: skip


def _outcome(
    number: int,
    people: list[Person],
    home: str,
    start: date,
    unit: str,
    members: tuple[str, ...],
    reference: date,
) -> list[ExportRow]:
    end = reference - timedelta(days=30 + number)
    if number % 5 == 1:
        code = EXIT_CODES[(number // 5) % len(EXIT_CODES)]
        return [_row(0, p, home, start, end, code, unit) for p in people]
    if number % 7 == 3:
        rows = [_row(0, p, home, start, end, "32", unit) for p in people]
        others = [m for m in members if m != home]
        if others:
            new_start = end + timedelta(days=10)
            rows += [_row(0, p, others[0], new_start, None, None, unit + "-N") for p in people]
        return rows
    if number % 9 == 4:
        back = end + timedelta(days=60)
        rows = [_row(0, p, home, start, end - timedelta(days=60), "11", unit) for p in people]
        rows += [_row(0, p, home, back - timedelta(days=60), None, None, unit + "-R")
                 for p in people]  # fmt: skip
        return rows
    return [_row(0, p, home, start, None, None, unit) for p in people]


def _numbered(rows: list[ExportRow]) -> list[ExportRow]:
    return [row._replace(line=index) for index, row in enumerate(rows, start=2)]
