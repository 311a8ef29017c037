"""The client managers' records of the month's conversations in the demo (see
:mod:`fiptrial.demo.story`): each goes in through ``conversations.record`` with its own date,
checked by the service as any record entered today; the story runs a site's month of them as
one batch (``services.transaction.batch``), each record still its own unit.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from fiptrial.errors import Conflict
from fiptrial.extensions import db
from fiptrial.models import Agreement, Intervention, Participant, PlannedConversation, User
from fiptrial.models.conversations import OPEN_STATUSES
from fiptrial.services import conversations
from fiptrial.timezone import local_today

if TYPE_CHECKING:
    from fiptrial.demo.story import SiteRun

HELD_ON_TIME, MISSED = 0.86, 0.08  # of the conversations of clients still on benefit
LIFE_DOMAINS = ("housing", "finances", "social_relations", "health", "work_activity", "meaning")
SMALL_INTERVENTIONS = ("volunteering", "financial")
LARGE_INTERVENTIONS = ("reintegration_activation", "health", "support_services")


def _on_benefit(run: SiteRun, number: int, day: date) -> bool:
    """Is the client on benefit on ``day`` in the simulated world (FIP ends with it)?"""
    exporter = run.exporter
    for spell in exporter.history(number, exporter.treatment_of(number)):
        if spell.start <= day and (spell.end is None or day <= spell.end):
            return True
    return False


def record_conversations(run: SiteRun, month: date, reference: date, rng: random.Random) -> None:
    """The client managers record the month's planned conversations: most held on time, some
    late, some missed (re-planned by the service); a few are never recorded, and the nightly
    job marks them overdue and then missed. Conversations of clients who left the benefit are
    not held."""
    site = run.site
    today = local_today()
    numbers = {p: n for n, p in run.exporter.state.participants.items()}
    planned = db.session.execute(
        select(
            PlannedConversation.participant_id,
            PlannedConversation.planned_date,
            PlannedConversation.client_manager_id,
        )
        .where(
            PlannedConversation.site_id == site.id,
            PlannedConversation.status.in_(OPEN_STATUSES),
            PlannedConversation.planned_date >= month,
            PlannedConversation.planned_date < reference,
        )
        .order_by(PlannedConversation.planned_date, PlannedConversation.participant_id)
    ).all()
    usernames = dict(db.session.execute(select(User.id, User.username)).all())
    done: set[tuple[int, date]] = set()
    for pid, day, manager_id in planned:
        if pid not in numbers or not _on_benefit(run, numbers[pid], day):
            continue
        u = rng.random()
        if u > HELD_ON_TIME + MISSED:
            continue  # never recorded: the nightly job's business
        held = u < HELD_ON_TIME
        late = held and rng.random() < 0.06
        when = min(day + timedelta(days=(15 + rng.randrange(10)) if late else 0), today)
        if (pid, when) in done:
            continue
        done.add((pid, when))
        withdrawn = run.withdrawals.get(pid)
        if withdrawn is not None and withdrawn <= when:
            continue
        participant = db.session.get_one(Participant, pid)
        data = (
            _conversation(run, pid, when, rng)
            if held
            else {
                "date": when,
                "status": "missed",
                "missed_reason": rng.choice(("no_show", "cancelled_by_client", "ill")),
            }
        )
        actor = f"user:{usernames.get(manager_id, 'klantmanager')}"
        try:
            conversations.record(participant, data, actor=actor)
        except Conflict:  # a late one fell on the day of the next: the manager corrects it
            continue  # (the service rolled its own unit back; the batch goes on)
        if held:
            _remember(run, pid)


def _conversation(run: SiteRun, pid: int, day: date, rng: random.Random) -> dict[str, Any]:
    """A held conversation: one to three life domains (more often moving forward later in
    FIP), new agreements, the follow-up of the open ones, interventions started and ended."""
    count = len(run.agreements.get(pid, ())) + 1
    domains = rng.sample(LIFE_DOMAINS, 1 + rng.randrange(3))
    data: dict[str, Any] = {
        "date": day,
        "status": "held",
        "duration_minutes": rng.choice((30, 45, 45, 60, 75)),
        "domains": [
            {"domain": d, "moved_forward": rng.random() < 0.35 + 0.08 * min(count, 5)}
            for d in domains
        ],
        "agreements": [
            {
                "description": "Afspraak (demo)",
                "responsible": rng.choice(("client", "client", "client_manager", "other")),
                "due_on": day + timedelta(days=30 + rng.randrange(60)),
            }
            for _ in range(rng.randrange(3))
        ],
        "agreement_followups": [
            {"agreement_id": a, "kept": rng.random() < 0.65} for a in run.agreements.get(pid, ())
        ],
    }
    if rng.random() < 0.3:
        kind = rng.choice(SMALL_INTERVENTIONS if rng.random() < 0.6 else LARGE_INTERVENTIONS)
        data["interventions_started"] = [{"type": kind, "start": day}]
    running = run.interventions.get(pid, [])
    if running and rng.random() < 0.4:
        data["interventions_ended"] = [{"intervention_id": running[0], "end": day}]
    return data


def _remember(run: SiteRun, pid: int) -> None:
    """The participant's open agreements and running interventions, for the next record."""
    run.agreements[pid] = list(
        db.session.scalars(
            select(Agreement.id).where(
                Agreement.participant_id == pid, Agreement.followup_record_id.is_(None)
            )
        )
    )
    run.interventions[pid] = list(
        db.session.scalars(
            select(Intervention.id).where(
                Intervention.participant_id == pid, Intervention.ended_on.is_(None)
            )
        )
    )
