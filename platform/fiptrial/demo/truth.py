"""The demo's built-in truth: what FIP really did to the demo's own participants.

The world (:mod:`fiptrial.demo.world`) knows every participant's history under both arms, so
the true effect of an estimand on the demo's sample needs no model: compute the outcome under
FIP and under control for each participant and average the difference. For the report's
primary analysis today (issue 4: a net exit by the end of follow-up, site-stratified
Mantel-Haenszel risk difference) the truth is the Mantel-Haenszel-weighted mean of the sites'
sample risk differences, each site weighted ``n_fip * n_control / n`` as the estimator weights
it. The test of the demo checks that the report's interval holds it.

When the analysis plan (issue 14) changes the primary estimand, add its outcome function here
(a sustained exit by a horizon is a different ``exited`` below) and point the test at it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from fiptrial.demo.exports import SiteExporter, demo_parameters
from fiptrial.demo.world import SiteWorld, Spell, Treatment, build_world
from fiptrial.extensions import db
from fiptrial.models import ImportBatch, Site, Trial
from fiptrial.services.exports import build_export
from fiptrial.timezone import local_date, local_today


@dataclass(frozen=True)
class Outcome:
    exited: bool  # the benefit ended (not for pension age) within the observed follow-up
    pension: bool  # the first end in follow-up was the state pension age


def merged(spells: list[Spell]) -> list[tuple[date, date | None, str | None]]:
    """Spells as the platform derives them: a move inside the site continues the spell."""
    out: list[tuple[date, date | None, str | None]] = []
    chain_start: date | None = None
    for spell in spells:
        chain_start = chain_start or spell.start
        if spell.inside_move_to and spell.end is not None:
            continue
        out.append((chain_start, spell.end, spell.code))
        chain_start = None
    return out


def outcome(spells: list[Spell], allocated_on: date, end: date) -> Outcome:
    """The first spell overlapping follow-up ``[allocated_on, end]``: did it end by ``end``?"""
    for start, stop, code in merged(spells):
        if start > end:
            break
        if stop is not None and stop < allocated_on:
            continue
        if stop is None or stop > end:
            return Outcome(False, False)
        return Outcome(code != "03", code == "03")
    return Outcome(False, False)


def observed_until(site: Site) -> date:
    """The last day the site's imported exports can show: the day before the reference date
    of its latest outcome export (exports arrive three days into the month after)."""
    latest = (
        db.session.query(db.func.max(ImportBatch.created_at))
        .filter_by(site_id=site.id, kind="outcomes")
        .scalar()
    )
    if latest is None:
        return date.min
    return local_date(latest).replace(day=1) - timedelta(days=1)


def true_risk_difference(trial: Trial, cutoff: date | None = None) -> dict[str, Any]:
    """The true site-stratified risk difference of a net exit by the end of follow-up."""
    params = demo_parameters(trial)
    worlds: dict[str, SiteWorld] = build_world(
        seed=int(params["seed"]),
        trial_start=date.fromisoformat(params["start"]),
        scale=float(params["scale"]),
    )
    export = build_export(trial, cutoff)
    horizon = local_today() + timedelta(days=62)
    exporters: dict[str, SiteExporter] = {}
    numbers: dict[str, dict[int, int]] = {}
    seen: dict[str, date] = {}
    for site in trial.sites:
        exporter = exporters[site.code] = SiteExporter(worlds[site.code], site, horizon)
        exporter.refresh()
        numbers[site.code] = {pid: n for n, pid in exporter.state.participants.items()}
        seen[site.code] = observed_until(site)
    cells: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for row in export.rows:
        code = row["site"]
        exporter, number = exporters[code], numbers[code][row["participant"]]
        design = exporter.world.design
        start, end = row["allocated_on"], min(row["followup_end"], seen[code])
        actual = exporter.treatment_of(number)
        if row["arm"] == "fip":
            fip = actual or Treatment(start, design.fip_hazard_ratio)
        else:
            factor = design.managers[number % len(design.managers)]
            fip = Treatment(start, design.fip_hazard_ratio * factor)
        under_fip = outcome(exporter.history(number, fip), start, end)
        under_control = outcome(exporter.history(number, None), start, end)
        observed = under_fip if row["arm"] == "fip" else under_control
        if observed.pension:
            continue  # the report's net population leaves pension-age exits out
        cells[code]["effect"].append(float(under_fip.exited) - float(under_control.exited))
        cells[code][row["arm"]].append(1.0)
    weighted = total = 0.0
    per_site = {}
    for code, cell in cells.items():
        n1, n0 = len(cell["fip"]), len(cell["control"])
        if not n1 or not n0:
            continue
        effect = sum(cell["effect"]) / len(cell["effect"])
        weight = n1 * n0 / (n1 + n0)
        per_site[code] = {"risk_difference": effect, "weight": weight}
        weighted += weight * effect
        total += weight
    return {"risk_difference": weighted / total if total else None, "sites": per_site}
