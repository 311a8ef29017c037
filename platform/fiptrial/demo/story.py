"""Three years of the study, played out month by month through the platform's own services.

``fiptrial demo`` calls :func:`play`. The trial starts on the first of the month three years
before this month. Brabantse Wal joins at the start with its caseload, gives consent and is
randomised as one cohort (360 FIP places for two client managers, at full size); three
template-plugin sites join later, staggered, and randomise each client by permuted blocks when
their consent comes in, each with its own allocation ratio. Every month each site's export is
written in its plugin's own format and imported through the real import path (outcomes, then
enrolment of new clients), the client managers record the month's conversations, a few clients
withdraw consent, and the scheduler's jobs run for the days they would have run on (follow-up
rounds, overdue checks, a data freeze after each follow-up year).

The clock is never faked. Every past fact goes in through the same service as a fact of today,
with an explicit date the service checks (``registered_on`` through ``received_at``, ``on``,
``allocated_at``, ``frozen_at``, a conversation's date, a job's day); the audit entries are
stamped with the real time of recording, so the audit chain, the randomisation verification
and the freezes verify on the result. The latest complete month is left for the newcomer:
``fiptrial demo-export`` writes it (see :mod:`fiptrial.demo.exports`).
"""

from __future__ import annotations

import math
import random
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from dateutil.relativedelta import relativedelta
from sqlalchemy import select

from fiptrial.demo.exports import DEMO_CREATED, SiteExporter
from fiptrial.demo.records import record_conversations
from fiptrial.demo.trial import DEMO_ACTOR, create_demo_trial
from fiptrial.demo.world import SITES, SiteDesign, build_world
from fiptrial.extensions import db
from fiptrial.models import (
    Allocation,
    ConversationRecord,
    ImportBatch,
    Participant,
    Site,
    Trial,
)
from fiptrial.scheduler import jobs
from fiptrial.services import (
    analysis_plans,
    audit,
    caseload,
    consent,
    imports,
    planning,
    randomisation,
    trials,
)
from fiptrial.services.transaction import batch, unit_of_work
from fiptrial.services.users import create_demo_users
from fiptrial.timezone import TRIAL_TIMEZONE, local_today

COORDINATOR = "demo:coordinator"
FULL_SIZE = 2000  # Brabantse Wal's caseload at the start, as in the pilot
BRABANTSE_WAL_PLACES = 180  # per client manager, two of them
CONSENT_GIVEN, CONSENT_DECLINED = 0.86, 0.07  # the rest never answer
WITHDRAWAL_SHARE = 0.012


