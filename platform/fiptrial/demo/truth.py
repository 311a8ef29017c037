"""The demo's built-in truth: what FIP really did to the demo's own participants.

The world (:mod:`fiptrial.demo.world`) knows every participant's history under both arms, so
the true effect of an estimand on the demo's sample needs no model: compute the outcome under
FIP and under control for each participant and average the difference. A site-stratified
Mantel-Haenszel risk difference estimates the mean of the sites' risk differences weighted
``n_fip * n_control / n``; the truth is the same weighted mean of the sites' *sample* effects.

Two estimands: :func:`true_sustained_exit_difference`, the analysis plan's primary (a
sustained exit for a primary-outcome reason confirmed by the horizon, among participants
whose horizon has passed inside follow-up and before their AOW date), and
:func:`true_risk_difference`, the earlier report's (a net exit by the end of follow-up). The
world's histories are cut where the platform's knowledge ends (the last day the imported
exports can show), so the truth is about the same observations as the estimate.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from dateutil.relativedelta import relativedelta

from fiptrial.demo.exports import SiteExporter, demo_parameters
from fiptrial.demo.world import SiteWorld, Spell, Treatment, build_world
from fiptrial.extensions import db
from fiptrial.models import ImportBatch, Site, Trial
from fiptrial.services.analysis_plans import current_plan
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


NEVER = 10**9


def sustained_primary(
    spells: list[Spell],
    allocated_on: date,
    followup_end: date,
    known_until: date,
    outcome_days: int,
    horizon_days: int,
    sustained_days: int,
    classes: dict[str, str],
) -> bool:
    """A sustained primary exit confirmed by the horizon (the rules of
    ``fiptrial_analysis.outcomes``), on the spells in follow-up as the platform knows them."""
    last = min(followup_end, known_until)
    days: list[tuple[int, int | None, str | None]] = []
    for start, stop, code in merged(spells):
        if start > last or (stop is not None and stop < allocated_on):
            continue
        if stop is not None and stop > last:
            stop, code = None, None
        end = None if stop is None else (stop - allocated_on).days
        days.append(((start - allocated_on).days, end, code))
    for index, (_start, end, code) in enumerate(days):
        if end is None or code is None:
            continue
        after = days[index + 1][0] if index + 1 < len(days) else NEVER
        if after - end > sustained_days and end + sustained_days <= outcome_days:
            return classes.get(code) == "primary" and end + sustained_days <= horizon_days
    return False


def _add_months(day: date, months: int) -> date:
    return day + relativedelta(months=months)


def true_sustained_exit_difference(trial: Trial, cutoff: date | None = None) -> dict[str, Any]:
    """The true site-stratified risk difference of the plan's primary outcome at its first
    horizon."""
    plan = current_plan(trial)
    months = plan.horizons_months[0]
    classes = plan.class_of()

    def outcome_of(row: dict[str, Any], spells: list[Spell], seen: date) -> bool | None:
        start = row["allocated_on"]
        follow = (row["followup_end"] - start).days
        aow = row.get("aow_days_from_allocation")
        outcome_days = follow if aow is None else min(follow, max(int(aow), 0))
        horizon = (_add_months(start, months) - start).days
        if outcome_days < horizon:
            return None  # the horizon has not passed: not in the analysis
        return sustained_primary(spells, start, row["followup_end"], seen, outcome_days,
                                 horizon, int(plan.sustained_exit_days), classes)  # fmt: skip

    result = _weighted(trial, cutoff, outcome_of)
    result["horizon_months"] = months
    return result


def true_risk_difference(trial: Trial, cutoff: date | None = None) -> dict[str, Any]:
    """The true site-stratified risk difference of a net exit by the end of follow-up."""

    def outcome_of(row: dict[str, Any], spells: list[Spell], seen: date) -> bool | None:
        end = min(row["followup_end"], seen)
        return outcome(spells, row["allocated_on"], end).exited

    def excluded(row: dict[str, Any], spells: list[Spell], seen: date) -> bool:
        return outcome(spells, row["allocated_on"], min(row["followup_end"], seen)).pension

    return _weighted(trial, cutoff, outcome_of, excluded)


def _weighted(
    trial: Trial,
    cutoff: date | None,
    outcome_of: Any,
    excluded: Any = None,
) -> dict[str, Any]:
    """Outcome under both arms per participant, then the MH-weighted mean of site effects.
    ``excluded(row, observed spells, seen)`` leaves a participant out (the net population)."""
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
        start = row["allocated_on"]
        actual = exporter.treatment_of(number)
        if row["arm"] == "fip":
            fip = actual or Treatment(start, design.fip_hazard_ratio)
        else:
            factor = design.managers[number % len(design.managers)]
            fip = Treatment(start, design.fip_hazard_ratio * factor)
        histories = {
            "fip": exporter.history(number, fip),
            "control": exporter.history(number, None),
        }
        if excluded is not None and excluded(row, histories[row["arm"]], seen[code]):
            continue  # the report's net population leaves pension-age exits out
        under_fip = outcome_of(row, histories["fip"], seen[code])
        under_control = outcome_of(row, histories["control"], seen[code])
        if under_fip is None or under_control is None:
            continue
        cells[code]["effect"].append(float(under_fip) - float(under_control))
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
