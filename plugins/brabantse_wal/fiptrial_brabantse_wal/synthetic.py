"""Synthetic ISD Brabantse Wal exports: realistic, reproducible, and never real people.

For the demo, the tests and the benchmarks. The population resembles the pilot (report, ch. 3
and 4): about 2,000 clients aged 18 to 68, mean age about 44, 46% men, long benefit durations
(mean about 4.5 years, at least 6 months), spread over the three member municipalities. About
16% of the clients left the benefit in the year before the reference date, with the mix of BUS
reasons of the report's Table 4.1; those who reached the pension age (67, as for 2024-2027) in
that year left for that reason. Moves (VHG) go to another member municipality (a transfer
within the site) or outside the site. Some clients are partners on one benefit (the same
Uitkeringsnummer, start and municipality, and the same end); every benefit is algemene bijstand
(Statistiekcode 01), and ``special_assistance`` adds records of bijzondere bijstand (12) that
the platform must leave out.

Clients are a function of ``seed`` alone and outcomes of ``seed`` and ``reference_date``, so an
enrolment export (``exit_share=0``) and a later outcome export with the same seed describe the
same people. BSNs are distinct and pass the elfproef; they are drawn from a permutation, not
from a register. Options inject the faults an importer must survive: an unknown local code, an
invalid BSN, an impossible date. Rows are written one at a time, so a million-row file costs no
memory.

Command line::

    python -m fiptrial_brabantse_wal.synthetic --rows 100000 --seed 7 export.csv

The package's ``data/sample_export.csv`` is :data:`SAMPLE_COMMAND`'s output.
"""

from __future__ import annotations

import argparse
import bisect
import csv
import io
import itertools
import json
import operator
import os
import random
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

from fiptrial_brabantse_wal import COLUMNS, MEMBERS, OPTIONAL_COLUMNS

#: Exits per shared code in the pilot, both arms together (report Table 4.1). Code 03 (pension
#: age) is absent: the generator derives it from the clients' ages instead.
BUS_EXIT_MIX: dict[str, int] = {
    "01": 2, "02": 31, "04": 11, "05": 11, "07": 3, "11": 28, "13": 11, "14": 3, "15": 2,
    "18": 2, "19": 40, "31": 38, "32": 69, "33": 16, "34": 4, "35": 2, "97": 14, "98": 27,
}  # fmt: skip
#: The ISD's local code for each shared code; 11 has two (work, sickness benefit).
LOCAL_CODES: dict[str, tuple[tuple[str, float], ...]] = {
    "01": (("STU", 1.0),), "02": (("REL", 1.0),), "03": (("AOW", 1.0),),
    "04": (("OVL", 1.0),), "05": (("DET", 1.0),), "06": (("OND", 1.0),),
    "07": (("BUI", 1.0),), "11": (("ARB", 0.8), ("ZW", 0.2)), "13": (("ZZP", 1.0),),
    "14": (("WW", 1.0),), "15": (("WIA", 1.0),), "17": (("ALI", 1.0),),
    "18": (("VRM", 1.0),), "19": (("INK", 1.0),), "31": (("GIL", 1.0),),
    "32": (("VHG", 1.0),), "33": (("VHB", 1.0),), "34": (("NVI", 1.0),),
    "35": (("NVR", 1.0),), "97": (("PAR", 1.0),), "98": (("OVR", 1.0),),
}  # fmt: skip
#: Historic local codes still found on old records, with the shared code they map to.
HISTORIC_LOCAL = {"11": "WLA", "13": "KUN"}
DESCRIPTIONS = {
    "STU": "Studie", "REL": "Relatie", "AOW": "AOW-leeftijd", "OVL": "Overlijden",
    "DET": "Detentie", "OND": "Onderwijs", "BUI": "Verblijf buitenland", "ARB": "Werk",
    "ZW": "Ziektewet", "ZZP": "Zelfstandige", "WW": "WW-uitkering", "WIA": "WIA-uitkering",
    "ALI": "Alimentatie", "VRM": "Vermogen", "INK": "Ander inkomen", "GIL": "Geen inlichtingen",
    "VHG": "Verhuizing gemeente", "VHB": "Verhuizing buitenland", "NVI": "Niet verschenen",
    "NVR": "Niet verschenen re-integratie", "PAR": "Oorzaak partner", "OVR": "Overige",
    "WLA": "Werkleeraanbod", "KUN": "Kunstenaarsregeling",
}  # fmt: skip
#: Share of clients per member municipality (roughly their populations).
MEMBER_SHARES = (0.58, 0.22, 0.20)
_MEMBER_CUMULATIVE = tuple(itertools.accumulate(MEMBER_SHARES))[:-1]
#: Municipalities outside the site that movers go to: Rotterdam, Amsterdam, Breda, Roosendaal,
#: Tholen.
OUTSIDE = ("GM0599", "GM0363", "GM0758", "GM1674", "GM0716")
PENSION_AGE_YEARS = 67
_PENSION_DAYS = int(PENSION_AGE_YEARS * 365.25)
UNKNOWN_LOCAL_CODE = "XYZ"
#: BUS statistiekcodes (kenmerk 8): the clients' benefit, and the special assistance records.
GENERAL_ASSISTANCE, SPECIAL_ASSISTANCE = "01", "12"
_BENEFIT_NUMBERS = 700_000  # Uitkeringsnummer of client n: 700000 + n, or its partner's
#: How data/sample_export.csv was made: small, clean, and with every kind of outcome.
SAMPLE_ARGS = ("--rows", "40", "--seed", "9", "--exit-share", "0.5", "--historic-share", "0.3",
               "--partner-share", "0.2", "--special-assistance", "2")  # fmt: skip
