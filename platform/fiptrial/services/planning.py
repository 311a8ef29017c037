"""Conversation planning: when does each FIP client talk with their client manager?

The rules (report, chapter 3; issue 5):

- ``conversations_per_year`` (default 4) for ``intervention_years`` (default 1) per client,
  the first one ``first_conversation_minutes`` (60), later ones ``later_conversation_minutes``.
- Only on the site's working days: no weekends, no national public holidays, no 5 May (closed
  every year since the Cao Gemeenten 2024), none of the site's own closing days.
- A client manager has at most ``conversations_per_day`` (3) and no more minutes than
  ``working_day_minutes`` on one day.
- Each client's conversations lie about a period apart (a quarter at 4 a year); the clients of
  one manager start evenly spread over the first period, so the manager's load is even.
- A missed or moved conversation re-plans only the open conversations after it; held and
  missed ones never move.

Scale: planning a national roll-out (2,000 managers, 360,000 clients) must stay linear. The
planner never queries per conversation: it loads each manager's existing load per day in one
grouped query, keeps a day-capacity array per manager, finds the next day with room through a
union-find "next free day" structure (amortised near O(1)), and writes with bulk inserts.
"""

from __future__ import annotations

import gc
from array import array
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import Any, NamedTuple

import holidays
from dateutil.relativedelta import relativedelta
from sqlalchemy import func, select, true, update

from fiptrial.errors import Conflict, NotFound, Unprocessable, field_error
from fiptrial.extensions import db
from fiptrial.models import (
    Allocation,
    CaseloadAssignment,
    ConsentEvent,
    ConversationPlan,
    Participant,
    PlannedConversation,
    Site,
    Trial,
)
from fiptrial.models.conversations import OPEN_STATUSES, OVERDUE, PLANNED
from fiptrial.services import audit
from fiptrial.services.transaction import locked, rows_changed, unit_of_work

CATCH_UP_DAYS = 14  # after a missed conversation, the next one is planned about 2 weeks later
SLACK_DAYS = 120  # calendar days beyond the latest plan end kept in the capacity arrays
PLAN_FIELDS = (
    "conversations_per_year",
    "intervention_years",
    "conversations_per_day",
    "first_conversation_minutes",
    "later_conversation_minutes",
    "working_day_minutes",
)


@dataclass(frozen=True)
class PlanRules:
    """A trial's planning parameters (columns of ``trial``, migration 0002_conversations)."""

    conversations_per_year: int = 4
    intervention_years: int = 1
    conversations_per_day: int = 3
    first_conversation_minutes: int = 60
    later_conversation_minutes: int = 45
    working_day_minutes: int = 180

    @classmethod
    def of(cls, trial: Trial) -> PlanRules:
        return cls(**{name: getattr(trial, name) for name in PLAN_FIELDS})

    @property
    def conversations(self) -> int:
        return self.conversations_per_year * self.intervention_years

    def minutes(self, sequence: int) -> int:
        return self.first_conversation_minutes if sequence == 1 else self.later_conversation_minutes


def validate_rules(values: dict[str, Any]) -> None:
    """422 naming the field when a planning parameter cannot give a workable plan."""
    limits = {
        "conversations_per_year": (1, 52),
        "intervention_years": (1, 10),
        "conversations_per_day": (1, 20),
        "first_conversation_minutes": (5, 480),
        "later_conversation_minutes": (5, 480),
        "working_day_minutes": (15, 720),
    }
    for name, value in values.items():
        if name not in limits:
            raise field_error(name, "is not a planning parameter")
        low, high = limits[name]
        if not isinstance(value, int) or not low <= value <= high:
            raise field_error(name, f"must be a whole number from {low} to {high}")


# --- Working days -----------------------------------------------------------------------------


