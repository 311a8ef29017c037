"""Loading and writing plans: one grouped query per batch of managers, bulk inserts.

The planner never queries per conversation: it loads each manager's existing load per day in
one grouped query into their capacity arrays, plans in memory (``planner``) and writes with
executemany.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select

from fiptrial.extensions import db
from fiptrial.models import (
    Allocation,
    CaseloadAssignment,
    ConsentEvent,
    ConversationPlan,
    PlannedConversation,
    Site,
    User,
)
from fiptrial.models.conversations import OPEN_STATUSES, PLANNED
from fiptrial.services import audit
from fiptrial.services.planning.calendar import WorkingCalendar
from fiptrial.services.planning.manager_agenda import ManagerAgenda
from fiptrial.services.planning.planner import ClientToPlan, Slot, plan_clients
from fiptrial.services.planning.rules import SLACK_DAYS, PlanRules, plan_period_end
from fiptrial.services.transaction import locked_again, unit_of_work
from fiptrial.timezone import local_today


def _withdrawn(participant_ids: set[int]) -> set[int]:
    if not participant_ids:
        return set()
    rows = db.session.scalars(
        select(ConsentEvent.participant_id).where(ConsentEvent.status == "withdrawn")
    )
    return {pid for pid in rows if pid in participant_ids}


def site_calendar(site: Site, first: date, last: date) -> WorkingCalendar:
    """The working days of ``site`` from ``first`` to ``last``, its own closing days taken out."""
    return WorkingCalendar(first, last, site.closing_days or [])


def load_agendas(
    manager_ids: Iterable[int],
    calendar: WorkingCalendar,
    rules: PlanRules,
    exclude_ids: Sequence[int] = (),
) -> dict[int, ManagerAgenda]:
    """Fill each manager's capacity arrays with their open conversations: one grouped query."""
    ids = list(manager_ids)
    agendas = {m: ManagerAgenda(len(calendar), rules) for m in ids}
    if not ids or not calendar.days:
        return agendas
    query = (
        select(
            PlannedConversation.client_manager_id,
            PlannedConversation.planned_date,
            func.count(),
            func.sum(PlannedConversation.minutes),
        )
        .where(
            PlannedConversation.client_manager_id.in_(ids),
            PlannedConversation.status.in_((*OPEN_STATUSES, "held")),
            PlannedConversation.planned_date >= calendar.days[0],
            PlannedConversation.planned_date <= calendar.days[-1],
        )
        .group_by(PlannedConversation.client_manager_id, PlannedConversation.planned_date)
    )
    if exclude_ids:
        query = query.where(PlannedConversation.id.not_in(list(exclude_ids)))
    for manager_id, day, count, minutes in db.session.execute(query):
        index = calendar.index_on_or_after(day.toordinal())
        if index < len(calendar) and calendar.days[index] == day:
            agendas[manager_id].preload(index, count, int(minutes or 0))
    return agendas


def clients_to_plan(site: Site, starts_on: date) -> list[ClientToPlan]:
    """The site's FIP participants with a client manager, no plan yet, and not withdrawn."""
    rows = db.session.execute(
        select(
            CaseloadAssignment.participant_id,
            CaseloadAssignment.client_manager_id,
            Allocation.allocated_at,
        )
        .join(Allocation, Allocation.participant_id == CaseloadAssignment.participant_id)
        .outerjoin(
            ConversationPlan, ConversationPlan.participant_id == CaseloadAssignment.participant_id
        )
        .where(
            CaseloadAssignment.site_id == site.id,
            CaseloadAssignment.ended_on.is_(None),
            Allocation.arm == "fip",
            Allocation.status == "active",
            ConversationPlan.id.is_(None),
        )
        .order_by(CaseloadAssignment.participant_id)
    ).all()
    withdrawn = _withdrawn({pid for pid, _, _ in rows})
    return [
        ClientToPlan(
            pid, manager_id, max(starts_on, allocated_at.date()) if allocated_at else starts_on
        )
        for pid, manager_id, allocated_at in rows
        if pid not in withdrawn
    ]


