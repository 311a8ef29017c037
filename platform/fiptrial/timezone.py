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
    return datetime.now(TRIAL_TIMEZONE).date()


def local_date(moment: datetime) -> date:
    """The Dutch calendar day of a stored timestamp (naive ones, as SQLite returns, are UTC)."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(TRIAL_TIMEZONE).date()