@lru_cache(maxsize=64)
def national_closing_days(year: int) -> frozenset[date]:
    """The national public holidays of ``year`` (``holidays`` NL, category public) and 5 May.

    Good Friday is in the package's optional category and is not an office closing day.
    """
    days = set(holidays.NL(years=year, categories=("public",)).keys())
    days.add(date(year, 5, 5))
    return frozenset(days)


def is_working_day(day: date, closing_days: Iterable[str | date] = ()) -> bool:
    local = {date.fromisoformat(d) if isinstance(d, str) else d for d in closing_days}
    return day.weekday() < 5 and day not in national_closing_days(day.year) and day not in local


class WorkingCalendar:
    """The working days of one site between ``first`` and ``last`` (inclusive).

    ``index_on_or_after(day)`` maps any calendar day to the index of the first working day on
    or after it in O(1), through a precomputed array over the calendar days.
    """

    def __init__(self, first: date, last: date, closing_days: Iterable[str | date] = ()) -> None:
        local = {date.fromisoformat(d) if isinstance(d, str) else d for d in closing_days}
        self.first = first
        self.base = first.toordinal()
        span = last.toordinal() - self.base + 1
        self.days: list[date] = []
        self._on_or_after = array("l", [0] * (span + 1))
        pending: list[int] = []
        for offset in range(span):
            day = first + timedelta(days=offset)
            pending.append(offset)
            if (
                day.weekday() < 5
                and day not in national_closing_days(day.year)
                and day not in local
            ):
                for waiting in pending:
                    self._on_or_after[waiting] = len(self.days)
                pending = []
                self.days.append(day)
        for waiting in [*pending, span]:
            self._on_or_after[waiting] = len(self.days)  # past the end: no working day

    def __len__(self) -> int:
        return len(self.days)

    def index_on_or_after(self, day_ordinal: int) -> int:
        offset = day_ordinal - self.base
        if offset <= 0:
            return 0
        if offset >= len(self._on_or_after):
            return len(self.days)
        return self._on_or_after[offset]


# --- One manager's agenda ---------------------------------------------------------------------


class ManagerAgenda:
    """Conversations and minutes per working day of one client manager, with next-free lookup.

    ``_next`` is a union-find forest over day indices: a day that can take no further
    (shortest) conversation points onward, so finding the next day with room is amortised
    near-constant however full the agenda is.
    """

    __slots__ = ("_next", "count", "minutes", "rules")

    def __init__(self, ndays: int, rules: PlanRules) -> None:
        self.rules = rules
        self.count = bytearray(ndays + 1)
        self.minutes = array("H", [0]) * (ndays + 1)
        self._next = list(range(ndays + 1))  # index ndays is the sentinel "no day left"

    def _full(self, index: int) -> bool:
        rules = self.rules
        shortest = min(rules.first_conversation_minutes, rules.later_conversation_minutes)
        return (
            self.count[index] >= rules.conversations_per_day
            or self.minutes[index] + shortest > rules.working_day_minutes
        )

    def _find(self, index: int) -> int:
        nxt = self._next
        root = index
        while nxt[root] != root:
            root = nxt[root]
        while nxt[index] != root:  # path compression
            nxt[index], index = root, nxt[index]
        return root

    def fits(self, index: int, minutes: int) -> bool:
        rules = self.rules
        return (
            self.count[index] < rules.conversations_per_day
            and self.minutes[index] + minutes <= rules.working_day_minutes
        )

    def book(self, index: int, minutes: int) -> None:
        self.count[index] += 1
        self.minutes[index] += minutes
        if self._full(index):
            self._next[index] = index + 1

    def release(self, index: int, minutes: int) -> None:
        """Free a booking; the day becomes findable again (its link is reset)."""
        self.count[index] -= 1
        self.minutes[index] -= minutes
        if not self._full(index):
            self._next[index] = index

    def first_free(self, index: int, minutes: int, limit: int) -> int:
        """The first day at or after ``index`` (and before ``limit``) with room, else -1."""
        sentinel = len(self.count) - 1
        index = self._find(min(index, sentinel))
        while index < limit and index < sentinel:
            if self.fits(index, minutes):
                return index
            index = self._find(index + 1)
        return -1

    def last_free(self, index: int, minutes: int, floor: int) -> int:
        """The last day at or before ``index`` (and at or after ``floor``) with room, else -1."""
        while index >= floor:
            if self.fits(index, minutes):
                return index
            index -= 1
        return -1