def write_plan(
    site: Site, slots: Sequence[Slot], clients: Sequence[ClientToPlan], rules: PlanRules
) -> None:
    """Bulk-insert plans and conversations (executemany, no ORM objects per row)."""
    if not clients:
        return
    db.session.execute(
        ConversationPlan.__table__.insert(),
        [
            {
                "participant_id": c.participant_id,
                "site_id": site.id,
                "starts_on": c.starts_on,
                "ends_on": plan_period_end(c.starts_on, rules),
                "conversations_per_year": rules.conversations_per_year,
                "intervention_years": rules.intervention_years,
            }
            for c in clients
        ],
    )
    batch = 20000
    for first in range(0, len(slots), batch):
        db.session.execute(
            PlannedConversation.__table__.insert(),
            [
                {
                    "participant_id": s.participant_id,
                    "client_manager_id": s.manager_id,
                    "site_id": site.id,
                    "sequence": s.sequence,
                    "planned_date": s.day,
                    "first_planned_date": s.day,
                    "minutes": s.minutes,
                    "status": PLANNED,
                    "replanned_count": 0,
                }
                for s in slots[first : first + batch]
            ],
        )


def plan_site(site: Site, *, actor: str, starts_on: date | None = None) -> dict[str, int]:
    """Plan the conversations of every FIP participant of ``site`` who has none yet.

    One unit of work: the whole site is planned or nothing is. ``starts_on`` defaults to the
    trial's start date (or today); a participant allocated later starts on their allocation.
    """
    with unit_of_work():
        site = locked_again(site)
        trial = site.trial
        rules = PlanRules.of(trial)
        begin = starts_on or trial.start_date or local_today()
        clients = clients_to_plan(site, begin)
        if not clients:
            return {"participants": 0, "conversations": 0}
        first = min(c.starts_on for c in clients)
        last = max(plan_period_end(c.starts_on, rules) for c in clients)
        calendar = site_calendar(site, first, last + timedelta(days=SLACK_DAYS))
        agendas = load_agendas({c.manager_id for c in clients}, calendar, rules)
        slots = plan_clients(clients, rules, calendar, agendas)
        write_plan(site, slots, clients, rules)
        audit.record_for_site(
            "plan.created",
            site,
            actor=actor,
            data={
                "participants": len(clients),
                "conversations": len(slots),
                "starts_on": first.isoformat(),
            },
        )
    return {"participants": len(clients), "conversations": len(slots)}


def site_plan(site: Site) -> list[dict[str, Any]]:
    """The plan of a site as rows for ``fiptrial plan`` (participant pseudonym prefix)."""
    rows = db.session.execute(
        select(
            PlannedConversation.participant_id,
            User.username,
            PlannedConversation.planned_date,
            PlannedConversation.minutes,
            PlannedConversation.sequence,
            PlannedConversation.status,
        )
        .join(User, User.id == PlannedConversation.client_manager_id)
        .where(PlannedConversation.site_id == site.id)
        .order_by(
            PlannedConversation.planned_date,
            User.username,
            PlannedConversation.participant_id,
            PlannedConversation.sequence,
        )
    )
    return [
        {
            "participant": pid,
            "client_manager": username,
            "date": day.isoformat(),
            "minutes": minutes,
            "sequence": sequence,
            "status": status,
        }
        for pid, username, day, minutes, sequence, status in rows
    ]


def agenda(manager_id: int, first: date, last: date) -> list[PlannedConversation]:
    """One client manager's conversations from ``first`` to ``last``, in order."""
    return (
        db.session.query(PlannedConversation)
        .filter(
            PlannedConversation.client_manager_id == manager_id,
            PlannedConversation.planned_date >= first,
            PlannedConversation.planned_date <= last,
        )
        .order_by(PlannedConversation.planned_date, PlannedConversation.id)
        .all()
    )
