"""The audit trail: every registration, consent event, allocation, correction, import and token
change, appended in the same transaction as the change it records.

Each entry's hash is an HMAC-SHA256, keyed with the audit key, over the previous entry's hash
and the entry's full content in a canonical JSON form, so altering, removing or reordering any
entry breaks every later hash -- and whoever can write to the database but does not hold the
key (kept outside it, like the pseudonym key: ``FIPTRIAL_AUDIT_KEY`` or ``instance/audit.key``)
cannot recompute them: a forged entry, or a changed one with every later hash recomputed, is
named by ``verify_chain``. The single ``audit_head`` row carries the last id and hash with an
HMAC of its own (``mac``), so deleting the last entries and winding the head back is detected
too; a head copied back from an old backup is caught by an **anchor**: ``fiptrial audit anchor``
writes the signed head to a file the operator keeps, ``fiptrial audit verify --anchor FILE``
checks that the chain still holds it.

Appends lock the single ``audit_head`` row, so concurrent transactions cannot fork the chain.
Triggers (SQLite and PostgreSQL) refuse UPDATE and DELETE on ``audit_entry``, and any change of
``audit_head`` but moving forward; on PostgreSQL the application's role does not own the tables,
so it can neither disable the triggers nor bypass them (README, "PostgreSQL roles").

Entries recorded before the chain was keyed (migration ``0013_trust_integrity``; ids below
``audit_head.keyed_from``) keep their plain SHA-256 hashes and are verified as such; the head's
HMAC covers ``keyed_from``, so it cannot be moved to unkey later entries.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from flask import current_app
from sqlalchemy import inspect

from fiptrial.errors import Unprocessable
from fiptrial.extensions import db
from fiptrial.models import AuditEntry, AuditHead, Participant, Site
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


def audit_key() -> bytes:
    """The key of the chain, from the app's settings (never stored in the database)."""
    return str(current_app.config["AUDIT_KEY"]).encode()


def chain_hash(prev_hash: str, content: str, key: bytes | None) -> str:
    """HMAC-SHA256 of an entry under ``key``; plain SHA-256 for entries before the keying."""
    message = (prev_hash + "\n" + content).encode()
    if key is None:
        return hashlib.sha256(message).hexdigest()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def head_mac(last_id: int, last_hash: str, keyed_from: int, key: bytes) -> str:
    """The HMAC of the head row: its last id and hash, and where the keyed chain begins."""
    message = f"audit_head\n{last_id}\n{last_hash}\n{keyed_from}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _locked_head() -> AuditHead:
    """The ``audit_head`` row, locked for the rest of the transaction.

    The first append of a transaction reads it under the lock (``FOR NO KEY UPDATE``; SQLite
    holds its write lock already); later appends of the same transaction (a cohort, a batch of
    entries) keep that copy: nobody else can change the row until this transaction ends, so
    reading it again would only cost a query. The copy is keyed by the session's transaction,
    so a new transaction reads and locks it afresh. A savepoint rolled back expires the copy
    (SQLAlchemy does; PostgreSQL may have released the lock with it), so an expired copy is
    read and locked again too.
    """
    session = db.session()
    transaction = session.get_transaction()
    held = session.info.get("fiptrial_audit_head")
    if held is not None and held[0] is transaction and held[1] in session:
        state = inspect(held[1])
        if not state.expired and not state.unloaded:
            return cast(AuditHead, held[1])
    head = locked(db.session.query(AuditHead).filter_by(id=1)).one()
    session.info["fiptrial_audit_head"] = (transaction, head)
    return head


def record(
    action: str,
    *,
    actor: str,
    entity: str,
    entity_id: Any,
    data: dict[str, Any] | None = None,
    site: str | None = None,
) -> AuditEntry:
    """Append one entry inside the caller's transaction (the caller commits).

    The entry and the moved head are written by the session's next flush (at the latest the
    commit), so the entries of one transaction go in as one multi-row insert."""
    head = _locked_head()
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
    key = audit_key() if entry.id >= head.keyed_from else None
    entry.hash = chain_hash(entry.prev_hash, entry_content(entry), key)
    head.last_id = entry.id
    head.last_hash = entry.hash
    head.mac = head_mac(head.last_id, head.last_hash, head.keyed_from, audit_key())
    db.session.add(entry)  # inserted with the transaction's next flush, in id order
    return entry


def record_created(
    action: str, row: Any, *, actor: str, data: dict[str, Any], site: str | None = None
) -> AuditEntry:
    """Add a new row to the session, flush it for its id, and append the entry recording its
    creation (the caller commits).

    The entry's entity is the row's table (:func:`record_about`). ``data`` is built by the
    caller before the flush: it may hold what the caller set on the row, not the columns'
    defaults (those are filled in by the flush).
    """
    db.session.add(row)
    db.session.flush()
    return record_about(action, row, actor=actor, site=site, data=data)


def record_about(
    action: str, row: Any, *, actor: str, data: dict[str, Any], site: str | None = None
) -> AuditEntry:
    """Append an entry about one row (a round, a batch, a planned conversation), named by the
    row's table (or the model's ``audit_entity``) and id: the entity cannot drift from the name
    the row's creation carries."""
    entity = getattr(type(row), "audit_entity", row.__tablename__)
    return record(action, actor=actor, entity=entity, entity_id=row.id, site=site, data=data)


