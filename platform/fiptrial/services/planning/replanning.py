"""Re-planning: a missed, moved or handed-over conversation, a new closing day, new rules.

A missed or moved conversation re-plans only the open conversations after it; held and
missed ones never move. Each client's conversations lie about a period apart (a quarter at
4 a year).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, select, true, update
from sqlalchemy.orm import InstrumentedAttribute

from fiptrial.errors import Conflict, NotFound, field_error
from fiptrial.extensions import db
from fiptrial.models import (
    CaseloadAssignment,
    ConversationPlan,
    Participant,
    PlannedConversation,
    Site,
    Trial,
)
from fiptrial.models.conversations import CANCELLED, OPEN_STATUSES, OVERDUE, PLANNED
from fiptrial.services import audit, timeslots
from fiptrial.services.fidelity import WINDOW_DAYS
from fiptrial.services.planning.calendar import WorkingCalendar, is_working_day
from fiptrial.services.planning.manager_agenda import ManagerAgenda, place
from fiptrial.services.planning.rules import (
    CATCH_UP_DAYS,
    SLACK_DAYS,
    PlanRules,
    plan_period_end,
    validate_rules,
)
from fiptrial.services.planning.storage import load_agendas, site_calendar
from fiptrial.services.transaction import locked, rows_changed, unit_of_work
from fiptrial.timezone import local_today


def _spread(anchor: date, count: int, end: date, period: float, catch_up: bool) -> list[date]:
    """Targets for ``count`` conversations after ``anchor``, at most ``period`` apart, in time.

    After a miss the first comes ``CATCH_UP_DAYS`` later; after a move, a period later (both
    squeezed when the intervention period would run out).
    """
    last_day = end - timedelta(days=1)
    if catch_up:
        first = min(anchor + timedelta(days=CATCH_UP_DAYS), last_day)
        if count == 1:
            return [first]
        step = min(period, max((last_day - first).days, 0) / (count - 1))
        return [first + timedelta(days=int(j * step)) for j in range(count)]
    step = min(period, max((last_day - anchor).days, count) / count)
    return [anchor + timedelta(days=max(1, int((j + 1) * step))) for j in range(count)]


def _rebook(
    conversation: PlannedConversation,
    plan: ConversationPlan,
    agenda: ManagerAgenda,
    calendar: WorkingCalendar,
    target: date,
    earliest: date,
) -> date:
    """Book ``conversation`` on the day with room in ``agenda`` nearest ``target``, within
    [``earliest``, the plan's end), the end at least a day past ``earliest``. Returns the day
    after it: the ``earliest`` of the participant's next conversation.

    Re-planning and a hand-over to another manager move conversations by this one rule. A new
    day drops the old start time: the conversation takes the day's free slot.
    """
    index = place(
        agenda,
        calendar,
        max(target, earliest),
        conversation.minutes,
        earliest,
        max(plan.ends_on, earliest + timedelta(days=1)),
    )
    conversation.planned_date = calendar.days[index]
    conversation.start_time = None
    return conversation.planned_date + timedelta(days=1)


def replan_following(
    participant_id: int, after_sequence: int, anchor: date, *, catch_up: bool
) -> int:
    """Re-plan the open conversations after ``after_sequence``; the caller's transaction.

    Held and missed conversations never move; neither does anything before the anchor.
    Returns the number of conversations given a new date.
    """
    plan = db.session.query(ConversationPlan).filter_by(participant_id=participant_id).one_or_none()
    if plan is None:
        return 0
    following = _locked_open(
        PlannedConversation.participant_id == participant_id,
        PlannedConversation.sequence > after_sequence,
        order_by=PlannedConversation.sequence,
    )
    if not following:
        return 0
    site = db.session.get_one(Site, plan.site_id)
    rules = PlanRules.of(site.trial)
    total = plan.conversations_per_year * plan.intervention_years
    period = (plan.ends_on - plan.starts_on).days / total
    targets = _spread(anchor, len(following), plan.ends_on, period, catch_up)
    earliest = anchor + timedelta(days=1)
    horizon_end = max(plan.ends_on, targets[-1]) + timedelta(days=SLACK_DAYS)
    calendar = site_calendar(site, earliest, horizon_end)
    by_manager: dict[int, list[PlannedConversation]] = defaultdict(list)
    for conversation in following:
        by_manager[conversation.client_manager_id].append(conversation)
    agendas = load_agendas(by_manager, calendar, rules, exclude_ids=[c.id for c in following])
    for conversation, target in zip(following, targets, strict=True):
        agenda = agendas[conversation.client_manager_id]
        earliest = _rebook(conversation, plan, agenda, calendar, target, earliest)
        conversation.replanned_count += 1
        if conversation.status == OVERDUE:
            conversation.status = PLANNED
    db.session.flush()
    return len(following)


MOVE_REASONS = ("client_request", "client_ill", "manager_absent", "closing_day", "other")


def move_conversation(
    conversation_id: int,
    new_date: date,
    *,
    actor: str,
    manager_id: int | None = None,
    reason: str | None = None,
    start_time: str | None = None,
) -> PlannedConversation:
    """Move one open conversation to ``new_date`` (at ``start_time``, else the day's first
    free slot) and re-plan those after it. The times of the conversations left behind on the
    old day are fixed first, so that nobody else's appointment shifts."""
    if reason is not None and reason not in MOVE_REASONS:
        raise field_error(
            "reason", f"must be one of {', '.join(MOVE_REASONS)}", code="move_reason_required"
        )
    with unit_of_work():
        conversation = locked(
            db.session.query(PlannedConversation).filter_by(id=conversation_id)
        ).one_or_none()
        if conversation is None or (
            manager_id is not None and conversation.client_manager_id != manager_id
        ):
            raise NotFound(f"conversation {conversation_id} does not exist")
        if conversation.status not in OPEN_STATUSES:
            raise Conflict(
                f"a {conversation.status} conversation does not move",
                code="conversation_closed",
                status=conversation.status,
            )
        site = db.session.get_one(Site, conversation.site_id)
        rules = PlanRules.of(site.trial)
        if not is_working_day(new_date, site.closing_days or []):
            raise field_error(
                "date",
                f"{new_date} is not a working day of {site.code}",
                code="not_working_day",
                date=new_date.isoformat(),
            )
        load = db.session.execute(
            select(func.count(), func.coalesce(func.sum(PlannedConversation.minutes), 0)).where(
                PlannedConversation.client_manager_id == conversation.client_manager_id,
                PlannedConversation.planned_date == new_date,
                PlannedConversation.status.in_((*OPEN_STATUSES, "held")),
                PlannedConversation.id != conversation.id,
            )
        ).one()
        if (
            load[0] >= rules.conversations_per_day
            or load[1] + conversation.minutes > rules.working_day_minutes
        ):
            raise field_error(
                "date",
                f"the client manager's agenda on {new_date} is full",
                code="agenda_day_full",
                date=new_date.isoformat(),
            )
        previous = conversation.planned_date
        manager = conversation.client_manager_id
        if start_time is not None:
            timeslots.check_time(start_time, manager, new_date, site.trial, conversation.id)
        else:
            free = timeslots.free_slots(manager, new_date, site.trial, exclude=conversation.id)
            start_time = free[0] if free else None
        timeslots.fix_day(manager, previous, site.trial)
        conversation.planned_date = new_date
        conversation.start_time = start_time
        conversation.status = PLANNED
        conversation.replanned_count += 1
        db.session.flush()
        moved = replan_following(
            conversation.participant_id, conversation.sequence, new_date, catch_up=False
        )
        audit.record_about(
            "conversation.moved",
            conversation,
            actor=actor,
            site=site.code,
            data={
                "from": previous.isoformat(),
                "to": new_date.isoformat(),
                "time": start_time,
                "reason": reason,
                "following_replanned": moved,
            },
        )
    return conversation


def move_off_day(site: Site, day: date) -> int:
    """A new closing day: its open conversations move to each manager's nearest working day
    with room after it (then before it), within the plan's period. The caller's transaction."""
    conversations = _locked_open(
        PlannedConversation.site_id == site.id,
        PlannedConversation.planned_date == day,
        order_by=PlannedConversation.id,
    )
    if not conversations:
        return 0
    rules = PlanRules.of(site.trial)
    earliest = max(local_today(), day - timedelta(days=14))
    calendar = site_calendar(site, earliest, day + timedelta(days=SLACK_DAYS))
    managers = {c.client_manager_id for c in conversations}
    agendas = load_agendas(managers, calendar, rules, exclude_ids=[c.id for c in conversations])
    for conversation in conversations:
        index = place(
            agendas[conversation.client_manager_id],
            calendar,
            day,
            conversation.minutes,
            earliest,
            day + timedelta(days=SLACK_DAYS),
        )
        conversation.planned_date = calendar.days[index]
        conversation.start_time = None
        conversation.replanned_count += 1
    db.session.flush()
    return len(conversations)


def move_open_conversations(
    participant: Participant, new_manager_id: int, *, from_date: date
) -> int:
    """Hand a participant's open conversations from ``from_date`` on to another manager.

    Dates stay where the new manager's agenda has room; otherwise the nearest day with room.
    Runs inside the caller's transaction (a reassignment).
    """
    conversations = _locked_open(
        PlannedConversation.participant_id == participant.id,
        PlannedConversation.planned_date >= from_date,
        order_by=PlannedConversation.sequence,
    )
    if not conversations:
        return 0
    site = participant.site
    rules = PlanRules.of(site.trial)
    plan = db.session.query(ConversationPlan).filter_by(participant_id=participant.id).one()
    last = max(max(c.planned_date for c in conversations), plan.ends_on)
    calendar = site_calendar(site, from_date, last + timedelta(days=SLACK_DAYS))
    agenda = load_agendas([new_manager_id], calendar, rules)[new_manager_id]
    earliest = from_date
    for conversation in conversations:
        earliest = _rebook(
            conversation, plan, agenda, calendar, conversation.planned_date, earliest
        )
        conversation.client_manager_id = new_manager_id
    db.session.flush()
    return len(conversations)


def mark_overdue(today: date) -> dict[str, int]:
    """Nightly: open conversations past their date become overdue; past the two-week window
    they count as missed and the conversations after them are re-planned. Idempotent.

    Runs inside the caller's transaction (the scheduler's job: one unit of work).
    """
    overdue = rows_changed(
        update(PlannedConversation)
        .where(PlannedConversation.status == PLANNED, PlannedConversation.planned_date < today)
        .values(status=OVERDUE)
    )
    cutoff = today - timedelta(days=WINDOW_DAYS)
    lapsed = (
        locked(
            db.session.query(PlannedConversation).filter(
                PlannedConversation.status == OVERDUE, PlannedConversation.planned_date < cutoff
            )
        )
        .order_by(PlannedConversation.participant_id, PlannedConversation.sequence)
        .all()
    )
    last_missed: dict[int, int] = {}
    for conversation in lapsed:
        conversation.status = "missed"
        last_missed[conversation.participant_id] = max(
            last_missed.get(conversation.participant_id, 0), conversation.sequence
        )
    db.session.flush()
    replanned = sum(
        replan_following(pid, sequence, today, catch_up=True)
        for pid, sequence in last_missed.items()
    )
    return {"overdue": int(overdue or 0), "missed": len(lapsed), "replanned": replanned}


def cancel_open_conversations(*criteria: ColumnElement[bool]) -> int:
    """Cancel the open planned conversations that meet ``criteria``; how many were cancelled.

    A withdrawal ends a participant's conversations: at once when it is recorded and again at
    the nightly run. Both go through here, so that what counts as open and what a cancelled
    conversation becomes is decided in one place. One UPDATE in the caller's transaction.
    """
    return rows_changed(
        update(PlannedConversation)
        .where(PlannedConversation.status.in_(OPEN_STATUSES), *criteria)
        .values(status=CANCELLED)
        .execution_options(synchronize_session=False)
    )


def reconfigure_trial(
    trial: Trial, changes: dict[str, Any], *, actor: str, today: date | None = None
) -> dict[str, int]:
    """Change a trial's planning parameters and re-plan the open conversations to match.

    Held and missed conversations stay; open conversations from ``today`` on are dropped and
    the remaining sequences planned afresh with the new rules, so nothing stays on the old
    plan. The scheduler's job definitions follow at its next reconciliation.
    """
    validate_rules(changes)
    today = today or local_today()
    with unit_of_work():
        trial = locked(db.session.query(Trial).filter_by(id=trial.id)).one()
        before = {name: getattr(trial, name) for name in changes}
        for name, value in changes.items():
            setattr(trial, name, value)
        db.session.flush()
        rules = PlanRules.of(trial)
        counts = {"participants": 0, "conversations": 0}
        for site in trial.sites:
            done = _replan_site_with_rules(site, rules, today)
            counts["participants"] += done[0]
            counts["conversations"] += done[1]
        audit.record_about(
            "trial.plan_rules_changed",
            trial,
            actor=actor,
            data={"before": before, "after": changes, **counts},
        )
    return counts


def _replan_site_with_rules(site: Site, rules: PlanRules, today: date) -> tuple[int, int]:
    plans = db.session.query(ConversationPlan).filter_by(site_id=site.id).all()
    if not plans:
        return 0, 0
    open_ids = db.session.scalars(
        select(PlannedConversation.id).where(
            PlannedConversation.site_id == site.id,
            PlannedConversation.status.in_(OPEN_STATUSES),
            PlannedConversation.planned_date >= today,
        )
    ).all()
    managers = dict(
        db.session.execute(
            select(CaseloadAssignment.participant_id, CaseloadAssignment.client_manager_id).where(
                CaseloadAssignment.site_id == site.id, CaseloadAssignment.ended_on.is_(None)
            )
        ).all()
    )
    kept: dict[int, list[tuple[int, date]]] = defaultdict(list)
    for pid, sequence, day in db.session.execute(
        select(
            PlannedConversation.participant_id,
            PlannedConversation.sequence,
            PlannedConversation.planned_date,
        ).where(
            PlannedConversation.site_id == site.id,
            PlannedConversation.id.not_in(open_ids) if open_ids else true(),
        )
    ):
        kept[pid].append((sequence, day))
    if open_ids:
        db.session.execute(
            PlannedConversation.__table__.delete().where(PlannedConversation.id.in_(open_ids))
        )
    last = max(plan_period_end(p.starts_on, rules) for p in plans)
    calendar = site_calendar(
        site,
        min(today, min(p.starts_on for p in plans)),
        max(last, today) + timedelta(days=SLACK_DAYS),
    )
    agendas = load_agendas(set(managers.values()), calendar, rules)
    rows = []
    total = rules.conversations
    for plan in plans:
        manager_id = managers.get(plan.participant_id)
        plan.ends_on = plan_period_end(plan.starts_on, rules)
        plan.conversations_per_year = rules.conversations_per_year
        plan.intervention_years = rules.intervention_years
        done = sorted(kept.get(plan.participant_id, []))
        next_sequence = (done[-1][0] + 1) if done else 1
        remaining = total - next_sequence + 1
        if manager_id is None or remaining <= 0:
            continue
        period = (plan.ends_on - plan.starts_on).days / total
        anchor = max(
            today - timedelta(days=1), done[-1][1] if done else plan.starts_on - timedelta(days=1)
        )
        targets = (
            [
                plan.starts_on + timedelta(days=int(k * period))
                for k in range(next_sequence - 1, total)
            ]
            if not done
            else _spread(anchor, remaining, plan.ends_on, period, catch_up=False)
        )
        earliest = max(anchor + timedelta(days=1), today)
        for offset, target in enumerate(targets):
            sequence = next_sequence + offset
            minutes = rules.minutes(sequence)
            index = place(
                agendas[manager_id],
                calendar,
                max(target, earliest),
                minutes,
                earliest,
                max(plan.ends_on, earliest + timedelta(days=1)),
            )
            day = calendar.days[index]
            rows.append(
                {
                    "participant_id": plan.participant_id,
                    "client_manager_id": manager_id,
                    "site_id": site.id,
                    "sequence": sequence,
                    "planned_date": day,
                    "first_planned_date": day,
                    "minutes": minutes,
                    "status": PLANNED,
                    "replanned_count": 1,
                }
            )
            earliest = day + timedelta(days=1)
    if rows:
        db.session.execute(PlannedConversation.__table__.insert(), rows)
    db.session.flush()
    return len(plans), len(rows)


def _locked_open(
    *criteria: ColumnElement[bool], order_by: InstrumentedAttribute[Any]
) -> list[PlannedConversation]:
    """The open planned conversations that meet ``criteria``, in ``order_by`` order, with their
    rows locked: re-planning moves them, and no other writer may move them meanwhile."""
    query = db.session.query(PlannedConversation).filter(
        *criteria, PlannedConversation.status.in_(OPEN_STATUSES)
    )
    return locked(query).order_by(order_by).all()