SAMPLE_COMMAND = "python -m fiptrial_brabantse_wal.synthetic " + " ".join(SAMPLE_ARGS)

_BSN_PREFIX_LOW = 1_000_000  # 8-digit prefixes from 01000000: about 9% of BSNs start with 0
_BSN_PREFIX_SPAN = 100_000_000 - _BSN_PREFIX_LOW
_WEIGHTS = (9, 8, 7, 6, 5, 4, 3, 2)
_ASCII_OFFSET = 48 * sum(_WEIGHTS)  # the digits arrive as ASCII bytes
_LCG_MODULUS = 2**27  # > _BSN_PREFIX_SPAN
_LCG_MULTIPLIER = 1_103_515_245  # = 1 mod 4 (Hull-Dobell)


@dataclass
class SyntheticSummary:
    """What a generated export holds, so tests can expect exact counts.

    ``running``, ``exits_by_code`` and ``transfers_within_site`` count the clean rows only;
    the injected faulty rows are listed by line number instead.
    """

    rows: int = 0
    running: int = 0
    exits_by_code: Counter[str] = field(default_factory=Counter)
    transfers_within_site: int = 0
    moves_outside_site: int = 0
    historic_code_rows: int = 0
    leading_zero_dropped: int = 0
    partners: int = 0  # rows of a client who shares the previous row's benefit
    special_assistance_lines: list[int] = field(default_factory=list)
    unknown_code_lines: list[int] = field(default_factory=list)
    bad_bsn_lines: list[int] = field(default_factory=list)
    bad_date_lines: list[int] = field(default_factory=list)

    @property
    def exits(self) -> int:
        return sum(self.exits_by_code.values())

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["exits_by_code"] = dict(sorted(self.exits_by_code.items()))
        data["exits"] = self.exits
        return data


class SyntheticClient(NamedTuple):
    """A made-up client: what the ISD knows before any outcome."""

    number: int
    bsn: str
    birth_date: date
    male: bool
    municipality: str
    benefit_start: date
    benefit_number: int  # Uitkeringsnummer: partners share it


def valid_bsns(seed: int) -> Iterator[str]:
    """Distinct 9-digit numbers passing the elfproef, in a seeded, random-looking order.

    A full-period linear congruential generator over 2**27 visits every number below it once,
    so the numbers are distinct without remembering the ones already given (flat memory for a
    million rows); values beyond the range of 8-digit prefixes are skipped. The ninth digit
    makes the elfproef hold; prefixes for which no digit can (1 in 11) are skipped too.
    """
    rng = random.Random(f"bsn/{seed}")
    state = rng.randrange(_LCG_MODULUS)
    increment = rng.randrange(_LCG_MODULUS) | 1  # odd: with a = 1 mod 4, the period is full
    for _ in range(_LCG_MODULUS):
        state = (_LCG_MULTIPLIER * state + increment) % _LCG_MODULUS
        if state >= _BSN_PREFIX_SPAN:
            continue
        prefix = f"{_BSN_PREFIX_LOW + state:08d}"
        check = (sum(map(operator.mul, _WEIGHTS, prefix.encode())) - _ASCII_OFFSET) % 11
        if check < 10:
            yield prefix + str(check)


