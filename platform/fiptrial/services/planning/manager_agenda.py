"""One client manager's agenda: conversations and minutes per working day, with room lookup."""

from __future__ import annotations

from array import array
from datetime import date

from fiptrial.errors import Unprocessable
from fiptrial.services.planning.calendar import WorkingCalendar
from fiptrial.services.planning.rules import PlanRules


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

    def preload(self, index: int, count: int, minutes: int) -> None:
        """Take in ``count`` existing conversations of ``minutes`` in all on day ``index``."""
        self.count[index] += count
        self.minutes[index] = min(self.minutes[index] + minutes, 65535)
        if self._full(index):
            self._next[index] = index + 1

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
        return book_fallback(agenda, calendar, start, minutes, low, limit)
    agenda.book(index, minutes)
    return index


def book_fallback(
    agenda: ManagerAgenda,
    calendar: WorkingCalendar,
    target: int,
    minutes: int,
    low: int,
    limit: int,
) -> int:
    """No room from ``target`` to the period's end: the nearest earlier day, else after it."""
    index = agenda.last_free(min(target, limit) - 1, minutes, low)
    if index < 0:  # the whole period is full: take the first day with room after it
        index = agenda.first_free(limit, minutes, len(calendar))
    if index < 0:
        raise Unprocessable(
            "no working day with room left in the planning horizon", code="agenda_full"
        )
    agenda.book(index, minutes)
    return index
