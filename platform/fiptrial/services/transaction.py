"""One unit of work per public service call: all of it is committed, or none of it.

Several calls may share one transaction (:func:`batch`, for work entered in one sitting, such
as the demo's simulated days): each call still runs its own checks as its own unit, a
savepoint, so a refused call leaves nothing behind and the others go on; the batch commits them
together. The rules stay where they are; only the number of commits changes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from contextvars import ContextVar
from typing import Any, TypeVar, cast

from sqlalchemy import CursorResult, Executable, inspect
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Query

from fiptrial.database import sqlite_write_intent, write_intent_active
from fiptrial.errors import NotFound
from fiptrial.extensions import db

T = TypeVar("T")

_in_batch: ContextVar[bool] = ContextVar("fiptrial_unit_of_work_batch", default=False)


@contextmanager
def batch() -> Iterator[Any]:
    """Run the service calls inside the block in one transaction, committed at its end.

    Each call's :func:`unit_of_work` becomes a savepoint: when a call fails, its own changes
    are rolled back and its error is raised to the caller, who may go on with the next; an
    error leaving the block rolls the whole batch back. Nested batches join the outer one.
    """
    if _in_batch.get():
        yield db.session
        return
    with unit_of_work():
        token = _in_batch.set(True)
        try:
            yield db.session
        finally:
            _in_batch.reset(token)


def in_batch() -> bool:
    return _in_batch.get()


@contextmanager
def unit_of_work() -> Iterator[Any]:
    """Commit on success, roll back on any error, so nothing is ever half-written.

    On SQLite the unit runs in a transaction that holds the write lock from its first statement
    (see :mod:`fiptrial.database`). A read-only transaction the session may have open (a view
    that loaded the site first) is ended first, so the unit never writes on a stale snapshot.
    Inside a :func:`batch` the unit is a savepoint of the batch's transaction instead.
    """
    if _in_batch.get():
        with db.session.begin_nested():
            yield db.session
        return
    intent: AbstractContextManager[Any] = nullcontext()
    if db.session.get_bind().dialect.name == "sqlite" and not write_intent_active():
        session = db.session()  # the scoped session's current Session
        if session.in_transaction() and not (session.new or session.dirty or session.deleted):
            session.commit()
        intent = sqlite_write_intent()
    with intent:
        try:
            yield db.session
            db.session.commit()
        except BaseException:
            db.session.rollback()
            raise


def locked(query: Query[T]) -> Query[T]:
    """``SELECT ... FOR NO KEY UPDATE`` on PostgreSQL; SQLite already holds its write lock.

    ``NO KEY`` still excludes every other locker of the row, but lets inserts that merely
    reference it (foreign-key checks take ``KEY SHARE``) go on, which is what kept a cohort
    allocation and single allocations of the same site from deadlocking.
    ``populate_existing`` makes the locked read overwrite any copy of the row the session
    already holds, so decisions are taken on the row as it is now, under the lock.
    """
    return query.with_for_update(key_share=True).populate_existing()


def locked_again(row: T) -> T:
    """``row``, a row the session holds, read again under its lock (see :func:`locked`).

    Selected by the primary key of its identity, which never changes: reading ``row.id`` of a
    copy that a commit expired would first reload the row only for the locked read to
    overwrite it."""
    identity = inspect(row).identity
    assert identity is not None, "a row that is not stored yet has nothing to lock"
    # As locked() reads: a lock always selects, past the identity map, and overwrites the copy.
    return db.session.get_one(
        type(row), identity, with_for_update={"key_share": True}, populate_existing=True
    )


def existing_row(model: type[T], row_id: int, what: str) -> T:
    """The row of ``model`` with primary key ``row_id``, or a 404 saying that ``what`` (a name
    a reader knows, such as ``"data freeze"``) with that id does not exist."""
    row = db.session.get(model, row_id)
    if row is None:
        raise NotFound(f"{what} {row_id} does not exist")
    return row


def locked_row(model: type[T], row_id: int, what: str, **owner: Any) -> T:
    """As :func:`existing_row`, the row read under its lock (see :func:`locked`).

    ``owner`` names further columns the row must match (``participant_id=...``): another
    participant's row is as absent as one that does not exist.
    """
    row = locked(db.session.query(model).filter_by(id=row_id, **owner)).one_or_none()
    if row is None:
        raise NotFound(f"{what} {row_id} does not exist")
    return row


def rows_changed(statement: Executable) -> int:
    """Run an UPDATE or DELETE in the current transaction; the number of rows it changed."""
    result = cast("CursorResult[Any]", db.session.execute(statement))
    return int(result.rowcount or 0)


def insert_ignoring_conflict(model: Any, values: dict[str, Any], keys: list[str]) -> None:
    """``INSERT ... ON CONFLICT DO NOTHING`` on both databases: get-or-create without races."""
    table = model.__table__
    if db.session.get_bind().dialect.name == "postgresql":
        statement: Any = postgresql_insert(table)
    else:
        statement = sqlite_insert(table)
    db.session.execute(statement.values(**values).on_conflict_do_nothing(index_elements=keys))