def record_for_participant(
    action: str,
    participant: Participant,
    *,
    actor: str,
    data: dict[str, Any],
    about: tuple[str, Any] | None = None,
) -> AuditEntry:
    """Append an entry about one participant, kept at the participant's site.

    By default the entry is about the participant itself (consent, allocation, caseload). An
    entry ``about`` one of the participant's rows (its entity and id: a conversation record, an
    intervention) names the participant in its data, so that the participant's history finds
    it as well.
    """
    entity, entity_id = about or ("participant", participant.id)
    if about is not None:
        data = {"participant_id": participant.id, **data}
    return record(
        action,
        actor=actor,
        entity=entity,
        entity_id=entity_id,
        site=participant.site.code,
        data=data,
    )


def record_for_site(action: str, site: Site, *, actor: str, data: dict[str, Any]) -> AuditEntry:
    """Append an entry about a site as a whole (its settings, its plan, its caseload), kept at
    the site."""
    return record(action, actor=actor, entity="site", entity_id=site.id, site=site.code, data=data)


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


@dataclass(frozen=True)
class Anchor:
    """The head of the chain at a moment, signed with the audit key, kept outside the
    database by an operator: later, the chain must still hold entry ``last_id`` with
    ``last_hash``."""

    last_id: int
    last_hash: str
    taken_at: str
    signature: str

    @staticmethod
    def sign(last_id: int, last_hash: str, taken_at: str, key: bytes) -> str:
        message = f"audit_anchor\n{last_id}\n{last_hash}\n{taken_at}".encode()
        return hmac.new(key, message, hashlib.sha256).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        return {
            "last_id": self.last_id,
            "last_hash": self.last_hash,
            "taken_at": self.taken_at,
            "signature": self.signature,
        }

    @classmethod
    def from_text(cls, text: str) -> Anchor:
        """Read an anchor file; a clear error when it is not one or its signature is wrong."""
        try:
            body = json.loads(text)
            anchor = cls(
                int(body["last_id"]),
                str(body["last_hash"]),
                str(body["taken_at"]),
                str(body["signature"]),
            )
        except (ValueError, KeyError, TypeError):
            raise Unprocessable(
                "the anchor file is not an audit anchor (JSON with last_id, last_hash, "
                "taken_at and signature)",
                code="anchor_unreadable",
            ) from None
        expected = cls.sign(anchor.last_id, anchor.last_hash, anchor.taken_at, audit_key())
        if not hmac.compare_digest(expected, anchor.signature):
            raise Unprocessable(
                "the anchor's signature does not match: it was changed, or made with another "
                "audit key",
                code="anchor_signature",
            )
        return anchor


def last_entry_id() -> int:
    """The id of the newest audit entry (0 before the first): every change moves it on."""
    head = db.session.get(AuditHead, 1)
    return head.last_id if head else 0


def make_anchor() -> Anchor:
    """Sign the current head, after checking the whole chain (never anchor a broken one)."""
    report = verify_chain()
    if not report.ok:
        raise Unprocessable(
            f"the audit chain is broken at entry {report.first_broken} ({report.problem}): "
            "no anchor written",
            code="audit_chain_broken",
        )
    head = db.session.get(AuditHead, 1)
    assert head is not None  # created by the first migration
    taken_at = datetime.now(UTC).isoformat(timespec="seconds")
    signature = Anchor.sign(head.last_id, head.last_hash, taken_at, audit_key())
    return Anchor(head.last_id, head.last_hash, taken_at, signature)


def read_anchor(path: Path) -> Anchor:
    return Anchor.from_text(path.read_text(encoding="utf-8"))


def verify_chain(anchor: Anchor | None = None) -> ChainReport:
    """Recompute the whole chain in id order and name the first entry that does not fit;
    then check the head's HMAC and, with an ``anchor``, that the chain still holds it."""
    key = audit_key()
    head = db.session.get(AuditHead, 1)
    keyed_from = head.keyed_from if head is not None else 1
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
            entry_key = key if entry.id >= keyed_from else None
            if not hmac.compare_digest(
                entry.hash, chain_hash(entry.prev_hash, entry_content(entry), entry_key)
            ):
                return ChainReport(False, count, entry.id, "content does not match its hash")
            if anchor is not None and entry.id == anchor.last_id and entry.hash != anchor.last_hash:
                return ChainReport(False, count, entry.id, "entry differs from the anchor")
            expected_prev = entry.hash
            expected_id += 1
        last_id = batch[-1].id
    if anchor is not None and count < anchor.last_id:
        return ChainReport(
            False,
            count,
            count + 1,
            f"entries missing at the end of the chain: it ends at {count}, the anchor of "
            f"{anchor.taken_at} holds {anchor.last_id}",
        )
    if head is None or head.last_id != count or head.last_hash != expected_prev:
        return ChainReport(False, count, count + 1, "entries missing at the end of the chain")
    if head.mac is None or not hmac.compare_digest(
        head.mac, head_mac(head.last_id, head.last_hash, head.keyed_from, key)
    ):
        return ChainReport(
            False, count, count + 1, "the audit head does not match its HMAC: it was rewritten"
        )
    return ChainReport(True, count)
