"""Engine behaviour that the rules depend on, per database dialect.

SQLite is the embedded default. In WAL mode its readers never wait for a writer, so ordinary
reads begin a plain (deferred) transaction. A deferred transaction that has read and then
tries to write can fail at once when another writer committed in between (its snapshot is
stale, and SQLite's busy handler cannot help), so every transaction that will write begins
with ``BEGIN IMMEDIATE``: writers queue for the lock up front and a read-modify-write (an
allocation, an audit append) never interleaves. :func:`sqlite_write_intent` marks such
transactions; ``services.transaction.unit_of_work`` uses it for every service call.
PostgreSQL needs nothing here: the services lock the rows they change (``FOR NO KEY UPDATE``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

SQLITE_BUSY_TIMEOUT_SECONDS = 60

_write_intent: ContextVar[bool] = ContextVar("fiptrial_sqlite_write_intent", default=False)


@contextmanager
def sqlite_write_intent() -> Iterator[None]:
    """Transactions begun inside this block take SQLite's write lock at once."""
    token = _write_intent.set(True)
    try:
        yield
    finally:
        _write_intent.reset(token)


def write_intent_active() -> bool:
    return _write_intent.get()


def sqlite_engine_options() -> dict[str, Any]:
    return {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False}}


def configure_engine(engine: Engine) -> None:
    """Attach the SQLite transaction recipe; a no-op on other databases."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from pysqlite so that BEGIN is ours to emit.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE" if _write_intent.get() else "BEGIN")
