"""Imports of municipal exports and the outcome events they produce.

Every outcome must be traceable to the file (``ImportBatch.file_sha256``), the line and the
mapping version that produced it, so events are append-only: a later export that changes an end
date or reason adds a ``correction`` event that keeps both the previous and the new values.

Idempotence lives in the unique constraints, not only in the importer's checks: a batch is
unique per site, kind, file hash and mapping version (the same file again is a no-op), and an
event is unique per participant, kind, date and local code (a re-import after a new mapping
version adds only what was held back). No table here holds a BSN.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from fiptrial.extensions import db
from fiptrial.models.base import created_at_column

IMPORT_KINDS = ("participants", "outcomes")
OUTCOME_KINDS = ("exit", "transfer_within_site", "reentry", "correction")


class ImportBatch(db.Model):  # type: ignore[name-defined]
    """One imported file: what read it (plugin, version, mapping) and what came of it."""

    __tablename__ = "import_batch"
    __table_args__ = (UniqueConstraint("site_id", "kind", "file_sha256", "mapping_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    file_sha256: Mapped[str] = mapped_column(String(64))
    plugin: Mapped[str] = mapped_column(String(80))
    plugin_version: Mapped[str] = mapped_column(String(40))
    mapping_version: Mapped[str] = mapped_column(String(40))
    rows: Mapped[int] = mapped_column(Integer, default=0)
    # The report as returned to the caller (counts, rejected lines, unmapped codes; no BSNs).
    report: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = created_at_column()


class OutcomeEvent(db.Model):  # type: ignore[name-defined]
    """An exit, a transfer within the site, a re-entry or a correction of an earlier exit.

    ``local_code`` is ``""`` (not NULL) when there is none, so that the unique constraint also
    holds for re-entries: NULLs never collide in a unique index. For a correction, ``event_date``,
    ``bus_code`` and ``local_code`` are the new values (``bus_code`` NULL when the exit turned
    out to be a transfer within the site) and ``previous_*`` the values it replaces.
    """

    __tablename__ = "outcome_event"
    __table_args__ = (UniqueConstraint("participant_id", "kind", "event_date", "local_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participant.id"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    event_date: Mapped[date] = mapped_column(Date)
    bus_code: Mapped[str | None] = mapped_column(String(2), nullable=True)
    local_code: Mapped[str] = mapped_column(String(40), default="")
    new_municipality: Mapped[str | None] = mapped_column(String(6), nullable=True)
    previous_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    previous_bus_code: Mapped[str | None] = mapped_column(String(2), nullable=True)
    previous_local_code: Mapped[str | None] = mapped_column(String(40), nullable=True)
    # The export row's paying municipality and benefit start (migration 0008_spells; NULL on
    # earlier events), so that spells know where a benefit ran and which benefit a row was.
    municipality: Mapped[str | None] = mapped_column(String(6), nullable=True)
    spell_start: Mapped[date | None] = mapped_column(Date, nullable=True)
    mapping_version: Mapped[str] = mapped_column(String(40))
    batch_id: Mapped[int] = mapped_column(ForeignKey("import_batch.id"), index=True)
    line: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = created_at_column()


class HeldRow(db.Model):  # type: ignore[name-defined]
    """A row of an allocated participant held back because its local code was unmapped.

    Only what a later mapping version needs to decide the row is kept -- never a BSN, and only
    for participants already in the trial. ``released_batch_id`` is set by the import that
    finally recorded the row.
    """

    __tablename__ = "held_row"
    __table_args__ = (UniqueConstraint("participant_id", "local_code", "benefit_end"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"), index=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participant.id"), index=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("import_batch.id"), index=True)
    line: Mapped[int] = mapped_column(Integer)
    local_code: Mapped[str] = mapped_column(String(40))
    new_municipality: Mapped[str | None] = mapped_column(String(6), nullable=True)
    benefit_start: Mapped[date] = mapped_column(Date)
    benefit_end: Mapped[date] = mapped_column(Date)
    mapping_version: Mapped[str] = mapped_column(String(40))
    released_batch_id: Mapped[int | None] = mapped_column(
        ForeignKey("import_batch.id"), nullable=True
    )
    created_at: Mapped[datetime] = created_at_column()
