"""The demo's simulated world: each site's clients and their benefit histories, in memory.

Nothing here touches the database. The platform only ever sees this world through the sites'
monthly exports (:mod:`fiptrial.demo.exports`), exactly as it would see a municipality.

The model, per benefit spell of a client:

- leaving for the *primary outcome* (work, own business, other income, a relationship, study)
  has a constant daily hazard: the site's base rate, lower for long benefit durations and
  older clients; under FIP, from the day of allocation, it is multiplied by the site's true
  hazard ratio and the client manager's own factor (client managers differ in effect);
- a *competing* end (death, detention, a move out of the site or abroad, an administrative
  end, and at Brabantse Wal a move to another member municipality) has a hazard of its own that
  FIP does not change; the state pension age (AOW) of the client or their partner ends the
  benefit with BUS 03;
- after work the client comes back with probability ``REENTRY_AFTER_PRIMARY`` (a new spell,
  40 to 400 days later), after an administrative end with ``REENTRY_AFTER_ADMINISTRATIVE``; a
  move inside the site continues the benefit in the new municipality a few days later.

Every random number a client's history needs is drawn from streams of the client's own
(seeded by the demo's seed, the site and the client's number, one stream per spell), in the
same order whatever the arm: the histories under FIP and under control share them (common
random numbers), so the demo knows each participant's outcome under both arms and with it the
true effect of any estimand on its own participants (:func:`true_risk_difference`).
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from functools import cached_property

from dateutil.relativedelta import relativedelta

from fiptrial.services.pension import pension_age_date

DAYS_PER_YEAR = 365.25

#: Primary-outcome end codes (BUS kenmerk 34) with the pilot's relative frequencies (Table 4.1).
PRIMARY_CODES = {"01": 2, "02": 31, "11": 28, "13": 11, "14": 3, "15": 2, "18": 2, "19": 40}
#: Competing and administrative end codes; "32i" is a move to another member municipality.
COMPETING_CODES = {"04": 11, "05": 11, "32": 30, "33": 16, "31": 38, "34": 4, "35": 2,
                   "97": 14, "98": 27}  # fmt: skip
ADMINISTRATIVE = frozenset({"31", "34", "35", "97", "98"})
#: Yearly hazard of a competing end (all codes together), and of a move inside the site.
COMPETING_RATE = 0.055
INSIDE_MOVE_RATE = 0.03
REENTRY_AFTER_PRIMARY = 0.2
REENTRY_AFTER_ADMINISTRATIVE = 0.35
#: Share of ends first exported with a wrong end date (corrected in the next export), and with
#: a local code the site's mapping does not know (held back by the import).
CORRECTED_SHARE = 0.05
HELD_BACK_SHARE = 0.02
#: Share of moves inside the site that the export shows without the new municipality.
MOVES_WITHOUT_CODE = 0.6
PARTNER_SHARE = 0.07
INFLOW_PER_MONTH = 0.012  # new benefits a month, as a share of the joining caseload

EDUCATION_WEIGHTS = {  # Table 3.2, control group
    "unknown": 535, "no_primary": 125, "primary": 316, "vbo_vmbo": 461, "mbo_havo_vwo": 146,
    "hbo": 35, "wo": 7,
}  # fmt: skip
REGION_WEIGHTS = {  # Table 3.3, control group
    "netherlands": 984, "europe": 198, "middle_east": 63, "asia": 46, "africa": 289,
    "south_america": 43, "oceania": 1, "unknown": 1,
}  # fmt: skip
OUTSIDE = ("GM0599", "GM0363", "GM1674", "GM0716")  # where movers out of a site go


@dataclass(frozen=True)
class SiteDesign:
    """One demo site: who it is, when it joins and how FIP works there (the built-in truth)."""

    code: str
    plugin: str
    name: str
    municipalities: tuple[str, ...]
    joins_month: int  # months after the trial's start
    caseload: int  # clients on benefit when the site joins, at full demo size
    base_rate: float  # control arm: yearly hazard of the primary outcome
    fip_hazard_ratio: float  # the true effect of FIP at this site
    managers: tuple[float, ...]  # per client manager: factor on the FIP hazard ratio
    arm_ratios: dict[str, int] | None = None  # None: the cohort (Brabantse Wal)
    consent_months: int = 0  # months over which consent comes in after joining
    held_code: str = "96"  # a local code the site's mapping does not know

    @property
    def cohort(self) -> bool:
        return self.arm_ratios is None


SITES: tuple[SiteDesign, ...] = (
    SiteDesign("brabantse_wal", "brabantse_wal", "ISD Brabantse Wal",
               ("GM0748", "GM0851", "GM0873"), 0, 2000, 0.10, 2.0, (1.25, 0.8), None, 0, "XYZ"),
    SiteDesign("breda", "template", "Gemeente Breda (demo)", ("GM0758",), 5, 400, 0.26, 1.5,
               (1.2, 0.85), {"fip": 1, "control": 1}, 6),
    SiteDesign("tilburg", "template", "Gemeente Tilburg (demo)", ("GM0855",), 10, 350, 0.09,
               2.2, (1.15, 0.9), {"fip": 1, "control": 2}, 6),
    SiteDesign("eindhoven", "template", "Gemeente Eindhoven (demo)", ("GM0772",), 16, 300,
               0.08, 1.2, (1.0,), {"fip": 1, "control": 3}, 6),
)  # fmt: skip


@dataclass(frozen=True)
class Spell:
    """One benefit spell as it really went; ``end`` is None while it runs."""

    start: date
    municipality: str
    end: date | None = None
    code: str | None = None  # BUS code of the end
    inside_move_to: str | None = None  # a move inside the site: the new member municipality
    first_reported_end: date | None = None  # the wrong date of the first export that shows it
    first_reported_held: bool = False  # the first export that shows the end gives an unknown code


@dataclass(frozen=True)
class Client:
    """A made-up client of a site; partners share a benefit number (and its spells)."""

    site: str
    number: int
    bsn: str
    birth: date
    male: bool
    municipality: str
    benefit_start: date
    benefit_number: int
    education: str
    region: str
    partner_of: int | None = None  # the number of the client whose benefit this one shares
    partner_birth: date | None = None  # the other partner's birth date (their AOW ends it)

    @cached_property
    def aow(self) -> date:
        own = pension_age_date(self.birth)
        other = pension_age_date(self.partner_birth) if self.partner_birth else own
        return min(own, other)


@dataclass(frozen=True)
class Treatment:
    """What the platform did with a participant: FIP from ``since`` with a manager's factor."""

    since: date
    hazard_ratio: float


