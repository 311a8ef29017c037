"""Working days: no weekends, no national public holidays, no 5 May (closed every year since
the Cao Gemeenten 2024), none of the site's own closing days."""

from __future__ import annotations

from array import array
from collections.abc import Iterable
from datetime import date, timedelta
from functools import lru_cache

import holidays


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
