"""Column helpers shared by the model modules."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime
from sqlalchemy.orm import mapped_column


def utcnow() -> datetime:
    return datetime.now(UTC)


def created_at_column():  # type: ignore[no-untyped-def]
    return mapped_column(DateTime(timezone=True), default=utcnow, nullable=False)
