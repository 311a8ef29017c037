"""The demo sites' monthly exports, written in each plugin's own format.

An export at reference date R (the first of a month) shows, per client, every benefit spell that
started before R and is still running or ended in the two months before R -- so each end is
exported twice, as municipal exports repeat last month's ends. The first export that shows an
end may give a wrong date (corrected in the next one) or a local code the site's mapping does not
know (held back by the import); a move inside the site may come without the new municipality.

:func:`demo_export` writes the export of one month for the demo's own participants: what
``fiptrial demo-export`` calls, so that a newcomer can upload next month's file and watch the
report change.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import IO, Any

from dateutil.relativedelta import relativedelta
from sqlalchemy import select

from fiptrial.demo.world import SiteWorld, Spell, Treatment, build_world
from fiptrial.errors import NotFound, Unprocessable, field_error
from fiptrial.extensions import db
from fiptrial.models import (
    Allocation,
    AuditEntry,
    CaseloadAssignment,
    ImportBatch,
    Participant,
    Site,
    Trial,
)
from fiptrial.plugins.manager import SitePlugin
from fiptrial.plugins.rows import ExportRow
from fiptrial.services.imports.common import site_plugin
from fiptrial.services.pseudonyms import pseudonymiser, trial_key
from fiptrial.timezone import local_date, local_today

SHOWN_DAYS = 62  # an end stays in the exports this long
FIRST_SHOWING_DAYS = 31  # the export that first shows an end: reference within a month of it


def local_codes(plugin: SitePlugin) -> dict[str, str]:
    """The site's own code for each shared BUS code: the first row of its table mapping to it."""
    codes: dict[str, str] = {}
    for entry in plugin.mapping.entries:
        if entry.action == "map" and entry.bus_code and not entry.historic_codes:
            codes.setdefault(entry.bus_code, entry.local_code)
    return codes


@dataclass
class SiteState:
    """What the platform has done with a site's clients so far (read from its tables)."""

    participants: dict[int, int] = field(default_factory=dict)  # client number -> participant
    treatments: dict[int, Treatment | None] = field(default_factory=dict)  # by client number


class SiteExporter:
    """Writes one demo site's exports; remembers each client's history under its treatment."""

    def __init__(self, world: SiteWorld, site: Site, horizon: date) -> None:
        self.world = world
        self.site = site
        self.plugin = site_plugin(site)
        self.codes = local_codes(self.plugin)
        self.horizon = horizon
        self.histories: dict[tuple[int, Treatment | None], list[Spell]] = {}
        self.state = SiteState()
        self.pseudonym = pseudonymiser(trial_key(site.trial.code))
        self.pseudonyms: dict[int, str] = {}

    def history(self, number: int, treatment: Treatment | None) -> list[Spell]:
        key = (number, treatment)
        spells = self.histories.get(key)
        if spells is None:
            client = self.world.clients[number - 1]
            spells = self.histories[key] = self.world.history(client, self.horizon, treatment)
        return spells

    def unit_members(self, number: int) -> tuple[int, ...]:
        """The client numbers on the client's benefit (partners share one)."""
        clients = self.world.clients
        partner_of = clients[number - 1].partner_of
        if partner_of is not None:
            return (partner_of, number)
        if number < len(clients) and clients[number].partner_of == number:
            return (number, number + 1)
        return (number,)

    def treatment_of(self, number: int) -> Treatment | None:
        """The treatment of the client's benefit unit (partners share one benefit)."""
        for member in self.unit_members(number):
            treatment = self.state.treatments.get(member)
            if treatment is not None:
                return treatment
        return None

    def refresh(self) -> None:
        """Read the participants, arms, allocation days and managers of the site."""
        design = self.world.design
        by_pseudonym = dict(
            db.session.execute(
                select(Participant.pseudonym, Participant.id).where(
                    Participant.site_id == self.site.id
                )
            ).all()
        )
        allocated = {
            pid: (arm, at)
            for pid, arm, at in db.session.execute(
                select(Allocation.participant_id, Allocation.arm, Allocation.allocated_at).where(
                    Allocation.site_id == self.site.id
                )
            )
        }
        managers = dict(
            db.session.execute(
                select(CaseloadAssignment.participant_id, CaseloadAssignment.client_manager_id)
                .where(CaseloadAssignment.site_id == self.site.id)
                .order_by(CaseloadAssignment.id)
            ).all()
        )
        manager_rank = {m: i for i, m in enumerate(sorted(set(managers.values())))}
        for client in self.world.clients:
            pid = self.state.participants.get(client.number)
            if pid is None:
                pseudonym = self.pseudonyms.get(client.number)
                if pseudonym is None:
                    pseudonym = self.pseudonyms[client.number] = self.pseudonym(client.bsn)
                pid = by_pseudonym.get(pseudonym)
                if pid is None:
                    continue
                self.state.participants[client.number] = pid
            arm_at = allocated.get(pid)
            if arm_at is None or arm_at[0] != "fip":
                self.state.treatments[client.number] = None
                continue
            rank = manager_rank.get(managers.get(pid, -1))
            factor = design.managers[rank % len(design.managers)] if rank is not None else 1.0
            self.state.treatments[client.number] = Treatment(
                local_date(arm_at[1]), design.fip_hazard_ratio * factor
            )

    def rows(self, reference: date) -> Iterator[ExportRow]:
        """The export's rows at ``reference`` (see the module docstring)."""
        world = self.world
        for client in world.clients:
            if client.benefit_start >= reference:
                continue
            for spell in self.history(client.number, self.treatment_of(client.number)):
                if spell.start >= reference:
                    break
                row = self._row(client, spell, reference)
                if row is not None:
                    yield row

    def _row(self, client: Any, spell: Spell, reference: date) -> ExportRow | None:
        end, local, new = spell.end, None, None
        if end is not None and end >= reference:
            end = None
        elif end is not None:
            age = (reference - end).days
            if age > SHOWN_DAYS:
                return None
            assert spell.code is not None
            first = age <= FIRST_SHOWING_DAYS
            if first and spell.first_reported_end and spell.first_reported_end > spell.start:
                end = spell.first_reported_end
            local = self.codes[spell.code]
            if first and spell.first_reported_held:
                local = self.world.design.held_code
            if spell.inside_move_to:
                shown = self.world.shows_new_municipality(client, spell)
                new = spell.inside_move_to if shown else None
            elif spell.code == "32":
                new = self.world.outside_move(client, spell)
        return ExportRow(
            0, client.bsn, client.birth, "male" if client.male else "female",
            spell.municipality, spell.start, end, local, new,
            unit_key=str(client.benefit_number), statistic_code="01",
            client_number=str(100000 + client.number),
        )  # fmt: skip

    def write(self, reference: date, out: IO[bytes]) -> int:
        return self.plugin.write_export(self.rows(reference), out)