def at(day: date, hour: int = 10, minute: int = 0) -> datetime:
    """A Dutch working hour of ``day`` as an aware timestamp."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=TRIAL_TIMEZONE)


def trial_start(today: date) -> date:
    """The first of the month three years before this month."""
    return today.replace(day=1) - relativedelta(years=3)


@dataclass
class SiteRun:
    design: SiteDesign
    site: Site
    exporter: SiteExporter
    joined: bool = False
    consent_plan: dict[int, tuple[str, date]] = field(default_factory=dict)  # pid -> answer
    withdrawals: dict[int, date] = field(default_factory=dict)
    agreements: dict[int, list[int]] = field(default_factory=dict)  # pid -> open agreements
    interventions: dict[int, list[int]] = field(default_factory=dict)  # pid -> running


@dataclass
class Timings:
    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    def add(self, what: str, since: float) -> float:
        now = time.perf_counter()
        self.seconds[what] += now - since
        return now


def play(*, participants: int = FULL_SIZE, seed: int = 2014) -> dict[str, Any]:
    """Create the demo trial and play its three years; returns a summary with counts."""
    today = local_today()
    start = trial_start(today)
    scale = participants / FULL_SIZE
    rng = random.Random(f"{seed}/story")
    clock = Timings()
    began = time.perf_counter()
    trial = _create_trial(start)
    worlds = build_world(seed=seed, trial_start=start, scale=scale)
    runs = _create_sites(trial, worlds, scale, today)
    last_month = today.replace(day=1) - relativedelta(months=2)  # the newcomer gets the next
    with unit_of_work():
        audit.record(
            DEMO_CREATED,
            actor=DEMO_ACTOR,
            entity="trial",
            entity_id=trial.id,
            data={
                "seed": seed,
                "participants": participants,
                "scale": scale,
                "start": start.isoformat(),
                "last_month": f"{last_month:%Y-%m}",
                "synthetic": True,
            },
        )
    since = clock.add("setup", began)
    month = start
    while month <= last_month:
        reference = month + relativedelta(months=1)
        for run in runs:
            if run.design.joins_month <= _months(start, month):
                since = _play_month(run, month, reference, rng, clock, since)
        _job("nightly_overdue", reference - timedelta(days=1))  # the month's last night
        since = clock.add("jobs", since)
        anniversary = _anniversary_in(trial, month, reference)
        if anniversary is not None:
            _job(f"data_freeze:{trial.code}", reference + timedelta(days=10))
            since = clock.add("freezes", since)
        month = reference
    # What the scheduler does today (make run keeps doing it): overdue checks, re-planning,
    # the round of the export that has not arrived yet.
    for run in runs:
        _job(f"followup_rounds:{run.site.code}", today)
    _job("nightly_overdue", today)
    _job("aow_watch", today)
    _job(f"data_freeze:{trial.code}", today)  # the follow-up year that just ended
    _randomised_in_error(runs[0], rng)
    clock.add("today's jobs", since)
    summary: dict[str, Any] = {
        "trial": trial.code,
        "synthetic": True,
        "start_date": start.isoformat(),
        "seed": seed,
        "next_export_month": f"{last_month + relativedelta(months=1):%Y-%m}",
        "sites": {run.site.code: _site_counts(run.site) for run in runs},
        "seconds": {k: round(v, 2) for k, v in sorted(clock.seconds.items())},
    }
    return summary


def _job(job_id: str, day: date) -> dict[str, Any]:
    """Run a scheduled job for ``day`` as the scheduler would; a job that failed stops the demo
    (the scheduler records the error and goes on, the demo must not build on it)."""
    result = jobs.run_job(job_id, day)
    if result["outcome"] not in ("ok", "already_done", "skipped"):
        raise RuntimeError(f"job {job_id} for {day}: {result.get('message') or result['outcome']}")
    return result


def _months(start: date, month: date) -> int:
    return (month.year - start.year) * 12 + month.month - start.month


def _anniversary_in(trial: Trial, month: date, reference: date) -> date | None:
    assert trial.start_date is not None
    for year in range(1, trial.followup_years + 1):
        day = trial.start_date + relativedelta(years=year)
        if month < day <= reference:
            return day
    return None


# --- Setting up -------------------------------------------------------------------------------


def _create_trial(start: date) -> Trial:
    trial = create_demo_trial(start)
    # The analysis plan, frozen a week before the first allocation: its defaults.
    analysis_plans.freeze_plan(trial, DEMO_ACTOR, frozen_at=at(start - timedelta(days=7), 12))
    return trial


def _create_sites(trial: Trial, worlds: dict[str, Any], scale: float, today: date) -> list[SiteRun]:
    runs = []
    sites: dict[str, Site] = {}
    for design in SITES:
        spec: dict[str, Any] = {"code": design.code, "plugin": design.plugin, "name": design.name}
        if design.plugin != "brabantse_wal":
            spec["municipalities"] = list(design.municipalities)
        if design.arm_ratios:
            spec["arm_ratios"] = dict(design.arm_ratios)
        sites[design.code] = trials.add_site(trial, spec, actor=DEMO_ACTOR)
    create_demo_users(sites, actor=DEMO_ACTOR)  # web logins; klantmanager is at Brabantse Wal
    for design in SITES:
        site = sites[design.code]
        _client_managers(site, design, scale)
        exporter = SiteExporter(worlds[design.code], site, horizon=today + timedelta(days=62))
        runs.append(SiteRun(design, site, exporter))
    return runs


def _client_managers(site: Site, design: SiteDesign, scale: float) -> None:
    """The site's client managers with their FIP places: Brabantse Wal 2 x 180 (the pilot),
    the template sites enough for their share of FIP with room to spare."""
    if design.cohort:
        places = max(2, round(BRABANTSE_WAL_PLACES * scale))
    else:
        ratios = design.arm_ratios or {}
        share = ratios.get("fip", 1) / sum(ratios.values() or [1])
        expected = design.caseload * scale * 0.8 * CONSENT_GIVEN * share
        places = max(2, math.ceil(expected * 1.5 / len(design.managers)))
    existing = caseload.client_managers(site.id)
    for manager in existing:
        caseload.set_capacity(manager.id, places, actor=DEMO_ACTOR)
    for n in range(len(existing), len(design.managers)):
        caseload.add_client_manager(
            site,
            f"km_{site.code}_{n + 1}",
            capacity=places,
            display_name=f"Demo klantmanager {site.name} {n + 1}",
            actor=DEMO_ACTOR,
        )


# --- One month at one site --------------------------------------------------------------------


def _play_month(
    run: SiteRun, month: date, reference: date, rng: random.Random, clock: Timings, since: float
) -> float:
    site, design = run.site, run.design
    exporter = run.exporter
    if not run.joined:
        # The site's first export: its caseload on the day it joins, enrolled the day after.
        joins_on = month
        since = _import(run, joins_on, "participants", at(joins_on + timedelta(days=1), 9))
        since = clock.add("imports", since)
        exporter.refresh()
        _draw_consent(run, joins_on, rng)
        run.joined = True
    with batch():  # the month's forms and allocations, entered by the coordinator
        _consent_and_allocate(run, month, reference, rng)
    since = clock.add("consent and allocation", since)
    planning.plan_site(site, actor=DEMO_ACTOR, starts_on=site.trial.start_date)
    exporter.refresh()
    since = clock.add("planning", since)
    with batch():  # the month's withdrawals and conversation records
        _withdrawals(run, month, reference)
        record_conversations(run, month, reference, rng)
    since = clock.add("conversations", since)
    _job(f"followup_rounds:{site.code}", reference)
    since = clock.add("jobs", since)
    # The month's export arrives three days into the next month: outcomes, then new clients.
    received = reference + timedelta(days=3)
    _import(run, reference, "outcomes", at(received, 9))
    _import(run, reference, "participants", at(received, 11))
    exporter.refresh()
    del design
    return clock.add("imports", since)


def _import(run: SiteRun, reference: date, kind: str, received_at: datetime) -> float:
    """Write the site's export at ``reference`` in its plugin's format and import it."""
    with tempfile.TemporaryDirectory(prefix="fiptrial-demo-") as folder:
        path = Path(folder) / f"{run.site.code}-{reference:%Y%m}.csv"
        with path.open("wb") as handle:
            run.exporter.write(reference, handle)
        service = imports.import_outcomes if kind == "outcomes" else imports.import_participants
        service(run.site, path, actor=COORDINATOR, received_at=received_at)
    return time.perf_counter()


def _draw_consent(run: SiteRun, joins_on: date, rng: random.Random) -> None:
    """Who answers the consent request and when: at Brabantse Wal in the first two weeks
    (before the cohort), elsewhere spread over the site's first months."""
    eligible = db.session.scalars(
        select(Participant.id)
        .where(Participant.site_id == run.site.id, Participant.eligible.is_(True))
        .order_by(Participant.id)
    ).all()
    spread = 12 if run.design.cohort else run.design.consent_months * 30
    for pid in eligible:
        u = rng.random()
        answer = (
            "given"
            if u < CONSENT_GIVEN
            else "declined"
            if u < CONSENT_GIVEN + CONSENT_DECLINED
            else ""
        )
        day = joins_on + timedelta(days=1 + rng.randrange(spread))
        if answer:
            run.consent_plan[pid] = (answer, day)
        if answer == "given" and rng.random() < WITHDRAWAL_SHARE:
            run.withdrawals[pid] = day + timedelta(days=60 + rng.randrange(700))