def clients(
    count: int, seed: int, reference_date: date, partner_share: float = 0.1
) -> Iterator[SyntheticClient]:
    """``count`` clients drawn with ``seed``, on benefit for at least 6 months on the date.

    With probability ``partner_share`` a client is the partner of the one before: on the same
    benefit (number, start and municipality), when old enough for it. Partners are drawn from a
    stream of their own, so the clients' other facts do not depend on the share.
    """
    rng = random.Random(f"clients/{seed}")
    couples = random.Random(f"units/{seed}")
    bsns = valid_bsns(seed)
    previous: SyntheticClient | None = None
    for number in range(count):
        male = rng.random() < 0.465
        age_days = int(rng.triangular(18, 68, 45) * 365.25)  # mean 43.7, as in the pilot
        birth = reference_date - timedelta(days=age_days)
        adult_days = age_days - int(18 * 365.25)
        duration_days = int((6 + rng.expovariate(1 / 48)) * 30.44)
        duration_days = max(183, min(duration_days, adult_days))
        # Nobody starts social assistance after reaching pension age.
        duration_days = max(duration_days, age_days - _PENSION_DAYS + 30)
        municipality = MEMBERS[bisect.bisect(_MEMBER_CUMULATIVE, rng.random())]
        client = SyntheticClient(
            number + 1,
            next(bsns),
            birth,
            male,
            municipality,
            reference_date - timedelta(days=duration_days),
            _BENEFIT_NUMBERS + number + 1,
        )
        if (
            previous is not None
            and couples.random() < partner_share
            and previous.benefit_number == _BENEFIT_NUMBERS + previous.number  # no trios
            and birth + timedelta(days=int(18 * 365.25)) <= previous.benefit_start
            and previous.benefit_start < birth + timedelta(days=_PENSION_DAYS)
        ):
            client = client._replace(
                municipality=previous.municipality,
                benefit_start=previous.benefit_start,
                benefit_number=previous.benefit_number,
            )
        previous = client
        yield client


@dataclass(frozen=True)
class _Options:
    rows: int
    seed: int
    reference_date: date
    exit_share: float
    period_days: int
    within_site_move_share: float
    historic_share: float
    partner_share: float
    faults: dict[int, str]
    special: frozenset[int]


def write_export(
    out: BinaryIO | str | os.PathLike[str],
    rows: int = 2000,
    *,
    seed: int = 2014,
    reference_date: date = date(2026, 2, 1),
    exit_share: float = 0.16,
    period_days: int = 365,
    within_site_move_share: float = 0.35,
    historic_share: float = 0.02,
    partner_share: float = 0.1,
    special_assistance: int = 0,
    unknown_codes: int = 0,
    bad_bsns: int = 0,
    bad_dates: int = 0,
    encoding: str = "cp1252",
) -> SyntheticSummary:
    """Write an export of ``rows`` clients to a path or binary file and describe it.

    Args:
        reference_date: the day of the export; ended benefits ended in the ``period_days``
            before it.
        exit_share: share of clients whose benefit ended in that period (the pilot: ~16% a
            year); 0 gives an enrolment export of running benefits only.
        within_site_move_share: share of moves (VHG) that go to another member municipality.
        historic_share: share of exits for work or self-employment recorded with the historic
            local codes WLA and KUN.
        partner_share: share of clients who are the partner of the client before them, on the
            same benefit (same Uitkeringsnummer, start, municipality and end).
        special_assistance: how many clients also get a record of bijzondere bijstand
            (Statistiekcode 12), on the line after their own; they add to the rows.
        unknown_codes, bad_bsns, bad_dates: how many rows get an unknown local code, a BSN
            failing the elfproef, or an impossible birth date (31 February).
        encoding: ``cp1252`` (the ISD's) or ``utf-8-sig`` (UTF-8 with a BOM).
    """
    injected = random.Random(f"faults/{seed}/{rows}").sample(
        range(rows), min(rows, unknown_codes + bad_bsns + bad_dates)
    )
    options = _Options(
        rows, seed, reference_date, exit_share, period_days, within_site_move_share,
        historic_share, partner_share,
        faults={
            **dict.fromkeys(injected[:unknown_codes], "unknown"),
            **dict.fromkeys(injected[unknown_codes : unknown_codes + bad_bsns], "bsn"),
            **dict.fromkeys(injected[unknown_codes + bad_bsns :], "date"),
        },
        special=frozenset(
            random.Random(f"special/{seed}/{rows}").sample(
                range(rows), min(rows, special_assistance)
            )
        ),
    )  # fmt: skip
    events = random.Random(f"events/{seed}/{reference_date.isoformat()}")
    summary = SyntheticSummary()
    if isinstance(out, (str, os.PathLike)):
        with Path(out).open("w", encoding=encoding, newline="") as text:
            _write(text, options, events, summary)
    else:
        text = io.TextIOWrapper(out, encoding=encoding, newline="")
        try:
            _write(text, options, events, summary)
        finally:
            text.flush()
            text.detach()  # the caller owns ``out``: do not close it
    return summary


