"""The in-memory planning core: every conversation of a batch of clients, no database access.

Scale: planning a national roll-out (2,000 managers, 360,000 clients) must stay linear. The
planner keeps a day-capacity array per manager, finds the next day with room through a
union-find "next free day" structure (amortised near O(1)); loading and writing are
``storage``'s, in one grouped query and bulk inserts.
"""

from __future__ import annotations

import gc
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

from fiptrial.services.planning.calendar import WorkingCalendar
from fiptrial.services.planning.manager_agenda import ManagerAgenda, book_fallback
from fiptrial.services.planning.rules import PlanRules, plan_period_end


@dataclass(frozen=True)
class ClientToPlan:
    """A FIP participant to plan: their client manager and the first day of their period."""

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


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector (as a ``with`` block or a decorator).

    A national plan creates millions of small objects and no reference cycles: the collector
    would walk them again and again for nothing, about a third of the planning time.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


@gc_paused()
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
                    index = book_fallback(agenda, calendar, target, minutes, low, limit)
                else:
                    agenda.book(index, minutes)
                append(Slot(client.participant_id, manager_id, k + 1, days[index], minutes))
    return slots
