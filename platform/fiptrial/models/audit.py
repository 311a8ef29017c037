"""The audit trail: append-only entries chained by HMAC-SHA256 (see ``services.audit``)."""

from __future__ import annotations

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from fiptrial.extensions import db


class AuditEntry(db.Model):  # type: ignore[name-defined]
    __tablename__ = "audit_entry"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    # Text, not timestamps or JSON columns: the hash covers exactly the characters stored.
    recorded_at: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(60), index=True)
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(80))
    site: Mapped[str | None] = mapped_column(String(40), nullable=True)
    data: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(db.Model):  # type: ignore[name-defined]
    """One row, locked by every append, so that the chain has no forks under concurrency."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    last_id: Mapped[int] = mapped_column(Integer, default=0)
    last_hash: Mapped[str] = mapped_column(String(64))
    # Entries from this id on are keyed (HMAC); earlier ones keep plain SHA-256 (0013).
    keyed_from: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # HMAC of (last_id, last_hash, keyed_from) under the audit key: winding back is detected.
    mac: Mapped[str | None] = mapped_column(String(64), nullable=True)