#: (BUS code or None, local code, new municipality, end) of one benefit's outcome.
Outcome = tuple[str | None, str, str, date | None]


def _write(
    text: io.TextIOBase, options: _Options, events: random.Random, summary: SyntheticSummary
) -> None:
    writer = csv.writer(text, delimiter=";", lineterminator="\r\n")
    writer.writerow(COLUMNS + OPTIONAL_COLUMNS)
    codes, cumulative = list(BUS_EXIT_MIX), list(itertools.accumulate(BUS_EXIT_MIX.values()))
    reference_date, exit_share = options.reference_date, options.exit_share
    window_start = reference_date - timedelta(days=options.period_days)
    line = 1
    previous: tuple[SyntheticClient, Outcome] | None = None
    population = clients(options.rows, options.seed, reference_date, options.partner_share)
    for index, client in enumerate(population):
        line += 1
        fault = options.faults.get(index)
        bsn = client.bsn
        if fault == "bsn":
            bsn = bsn[:8] + str((int(bsn[8]) + 1) % 10)  # off by one: never divisible by 11
        elif bsn[0] == "0" and events.random() < 0.5:  # a spreadsheet ate the leading zero
            bsn = bsn[1:]
            summary.leading_zero_dropped += 1
        birth = _dmy(client.birth_date)
        if fault == "date":
            birth = f"31-02-{client.birth_date.year}"
        bus, local, new = None, "", ""
        end: date | None = None
        pension_date = client.birth_date + timedelta(days=_PENSION_DAYS)
        earliest = max(window_start, client.benefit_start + timedelta(days=1))
        partner = previous is not None and previous[0].benefit_number == client.benefit_number
        if fault == "unknown":
            local = UNKNOWN_LOCAL_CODE
            end = earliest + timedelta(days=events.randrange((reference_date - earliest).days + 1))
        elif exit_share > 0 and window_start < pension_date <= reference_date:
            bus, local, end = "03", "AOW", pension_date  # pension age ends the benefit anyway
        elif partner and previous is not None and previous[1][0] != "03":
            bus, local, new, end = previous[1]  # one benefit: it ends for both partners
        elif events.random() < exit_share:
            bus = events.choices(codes, cum_weights=cumulative)[0]
            local = _local_code(bus, events, options.historic_share)
            end = earliest + timedelta(days=events.randrange((reference_date - earliest).days + 1))
            if bus == "32":
                if events.random() < options.within_site_move_share:
                    new = events.choice([m for m in MEMBERS if m != client.municipality])
                else:
                    new = events.choice(OUTSIDE)
        previous = client, (bus, local, new, end)
        home = client.municipality if events.random() < 0.3 else client.municipality[2:]
        if new and events.random() < 0.7:
            new = new[2:]
        writer.writerow(
            (
                f"{100000 + client.number}",
                bsn,
                birth,
                "M" if client.male else "V",
                home,
                _dmy(client.benefit_start),
                _dmy(end) if end else "",
                local,
                DESCRIPTIONS.get(local, "Onbekende reden" if local else ""),
                new,
                client.benefit_number,
                GENERAL_ASSISTANCE,
            )
        )
        summary.rows += 1
        summary.partners += partner
        if fault:
            getattr(summary, _FAULT_LIST[fault]).append(line)
        elif bus is None:
            summary.running += 1
        elif bus == "32" and ("GM" + new[-4:]) in MEMBERS:
            summary.transfers_within_site += 1
        else:
            summary.exits_by_code[bus] += 1
            summary.moves_outside_site += bus == "32"
            summary.historic_code_rows += local in ("WLA", "KUN")
        if index in options.special:
            line += 1
            _special_assistance(writer, client, events, window_start, reference_date)
            summary.rows += 1
            summary.special_assistance_lines.append(line)


