"""The trial's clock: Dutch municipalities work in Europe/Amsterdam time.

Timestamps are stored in UTC; dates that people see or analyse (the day of an allocation, the
day a job runs for) are taken in Dutch time, so that an allocation made at 00:30 counts for the
day it was made.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

TRIAL_TIMEZONE = ZoneInfo("Europe/Amsterdam")


def local_today() -> date:
    """Today in the Netherlands: the day for every "today" of the trial (not the server's)."""
    return datetime.now(TRIAL_TIMEZONE).date()


def as_utc(moment: datetime) -> datetime:
    """``moment`` in UTC; a naive one is UTC already (the platform stores nothing else)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def local_time(moment: datetime) -> datetime:
    """A moment on the Dutch clock, to show to people."""
    return as_utc(moment).astimezone(TRIAL_TIMEZONE)


def local_date(moment: datetime) -> date:
    """The Dutch calendar day of a moment."""
    return local_time(moment).date()
