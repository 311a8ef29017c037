"""Column helpers shared by the model modules."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import mapped_column
from sqlalchemy.types import TypeDecorator

from fiptrial.timezone import as_utc


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A moment, stored in UTC and always read back as an aware UTC datetime.

    SQLite keeps no time zone: it stores the wall-clock digits and hands back naive datetimes,
    and PostgreSQL hands back ``timestamptz`` in the session's time zone. This one type makes
    both give aware UTC, so that no caller compares a naive moment with ``datetime.now(UTC)``.
    A naive value written is taken as UTC, the platform's convention. The column type stays
    ``DateTime(timezone=True)``: no migration.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)


def created_at_column():  # type: ignore[no-untyped-def]
    return mapped_column(UTCDateTime(), default=utcnow, nullable=False)
