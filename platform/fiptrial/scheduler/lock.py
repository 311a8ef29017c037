"""One scheduler at a time, decided by the database all schedulers share.

PostgreSQL: a session-level advisory lock (``pg_try_advisory_lock``) held on a dedicated
connection for the life of the process; the server frees it when the process dies, however it
dies. SQLite has no advisory locks, so a lock row with a heartbeat stands in: the holder
refreshes it every ``HEARTBEAT_SECONDS``, and a row older than ``STALE_SECONDS`` (a killed
holder) may be taken over.
"""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from fiptrial.database import sqlite_write_intent
from fiptrial.models import SchedulerLock

ADVISORY_LOCK_KEY = 0x46495054_0005  # "FIPT" 5: any fixed number, so every scheduler uses the same
LOCK_NAME = "scheduler"
HEARTBEAT_SECONDS = 10
STALE_SECONDS = 60


def holder_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class DatabaseLock(Protocol):
    holder: str

    def acquire(self) -> bool: ...

    def still_held(self) -> bool: ...

    def release(self) -> None: ...


class AdvisoryLock:
    """PostgreSQL: ``pg_try_advisory_lock`` on a connection kept open while the lock is held."""

    def __init__(self, engine: Engine, holder: str | None = None) -> None:
        self.engine = engine
        self.holder = holder or holder_name()
        self._connection: Connection | None = None

    def acquire(self) -> bool:
        if self._connection is not None:
            return True
        connection = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        got = connection.execute(
            text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_LOCK_KEY}
        ).scalar()
        if got:
            self._connection = connection
            return True
        connection.close()
        return False

    def still_held(self) -> bool:
        if self._connection is None:
            return False
        try:
            self._connection.execute(text("SELECT 1"))
            return True
        except Exception:
            self._connection = None
            return False

    def release(self) -> None:
        if self._connection is None:
            return
        try:
            self._connection.execute(
                text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_LOCK_KEY}
            )
        finally:
            self._connection.close()
            self._connection = None


class RowLock:
    """SQLite: the ``scheduler_lock`` row, taken when absent, ours, or not refreshed lately."""

    def __init__(
        self, engine: Engine, holder: str | None = None, stale_seconds: int = STALE_SECONDS
    ) -> None:
        self.engine = engine
        self.holder = holder or holder_name()
        self.stale_seconds = stale_seconds
        self.table = SchedulerLock.__table__

    def acquire(self) -> bool:
        now = datetime.now(UTC)
        with sqlite_write_intent(), self.engine.begin() as connection:  # no two takers at once
            row = connection.execute(
                self.table.select().where(self.table.c.name == LOCK_NAME)
            ).first()
            if row is None:
                connection.execute(
                    self.table.insert().values(name=LOCK_NAME, holder=self.holder, heartbeat_at=now)
                )
                return True
            beat = row.heartbeat_at  # aware UTC (models.base.UTCDateTime)
            if row.holder != self.holder and beat > now - timedelta(seconds=self.stale_seconds):
                return False
            connection.execute(
                self.table.update()
                .where(self.table.c.name == LOCK_NAME)
                .values(holder=self.holder, heartbeat_at=now)
            )
            return True

    def still_held(self) -> bool:
        """Refresh the heartbeat; False when another process has taken the lock over."""
        with sqlite_write_intent(), self.engine.begin() as connection:
            result = connection.execute(
                self.table.update()
                .where(self.table.c.name == LOCK_NAME, self.table.c.holder == self.holder)
                .values(heartbeat_at=datetime.now(UTC))
            )
            return result.rowcount == 1

    def release(self) -> None:
        with sqlite_write_intent(), self.engine.begin() as connection:
            connection.execute(
                self.table.delete().where(
                    self.table.c.name == LOCK_NAME, self.table.c.holder == self.holder
                )
            )


def scheduler_lock(engine: Engine, holder: str | None = None) -> DatabaseLock:
    if engine.dialect.name == "postgresql":
        return AdvisoryLock(engine, holder)
    return RowLock(engine, holder)
