"""Time slots of a client manager's conversation day.

The planner decides the day of each conversation, not its hour: a day holds at most
``conversations_per_day`` conversations within ``working_day_minutes``. The agenda gives each
conversation a time on a fixed grid: from :data:`DAY_START`, one slot for the longest
conversation plus :data:`BREAK_MINUTES`. A conversation whose time was set (when it was
moved) keeps it; the others take the day's free slots in the order they were planned. When a
conversation leaves a day, the times of the others on that day are fixed first, so that
nobody's appointment shifts because someone else's moved.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta

from fiptrial.errors import field_error
from fiptrial.extensions import db
from fiptrial.models import PlannedConversation, Trial
from fiptrial.models.conversations import CANCELLED

DAY_START = "09:00"
BREAK_MINUTES = 15


def grid(trial: Trial) -> list[str]:
    """The day's slots, e.g. 09:00, 10:15, 11:30 for three conversations of up to 60 min."""
    step = max(trial.first_conversation_minutes, trial.later_conversation_minutes) + BREAK_MINUTES
    start = datetime.strptime(DAY_START, "%H:%M")
    count = max(trial.conversations_per_day, 1)
    return [(start + timedelta(minutes=step * n)).strftime("%H:%M") for n in range(count)]


def _day_rows(manager_id: int, day: date) -> list[PlannedConversation]:
    return (
        db.session.query(PlannedConversation)
        .filter(
            PlannedConversation.client_manager_id == manager_id,
            PlannedConversation.planned_date == day,
            PlannedConversation.status != CANCELLED,
        )
        .order_by(PlannedConversation.id)
        .all()
    )


def assign(rows: Iterable[PlannedConversation], slots: list[str]) -> dict[int, str]:
    """Conversation id -> time: set times stay, the rest take the free slots in id order.

    ``rows`` are one manager's conversations of one day. Past the grid (a day over-full by an
    earlier rule), times continue in the grid's step.
    """
    rows = sorted(rows, key=lambda r: r.id)
    times = {r.id: r.start_time for r in rows if r.start_time}
    free = [slot for slot in slots if slot not in times.values()]
    step = _step(slots)
    last = datetime.strptime(slots[-1] if slots else DAY_START, "%H:%M")
    for row in rows:
        if row.id in times:
            continue
        if free:
            times[row.id] = free.pop(0)
        else:
            last += timedelta(minutes=step)
            times[row.id] = last.strftime("%H:%M")
    return {rid: str(time) for rid, time in times.items()}


def _step(slots: list[str]) -> int:
    if len(slots) < 2:
        return 60 + BREAK_MINUTES
    first, second = (datetime.strptime(s, "%H:%M") for s in slots[:2])
    return int((second - first).total_seconds() // 60)


def times_for(rows: list[PlannedConversation], trial_of: dict[int, Trial]) -> dict[int, str]:
    """Times of agenda rows (any managers and days): site id -> trial gives the grid."""
    by_day: dict[tuple[int, date], list[PlannedConversation]] = defaultdict(list)
    for row in rows:
        by_day[(row.client_manager_id, row.planned_date)].append(row)
    times: dict[int, str] = {}
    for (manager_id, day), wanted in by_day.items():
        site_id = wanted[0].site_id
        everyone = _day_rows(manager_id, day)
        assigned = assign(everyone, grid(trial_of[site_id]))
        times.update({r.id: assigned[r.id] for r in wanted if r.id in assigned})
    return times


def free_slots(manager_id: int, day: date, trial: Trial, exclude: int | None = None) -> list[str]:
    """The slots of ``day`` that no other conversation of the manager holds."""
    rows = [r for r in _day_rows(manager_id, day) if r.id != exclude]
    taken = set(assign(rows, grid(trial)).values())
    return [slot for slot in grid(trial) if slot not in taken]


def fix_day(manager_id: int, day: date, trial: Trial) -> None:
    """Store the shown times of a day's conversations, before one of them leaves it."""
    rows = _day_rows(manager_id, day)
    for row in rows:
        row.start_time = assign(rows, grid(trial))[row.id]
    db.session.flush()


def check_time(text: str, manager_id: int, day: date, trial: Trial, exclude: int) -> str:
    """A chosen time must be one of the day's free slots."""
    free = free_slots(manager_id, day, trial, exclude=exclude)
    if text not in free:
        raise field_error(
            "time", f"{text} is not a free time on {day}", code="time_not_free", time=text
        )
    return text