def place(
    agenda: ManagerAgenda,
    calendar: WorkingCalendar,
    target: date,
    minutes: int,
    earliest: date,
    end: date,
) -> int:
    """Book the working day nearest after ``target`` (else before it) within [earliest, end)."""
    low = calendar.index_on_or_after(earliest.toordinal())
    limit = calendar.index_on_or_after(end.toordinal())
    start = max(calendar.index_on_or_after(target.toordinal()), low)
    index = agenda.first_free(start, minutes, limit)
    if index < 0:
        index = agenda.last_free(min(start, limit) - 1, minutes, low)
    if index < 0:  # the whole period is full: take the first day with room after it
        index = agenda.first_free(limit, minutes, len(calendar))
    if index < 0:
        raise Unprocessable(
            "no working day with room left in the planning horizon", code="agenda_full"
        )
    agenda.book(index, minutes)
    return index


# --- The in-memory planning core --------------------------------------------------------------


@dataclass(frozen=True)
class ClientToPlan:
    participant_id: int
    manager_id: int
    starts_on: date


class Slot(NamedTuple):
    """One planned conversation (a plain tuple: a national plan has 1.44 million of them)."""

    participant_id: int
    manager_id: int
    sequence: int
    day: date
    minutes: int


def plan_period_end(starts_on: date, rules: PlanRules) -> date:
    return starts_on + relativedelta(years=rules.intervention_years)


def plan_clients(
    clients: Sequence[ClientToPlan],
    rules: PlanRules,
    calendar: WorkingCalendar,
    agendas: dict[int, ManagerAgenda],
) -> list[Slot]:
    """Plan every conversation of ``clients``, booking into ``agendas`` (no database access).

    Spacing is counted in working days, not calendar days, so that holiday clusters (Christmas,
    April-May) do not pile conversations up: a client's period of ``W`` working days gives a
    step of ``W / conversations``. Per manager the clients are ordered by start date and id,
    and client ``i`` of ``n`` starts ``i / n`` of a step in, so each manager's days fill evenly
    and conversation ``k`` targets working day ``start + offset + k * step``.
    """
    # A national plan creates millions of small objects and no reference cycles: pausing the
    # cyclic garbage collector meanwhile saves about a third of the time.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _plan_clients(clients, rules, calendar, agendas)
    finally:
        if collecting:
            gc.enable()


def _plan_clients(
    clients: Sequence[ClientToPlan],
    rules: PlanRules,
    calendar: WorkingCalendar,
    agendas: dict[int, ManagerAgenda],
) -> list[Slot]:
    by_manager: dict[int, list[ClientToPlan]] = defaultdict(list)
    for client in clients:
        by_manager[client.manager_id].append(client)
    total = rules.conversations
    first_minutes = rules.first_conversation_minutes
    later_minutes = rules.later_conversation_minutes
    days = calendar.days
    index_of = calendar.index_on_or_after
    ends: dict[date, date] = {}
    slots: list[Slot] = []
    append = slots.append
    for manager_id, own in by_manager.items():
        agenda = agendas.get(manager_id)
        if agenda is None:
            agenda = agendas[manager_id] = ManagerAgenda(len(calendar), rules)
        first_free = agenda.first_free
        own.sort(key=lambda c: (c.starts_on, c.participant_id))
        n = len(own)
        for i, client in enumerate(own):
            start = client.starts_on
            end = ends.get(start)
            if end is None:
                end = ends[start] = plan_period_end(start, rules)
            low = index_of(start.toordinal())
            limit = index_of(end.toordinal())
            step = (limit - low) / total
            offset = i * step / n
            for k in range(total):
                minutes = first_minutes if k == 0 else later_minutes
                target = low + int(offset + k * step)
                index = first_free(target, minutes, limit)
                if index < 0:
                    index = _fallback(agenda, calendar, target, minutes, low, limit)
                else:
                    agenda.book(index, minutes)
                append(Slot(client.participant_id, manager_id, k + 1, days[index], minutes))
    return slots