def synthetic_bsns(rng: random.Random) -> Iterator[str]:
    """Distinct random 9-digit numbers passing the elfproef (weights 9..2 and -1)."""
    seen: set[str] = set()
    while True:
        digits = [rng.randrange(10) for _ in range(8)]
        if digits[0] == 0:
            continue
        check = sum(w * d for w, d in zip(range(9, 1, -1), digits, strict=True)) % 11
        bsn = "".join(map(str, digits)) + str(check)
        if check < 10 and bsn not in seen:
            seen.add(bsn)
            yield bsn


@dataclass
class SiteWorld:
    """The clients of one site, with their histories under the treatment the platform gave."""

    design: SiteDesign
    seed: int
    joins_on: date
    clients: list[Client] = field(default_factory=list)

    def stream(self, *parts: object) -> random.Random:
        return random.Random("/".join(map(str, (self.seed, self.design.code, *parts))))

    def history(self, client: Client, until: date, treatment: Treatment | None) -> list[Spell]:
        """The client's spells up to ``until``, under ``treatment`` (None: no FIP)."""
        main = client if client.partner_of is None else self.clients[client.partner_of - 1]
        if main is not client:
            return self.history(main, until, treatment)
        spells: list[Spell] = []
        start, municipality = client.benefit_start, client.municipality
        while True:
            spell, resumes = self._spell(
                client, len(spells) + 1, start, municipality, until, treatment
            )
            spells.append(spell)
            if resumes is None or resumes[0] > until:
                return spells
            start, municipality = resumes

    def _spell(
        self,
        client: Client,
        number: int,
        start: date,
        municipality: str,
        until: date,
        treatment: Treatment | None,
    ) -> tuple[Spell, tuple[date, str] | None]:
        rng = self.stream(client.number, number)
        primary_draw, competing_draw, inside_draw = (rng.expovariate(1.0) for _ in range(3))
        kind, again, gap, wrong, held = (rng.random() for _ in range(5))
        # The caseload is on benefit when the site joins: its clocks start then.
        clock = max(start, self.joins_on)
        years_on = (clock - client.benefit_start).days / DAYS_PER_YEAR
        age = (clock - client.birth).days / DAYS_PER_YEAR
        base = -math.log(1 - self.design.base_rate) / DAYS_PER_YEAR
        base *= min(2.0, max(0.4, math.exp(-0.12 * (years_on - 4) - 0.02 * (age - 44))))
        primary_days = _days_to(primary_draw, clock, base, treatment)
        competing_days = competing_draw / (COMPETING_RATE / DAYS_PER_YEAR)
        members = [m for m in self.design.municipalities if m != municipality]
        inside_days = inside_draw / (INSIDE_MOVE_RATE / DAYS_PER_YEAR) if members else math.inf
        aow_days = (client.aow - clock).days
        days = min(primary_days, competing_days, inside_days, aow_days)
        end = clock + timedelta(days=max(1, int(days)))
        if end > until:
            return Spell(start, municipality), None
        reported = end - timedelta(days=3 + int(gap * 20)) if wrong < CORRECTED_SHARE else None
        if days == aow_days:
            return Spell(
                start, municipality, end, "03", None, reported, held < HELD_BACK_SHARE
            ), None
        if days == inside_days:
            target = members[int(kind * len(members))]
            moved = Spell(start, municipality, end, "32", target, reported, held < HELD_BACK_SHARE)
            return moved, (end + timedelta(days=1 + int(gap * 20)), target)
        codes = PRIMARY_CODES if days == primary_days else COMPETING_CODES
        code = _pick(codes, kind)
        spell = Spell(start, municipality, end, code, None, reported, held < HELD_BACK_SHARE)
        if code in PRIMARY_CODES and again < REENTRY_AFTER_PRIMARY:
            return spell, (end + timedelta(days=40 + int(gap * 360)), municipality)
        if code in ADMINISTRATIVE and again < REENTRY_AFTER_ADMINISTRATIVE:
            return spell, (end + timedelta(days=30 + int(gap * 170)), municipality)
        return spell, None

    def outside_move(self, client: Client, spell: Spell) -> str:
        """Where a client who moved out of the site went (BUS 32 outside the site)."""
        return OUTSIDE[client.number % len(OUTSIDE)]

    def shows_new_municipality(self, client: Client, spell: Spell) -> bool:
        return self.stream(client.number, spell.start, "code").random() >= MOVES_WITHOUT_CODE


