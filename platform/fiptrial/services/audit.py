"""The audit trail: every registration, consent event, allocation, correction, import and token
change, appended in the same transaction as the change it records.

Each entry's hash is SHA-256 over the previous entry's hash and the entry's full content in a
canonical JSON form, so altering, removing or reordering any entry breaks every later hash.
Appends lock the single ``audit_head`` row, so concurrent transactions cannot fork the chain.
On PostgreSQL (and SQLite) a trigger refuses UPDATE and DELETE on ``audit_entry``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fiptrial.extensions import db
from fiptrial.models import AuditEntry, AuditHead
from fiptrial.services.transaction import locked

GENESIS_HASH = "0" * 64
VERIFY_BATCH = 5000


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


AUDIT_COLUMNS = (
    AuditEntry.id,
    AuditEntry.recorded_at,
    AuditEntry.actor,
    AuditEntry.action,
    AuditEntry.entity,
    AuditEntry.entity_id,
    AuditEntry.site,
    AuditEntry.data,
    AuditEntry.prev_hash,
    AuditEntry.hash,
)


def entry_content(entry: Any) -> str:
    """The hashed content of an entry (an ``AuditEntry`` or a row of ``AUDIT_COLUMNS``)."""
    return canonical_json(
        {
            "id": entry.id,
            "recorded_at": entry.recorded_at,
            "actor": entry.actor,
            "action": entry.action,
            "entity": entry.entity,
            "entity_id": entry.entity_id,
            "site": entry.site,
            "data": entry.data,
        }
    )


def chain_hash(prev_hash: str, content: str) -> str:
    return hashlib.sha256((prev_hash + "\n" + content).encode()).hexdigest()


def record(
    action: str,
    *,
    actor: str,
    entity: str,
    entity_id: Any,
    data: dict[str, Any] | None = None,
    site: str | None = None,
) -> AuditEntry:
    """Append one entry inside the caller's transaction (the caller commits)."""
    head = locked(db.session.query(AuditHead).filter_by(id=1)).one()
    entry = AuditEntry(
        id=head.last_id + 1,
        recorded_at=datetime.now(UTC).isoformat(timespec="microseconds"),
        actor=actor,
        action=action,
        entity=entity,
        entity_id=str(entity_id),
        site=site,
        data=canonical_json(data or {}),
        prev_hash=head.last_hash,
    )
    entry.hash = chain_hash(entry.prev_hash, entry_content(entry))
    head.last_id = entry.id
    head.last_hash = entry.hash
    db.session.add(entry)
    db.session.flush()
    return entry


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    entries: int
    first_broken: int | None = None
    problem: str | None = None

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": self.ok, "entries": self.entries}
        if not self.ok:
            body["first_broken"] = self.first_broken
            body["problem"] = self.problem
        return body


def verify_chain() -> ChainReport:
    """Recompute the whole chain in id order and name the first entry that does not fit."""
    expected_prev = GENESIS_HASH
    expected_id = 1
    count = 0
    last_id = 0
    while True:
        batch = (
            db.session.query(*AUDIT_COLUMNS)
            .filter(AuditEntry.id > last_id)
            .order_by(AuditEntry.id)
            .limit(VERIFY_BATCH)
            .all()
        )
        if not batch:
            break
        for entry in batch:
            count += 1
            if entry.id != expected_id:
                return ChainReport(False, count, expected_id, "entry missing from the chain")
            if entry.prev_hash != expected_prev:
                return ChainReport(False, count, entry.id, "previous hash does not match")
            if entry.hash != chain_hash(entry.prev_hash, entry_content(entry)):
                return ChainReport(False, count, entry.id, "content does not match its hash")
            expected_prev = entry.hash
            expected_id += 1
        last_id = batch[-1].id
    head = db.session.get(AuditHead, 1)
    if head is not None and (head.last_id != count or head.last_hash != expected_prev):
        return ChainReport(False, count, count + 1, "entries missing at the end of the chain")
    return ChainReport(True, count)
