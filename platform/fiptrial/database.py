"""Engine behaviour that the rules depend on, per database dialect.

SQLite is the embedded default. Its deferred transactions let two writers both read a stratum
and then race for the write lock, so every transaction here starts with ``BEGIN IMMEDIATE``:
writers queue for the lock up front and a read-modify-write (an allocation, an audit append)
can never interleave. WAL keeps readers from blocking on the writer, and foreign keys are on.
PostgreSQL needs nothing here: the services lock the rows they change (``SELECT ... FOR UPDATE``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

SQLITE_BUSY_TIMEOUT_SECONDS = 60


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
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def is_postgresql(bind: Any) -> bool:
    return bind.dialect.name == "postgresql"