def _days_to(draw: float, start: date, base: float, treatment: Treatment | None) -> float:
    """Days until the cumulative primary hazard reaches ``draw``: ``base`` a day, times the
    treatment's hazard ratio from its first day on."""
    if treatment is None or treatment.hazard_ratio == 1.0:
        return draw / base
    before = max(0, (treatment.since - start).days)
    if draw <= base * before:
        return draw / base
    return before + (draw - base * before) / (base * treatment.hazard_ratio)


def _pick(weights: dict[str, int], u: float) -> str:
    codes = list(weights)
    cumulative = list(itertools.accumulate(weights.values()))
    return codes[bisect.bisect(cumulative, u * cumulative[-1])]


def build_site(design: SiteDesign, *, seed: int, trial_start: date, scale: float) -> SiteWorld:
    """The clients of a site: its caseload on the day it joins, and the new benefits after."""
    joins_on = trial_start + relativedelta(months=design.joins_month)
    world = SiteWorld(design, seed, joins_on)
    rng = world.stream("clients")
    bsns = synthetic_bsns(world.stream("bsn"))
    education, regions = list(EDUCATION_WEIGHTS), list(REGION_WEIGHTS)
    caseload = max(4, round(design.caseload * scale))
    inflow_months = 40 - design.joins_month
    inflow = [
        joins_on + relativedelta(months=month, days=rng.randrange(28))
        for month in range(inflow_months)
        for _ in range(_poisson(rng, caseload * INFLOW_PER_MONTH))
    ]
    for index in range(caseload + len(inflow)):
        number = len(world.clients) + 1
        new = index >= caseload
        age_years = min(max(rng.gauss(44.0, 11.0), 18.5), 68.0)
        on = inflow[index - caseload] if new else joins_on
        birth = on - timedelta(days=int(age_years * DAYS_PER_YEAR))
        months = 0.0 if new else 6 + rng.expovariate(1 / 48)
        start = max(on - timedelta(days=int(months * 30.44)), birth + timedelta(days=6600))
        client = Client(
            design.code, number, next(bsns), birth, rng.random() < 0.465,
            design.municipalities[min(int(rng.random() ** 1.6 * len(design.municipalities)),
                                      len(design.municipalities) - 1)],
            start, 700_000 + number,
            rng.choices(education, list(EDUCATION_WEIGHTS.values()))[0],
            rng.choices(regions, list(REGION_WEIGHTS.values()))[0],
        )  # fmt: skip
        world.clients.append(client)
        if not new and rng.random() < PARTNER_SHARE:
            older = rng.random() < 0.5
            partner_age = age_years + (rng.uniform(5, 22) if older else rng.uniform(-4, 4))
            partner_birth = on - timedelta(days=int(min(partner_age, 69.0) * DAYS_PER_YEAR))
            world.clients[-1] = client = _with_partner(client, partner_birth)
            world.clients.append(
                Client(
                    design.code, number + 1, next(bsns), partner_birth, not client.male,
                    client.municipality, client.benefit_start, client.benefit_number,
                    rng.choices(education, list(EDUCATION_WEIGHTS.values()))[0], client.region,
                    partner_of=number, partner_birth=client.birth,
                )
            )  # fmt: skip
    return world


def _with_partner(client: Client, partner_birth: date) -> Client:
    return replace(client, partner_birth=partner_birth)


def _poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw by inversion (means here are small)."""
    limit, k, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        k += 1
        product *= rng.random()
    return k


def build_world(
    *, seed: int, trial_start: date, scale: float, sites: Sequence[SiteDesign] = SITES
) -> dict[str, SiteWorld]:
    return {d.code: build_site(d, seed=seed, trial_start=trial_start, scale=scale) for d in sites}