def _special_assistance(
    writer: Any, client: SyntheticClient, rng: random.Random, first: date, last: date
) -> None:
    """A one-off grant of bijzondere bijstand to the client: a benefit record of another kind
    (Statistiekcode 12) that starts and ends within the period."""
    start = max(first, client.benefit_start) + timedelta(days=rng.randrange(0, 300))
    start = min(start, last)
    end = min(last, start + timedelta(days=rng.randrange(0, 60)))
    writer.writerow(
        (
            f"{100000 + client.number}", client.bsn, _dmy(client.birth_date),
            "M" if client.male else "V", client.municipality, _dmy(start), _dmy(end), "OVR",
            DESCRIPTIONS["OVR"], "", _BENEFIT_NUMBERS * 2 + client.number, SPECIAL_ASSISTANCE,
        )
    )  # fmt: skip


_FAULT_LIST = {"unknown": "unknown_code_lines", "bsn": "bad_bsn_lines", "date": "bad_date_lines"}


def _local_code(bus: str, rng: random.Random, historic_share: float) -> str:
    if bus in HISTORIC_LOCAL and rng.random() < historic_share:
        return HISTORIC_LOCAL[bus]
    options = LOCAL_CODES[bus]
    if len(options) == 1:
        return options[0][0]
    return rng.choices([code for code, _ in options], [w for _, w in options])[0]


def _dmy(day: date, _cache: dict[date, str] = {}) -> str:  # noqa: B006 -- a deliberate memo
    # Exports repeat dates; formatting each distinct one once saves a tenth of the run time.
    try:
        return _cache[day]
    except KeyError:
        if len(_cache) > 100_000:
            _cache.clear()
        text = _cache[day] = f"{day.day:02d}-{day.month:02d}-{day.year}"
        return text


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m fiptrial_brabantse_wal.synthetic",
        description="Write a synthetic ISD Brabantse Wal client export (never real data).",
    )
    parser.add_argument("out", help="file to write ('-' for standard output)")
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=2014)
    parser.add_argument("--reference-date", type=date.fromisoformat, default=date(2026, 2, 1))
    parser.add_argument("--exit-share", type=float, default=0.16)
    parser.add_argument("--within-site-move-share", type=float, default=0.35)
    parser.add_argument("--historic-share", type=float, default=0.02)
    parser.add_argument("--partner-share", type=float, default=0.1)
    parser.add_argument("--special-assistance", type=int, default=0)
    parser.add_argument("--unknown-codes", type=int, default=0)
    parser.add_argument("--bad-bsns", type=int, default=0)
    parser.add_argument("--bad-dates", type=int, default=0)
    parser.add_argument("--encoding", choices=("cp1252", "utf-8-sig"), default="cp1252")
    args = parser.parse_args(argv)
    target: BinaryIO | str = sys.stdout.buffer if args.out == "-" else args.out
    summary = write_export(
        target,
        args.rows,
        seed=args.seed,
        reference_date=args.reference_date,
        exit_share=args.exit_share,
        within_site_move_share=args.within_site_move_share,
        historic_share=args.historic_share,
        partner_share=args.partner_share,
        special_assistance=args.special_assistance,
        unknown_codes=args.unknown_codes,
        bad_bsns=args.bad_bsns,
        bad_dates=args.bad_dates,
        encoding=args.encoding,
    )
    print(json.dumps(summary.as_dict(), indent=2), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