def _fallback(
    agenda: ManagerAgenda,
    calendar: WorkingCalendar,
    target: int,
    minutes: int,
    low: int,
    limit: int,
) -> int:
    """No room from ``target`` to the period's end: the nearest earlier day, else after it."""
    index = agenda.last_free(min(target, limit) - 1, minutes, low)
    if index < 0:
        index = agenda.first_free(limit, minutes, len(calendar))
    if index < 0:
        raise Unprocessable(
            "no working day with room left in the planning horizon", code="agenda_full"
        )
    agenda.book(index, minutes)
    return index


# --- Loading and writing ----------------------------------------------------------------------


def _withdrawn(participant_ids: set[int]) -> set[int]:
    if not participant_ids:
        return set()
    rows = db.session.scalars(
        select(ConsentEvent.participant_id).where(ConsentEvent.status == "withdrawn")
    )
    return {pid for pid in rows if pid in participant_ids}


def _site_calendar(site: Site, first: date, last: date) -> WorkingCalendar:
    return WorkingCalendar(first, last, site.closing_days or [])


def _load_agendas(
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
            agenda = agendas[manager_id]
            for _ in range(count):
                agenda.book(index, 0)
            agenda.minutes[index] = min(agenda.minutes[index] + int(minutes or 0), 65535)
            if agenda._full(index):
                agenda._next[index] = index + 1
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
        site = locked(db.session.query(Site).filter_by(id=site.id)).one()
        trial = site.trial
        rules = PlanRules.of(trial)
        begin = starts_on or trial.start_date or date.today()
        clients = clients_to_plan(site, begin)
        if not clients:
            return {"participants": 0, "conversations": 0}
        first = min(c.starts_on for c in clients)
        last = max(plan_period_end(c.starts_on, rules) for c in clients)
        calendar = _site_calendar(site, first, last + timedelta(days=SLACK_DAYS))
        agendas = _load_agendas({c.manager_id for c in clients}, calendar, rules)
        slots = plan_clients(clients, rules, calendar, agendas)
        write_plan(site, slots, clients, rules)
        audit.record(
            "plan.created",
            actor=actor,
            entity="site",
            entity_id=site.id,
            site=site.code,
            data={
                "participants": len(clients),
                "conversations": len(slots),
                "starts_on": first.isoformat(),
            },
        )
    return {"participants": len(clients), "conversations": len(slots)}


# --- Re-planning ------------------------------------------------------------------------------


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
    following = (
        locked(
            db.session.query(PlannedConversation).filter(
                PlannedConversation.participant_id == participant_id,
                PlannedConversation.sequence > after_sequence,
                PlannedConversation.status.in_(OPEN_STATUSES),
            )
        )
        .order_by(PlannedConversation.sequence)
        .all()
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
    calendar = _site_calendar(site, earliest, horizon_end)
    by_manager: dict[int, list[PlannedConversation]] = defaultdict(list)
    for conversation in following:
        by_manager[conversation.client_manager_id].append(conversation)
    agendas = _load_agendas(by_manager, calendar, rules, exclude_ids=[c.id for c in following])
    for conversation, target in zip(following, targets, strict=True):
        agenda = agendas[conversation.client_manager_id]
        index = place(
            agenda,
            calendar,
            max(target, earliest),
            conversation.minutes,
            earliest,
            max(plan.ends_on, earliest + timedelta(days=1)),
        )
        conversation.planned_date = calendar.days[index]
        conversation.start_time = None  # a new day: the day's free slot, not the old time
        conversation.replanned_count += 1
        if conversation.status == OVERDUE:
            conversation.status = PLANNED
        earliest = conversation.planned_date + timedelta(days=1)
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
    from fiptrial.services import timeslots

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
        audit.record(
            "conversation.moved",
            actor=actor,
            entity="planned_conversation",
            entity_id=conversation.id,
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
    conversations = (
        locked(
            db.session.query(PlannedConversation).filter(
                PlannedConversation.site_id == site.id,
                PlannedConversation.planned_date == day,
                PlannedConversation.status.in_(OPEN_STATUSES),
            )
        )
        .order_by(PlannedConversation.id)
        .all()
    )
    if not conversations:
        return 0
    rules = PlanRules.of(site.trial)
    earliest = max(date.today(), day - timedelta(days=14))
    calendar = _site_calendar(site, earliest, day + timedelta(days=SLACK_DAYS))
    managers = {c.client_manager_id for c in conversations}
    agendas = _load_agendas(managers, calendar, rules, exclude_ids=[c.id for c in conversations])
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
    conversations = (
        locked(
            db.session.query(PlannedConversation).filter(
                PlannedConversation.participant_id == participant.id,
                PlannedConversation.status.in_(OPEN_STATUSES),
                PlannedConversation.planned_date >= from_date,
            )
        )
        .order_by(PlannedConversation.sequence)
        .all()
    )
    if not conversations:
        return 0
    site = participant.site
    rules = PlanRules.of(site.trial)
    plan = db.session.query(ConversationPlan).filter_by(participant_id=participant.id).one()
    last = max(max(c.planned_date for c in conversations), plan.ends_on)
    calendar = _site_calendar(site, from_date, last + timedelta(days=SLACK_DAYS))
    agenda = _load_agendas([new_manager_id], calendar, rules)[new_manager_id]
    earliest = from_date
    for conversation in conversations:
        index = place(
            agenda,
            calendar,
            max(conversation.planned_date, earliest),
            conversation.minutes,
            earliest,
            max(plan.ends_on, earliest + timedelta(days=1)),
        )
        conversation.planned_date = calendar.days[index]
        conversation.start_time = None
        conversation.client_manager_id = new_manager_id
        earliest = conversation.planned_date + timedelta(days=1)
    db.session.flush()
    return len(conversations)


def mark_overdue(today: date) -> dict[str, int]:
    """Nightly: open conversations past their date become overdue; past the two-week window
    they count as missed and the conversations after them are re-planned. Idempotent.

    Runs inside the caller's transaction (the scheduler's job: one unit of work).
    """
    from fiptrial.services.fidelity import WINDOW_DAYS

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


def reconfigure_trial(
    trial: Trial, changes: dict[str, Any], *, actor: str, today: date | None = None
) -> dict[str, int]:
    """Change a trial's planning parameters and re-plan the open conversations to match.

    Held and missed conversations stay; open conversations from ``today`` on are dropped and
    the remaining sequences planned afresh with the new rules, so nothing stays on the old
    plan. The scheduler's job definitions follow at its next reconciliation.
    """
    validate_rules(changes)
    today = today or date.today()
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
        audit.record(
            "trial.plan_rules_changed",
            actor=actor,
            entity="trial",
            entity_id=trial.id,
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
    calendar = _site_calendar(
        site,
        min(today, min(p.starts_on for p in plans)),
        max(last, today) + timedelta(days=SLACK_DAYS),
    )
    agendas = _load_agendas(set(managers.values()), calendar, rules)
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


def site_plan(site: Site) -> list[dict[str, Any]]:
    """The plan of a site as rows for ``fiptrial plan`` (participant pseudonym prefix)."""
    from fiptrial.models import User

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