def _consent_and_allocate(run: SiteRun, month: date, reference: date, rng: random.Random) -> None:
    """The month's consent forms (one paper batch per day) and the allocations after them."""
    site, version = run.site, f"{site_start(run).year}-1"
    due = sorted(
        (day, pid, answer)
        for pid, (answer, day) in run.consent_plan.items()
        if month <= day < reference
    )
    if not due:
        return
    given: dict[date, list[int]] = defaultdict(list)
    for day, pid, answer in due:
        if answer == "given":
            given[day].append(pid)
        else:
            consent.record(
                db.session.get_one(Participant, pid),
                status="declined",
                version=version,
                on=day,
                actor=COORDINATOR,
            )
    for day, pids in sorted(given.items()):
        consent.record_many(site, pids, version=version, on=day, actor=COORDINATOR)
    if run.design.cohort:
        lottery = month + timedelta(days=14)
        randomisation.allocate_cohort(site.id, actor=COORDINATOR, allocated_at=at(lottery, 11))
        caseload.assign_by_load(site, on=lottery, actor=COORDINATOR)
        return
    moment = at(month, 9)
    for day, pids in sorted(given.items()):
        # A day or two after the form, in the order the forms came in, a minute apart.
        jitter = min(day + timedelta(days=rng.randrange(3)), reference - timedelta(days=1))
        moment = max(moment, at(jitter, 10))
        for pid in pids:
            randomisation.allocate(pid, actor=COORDINATOR, allocated_at=moment)
            moment += timedelta(minutes=1)
    caseload.assign_by_load(site, on=moment.date(), actor=COORDINATOR)


def site_start(run: SiteRun) -> date:
    start = run.site.trial.start_date
    assert start is not None
    return start


def _withdrawals(run: SiteRun, month: date, reference: date) -> None:
    version = f"{site_start(run).year}-1"
    for pid, day in sorted(run.withdrawals.items(), key=lambda item: item[1]):
        if month <= day < reference:
            participant = db.session.get_one(Participant, pid)
            if consent.current_state(participant).status == "given":
                consent.record(
                    participant, status="withdrawn", version=version, on=day, actor=COORDINATOR
                )


# --- The end ----------------------------------------------------------------------------------


def _randomised_in_error(run: SiteRun, rng: random.Random) -> None:
    """One control allocation at Brabantse Wal found to be a duplicate registration: marked
    randomised in error by the research admin (the CONSORT diagram's exclusion)."""
    ids = db.session.scalars(
        select(Allocation.id)
        .where(Allocation.site_id == run.site.id, Allocation.arm == "control")
        .order_by(Allocation.id)
    ).all()
    if ids:
        randomisation.correct_allocation(
            rng.choice(ids),
            kind="randomised_in_error",
            reason="client registered twice under two numbers (demo)",
            actor="user:admin",
        )


def _site_counts(site: Site) -> dict[str, int]:
    def count(model: Any, **where: Any) -> int:
        return db.session.query(model).filter_by(site_id=site.id, **where).count()

    return {
        "registered": count(Participant),
        "eligible": count(Participant, eligible=True),
        "fip": count(Allocation, arm="fip"),
        "control": count(Allocation, arm="control"),
        "import_batches": count(ImportBatch),
        "conversations": count(ConversationRecord),
    }