# --- fiptrial demo-export -----------------------------------------------------------------------

DEMO_CREATED = "demo.created"


def demo_parameters(trial: Trial) -> dict[str, Any]:
    """The seed, size and start of the demo (from its audit entry), to rebuild its world."""
    entry = (
        db.session.query(AuditEntry)
        .filter_by(action=DEMO_CREATED, entity="trial", entity_id=str(trial.id))
        .order_by(AuditEntry.id.desc())
        .first()
    )
    if entry is None:
        raise NotFound(f"trial {trial.code} was not made by fiptrial demo", code="not_a_demo_trial")
    return dict(json.loads(entry.data))


def month_start(text: str) -> date:
    try:
        year, month = (int(part) for part in text.split("-"))
        return date(year, month, 1)
    except ValueError:
        raise field_error("month", "must be a month as YYYY-MM", code="month_invalid") from None


def demo_export(trial: Trial, site_code: str, month: str | None, out: Path) -> dict[str, Any]:
    """Write the export of ``month`` (default: the first month not imported yet) of a demo site
    for its own participants. The month must have begun; a month still running is exported as
    it stands today (its reference date is tomorrow)."""
    params = demo_parameters(trial)
    site = db.session.query(Site).filter_by(trial_id=trial.id, code=site_code).one_or_none()
    if site is None:
        raise NotFound(f"the demo has no site {site_code}", code="site_unknown")
    start = date.fromisoformat(params["start"])
    if month is None:  # the month after the latest export the site imported
        latest = db.session.scalar(
            select(db.func.max(ImportBatch.created_at)).where(
                ImportBatch.site_id == site.id, ImportBatch.kind == "outcomes"
            )
        )
        begin = (local_date(latest) if latest else start).replace(day=1)
    else:
        begin = month_start(month)
    today = local_today()
    if begin > today or begin < start:
        raise field_error(
            "month", "must lie between the trial's start and this month", code="month_out_of_range"
        )
    reference = min(begin + relativedelta(months=1), today + timedelta(days=1))
    worlds = build_world(seed=int(params["seed"]), trial_start=start, scale=float(params["scale"]))
    world = worlds.get(site_code)
    if world is None:
        raise Unprocessable(f"site {site_code} is not a demo site", code="site_unknown")
    exporter = SiteExporter(world, site, horizon=today + timedelta(days=62))
    exporter.refresh()
    with out.open("wb") as handle:
        rows = exporter.write(reference, handle)
    return {
        "site": site_code,
        "month": f"{begin:%Y-%m}",
        "reference_date": reference.isoformat(),
        "rows": rows,
        "file": str(out),
        "synthetic": True,
    }
