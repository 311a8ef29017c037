"""Facts recorded after the moment they happened: an explicit, checked timestamp.

Some records are entered later than they happened: an export received last month and imported
from the archive, a cohort randomised on paper before the platform was installed, the demo's
three years of study. The services that create such records take an explicit moment
(``allocated_at=``, ``received_at=``, ``frozen_at=``) instead of the clock, and this module is the
one place that checks it. The clock itself is never faked: the audit entry of the record is
stamped with the real time of recording and names the explicit moment in its data, so the
trail shows both when a fact happened and when it was entered.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from fiptrial.errors import field_error
from fiptrial.timezone import TRIAL_TIMEZONE, local_date


def as_moment(value: datetime | date) -> datetime:
    """An aware UTC timestamp: a date means noon of that Dutch day, a naive time is UTC."""
    if not isinstance(value, datetime):
        value = datetime.combine(value, time(12), tzinfo=TRIAL_TIMEZONE)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def past_moment(
    value: datetime | date,
    field: str,
    *,
    not_before: datetime | date | None = None,
    what: str = "",
    code: str = "moment_too_early",
) -> datetime:
    """``value`` as an aware UTC timestamp, checked: not in the future, and (when given) not
    before ``not_before`` (a date compares by Dutch day). The 422 names ``field`` and says
    what the moment may not precede, never quoting the dates themselves.
    """
    moment = as_moment(value)
    if moment > datetime.now(UTC):
        raise field_error(field, "lies in the future", code="moment_in_future", field_name=field)
    if not_before is not None:
        earlier = (
            local_date(moment) < not_before
            if not isinstance(not_before, datetime)
            else moment < as_moment(not_before)
        )
        if earlier:
            raise field_error(field, f"lies before {what}", code=code, field_name=field)
    return moment
