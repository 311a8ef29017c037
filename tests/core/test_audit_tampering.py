"""The four tamperings of issue 9, each by someone who can write to the database (a superuser,
past the triggers) but does not hold the audit key, and each detected.

1. a forged entry appended, with ``audit_head`` updated to it;
2. the last entries deleted, with the head wound back (rewritten, or copied back from a
   backup: then the operator's anchor catches it);
3. a middle entry changed, with every later hash recomputed and the head updated;
4. two allocations' arms swapped together with their block's seed (a new seed whose block has
   those arms swapped), so that the rows re-derive perfectly.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text, update

from fiptrial.extensions import db
from fiptrial.models import Allocation, AuditEntry, AuditHead, RandomisationBlock
from fiptrial.services import audit, randomisation

TRIGGERS = (
    "audit_entry_no_update",
    "audit_entry_no_delete",
    "audit_head_no_delete",
    "audit_head_forward_only",
    "audit_head_single_row",
)


def populate(build: Any, n: int = 4) -> Any:
    site = build.site(build.trial())
    for _ in range(n):
        randomisation.allocate(build.participant(site).id, actor="test")
    return site


def as_superuser(*statements: Any) -> None:
    """Run statements (SQL with its parameters, or SQLAlchemy statements) past the triggers,
    as a database superuser (not the app) could."""
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("SET LOCAL session_replication_role = replica"))
    else:
        for name in TRIGGERS:
            db.session.execute(text(f"DROP TRIGGER IF EXISTS {name}"))
    for statement in statements:
        if isinstance(statement, tuple):
            db.session.execute(text(statement[0]), statement[1])
        else:
            db.session.execute(statement)
    db.session.commit()


def forged_hash(prev_hash: str, content: str) -> str:
    """The best an attacker without the key can do: the published recipe, unkeyed."""
    return hashlib.sha256((prev_hash + "\n" + content).encode()).hexdigest()


def head_row() -> Any:
    db.session.expire_all()
    return db.session.get(AuditHead, 1)


def verify_cli(runner: Any, *args: str) -> Any:
    return runner.invoke(args=["audit", "verify", *args])


def test_untampered_chain_verifies_with_and_without_an_anchor(
    build: Any, runner: Any, tmp_path: Path
) -> None:
    populate(build)
    anchor = tmp_path / "anchor.json"
    written = runner.invoke(args=["audit", "anchor", "--output", str(anchor)])
    assert written.exit_code == 0, written.output
    body = json.loads(anchor.read_text())
    assert body["last_id"] == head_row().last_id and len(body["signature"]) == 64
    assert verify_cli(runner).exit_code == 0
    assert verify_cli(runner, "--anchor", str(anchor)).exit_code == 0
    again = runner.invoke(args=["audit", "anchor", "--output", str(anchor)])
    assert again.exit_code == 1 and "never overwritten" in again.output
    stdout = runner.invoke(args=["audit", "anchor"])
    assert stdout.exit_code == 0 and json.loads(stdout.output)["last_id"] == body["last_id"]


def test_1_a_forged_entry_appended_with_the_head_updated(build: Any, runner: Any) -> None:
    populate(build)
    head = head_row()
    forged = AuditEntry(
        id=head.last_id + 1,
        recorded_at="2026-12-01T12:00:00.000000+00:00",
        actor="user:someone",
        action="allocation.created",
        entity="participant",
        entity_id="1",
        site="bw",
        data=audit.canonical_json({"arm": "fip"}),
        prev_hash=head.last_hash,
    )
    forged.hash = forged_hash(forged.prev_hash, audit.entry_content(forged))
    as_superuser(
        (
            "INSERT INTO audit_entry (id, recorded_at, actor, action, entity, entity_id, site, "
            "data, prev_hash, hash) VALUES (:id, :r, :a, :act, :e, :eid, :s, :d, :p, :h)",
            {
                "id": forged.id,
                "r": forged.recorded_at,
                "a": forged.actor,
                "act": forged.action,
                "e": forged.entity,
                "eid": forged.entity_id,
                "s": forged.site,
                "d": forged.data,
                "p": forged.prev_hash,
                "h": forged.hash,
            },
        ),
        (
            "UPDATE audit_head SET last_id = :i, last_hash = :h WHERE id = 1",
            {"i": forged.id, "h": forged.hash},
        ),
    )
    report = audit.verify_chain()
    assert not report.ok and report.first_broken == forged.id, report
    result = verify_cli(runner)
    assert result.exit_code == 1 and f"entry {forged.id}" in result.output


def test_2a_the_last_entries_deleted_and_the_head_rewritten(build: Any) -> None:
    populate(build)
    last = head_row().last_id
    keep = db.session.get(AuditEntry, last - 2)
    assert keep is not None
    as_superuser(
        ("DELETE FROM audit_entry WHERE id > :k", {"k": keep.id}),
        (
            "UPDATE audit_head SET last_id = :i, last_hash = :h WHERE id = 1",
            {"i": keep.id, "h": keep.hash},
        ),
    )
    report = audit.verify_chain()
    assert not report.ok and "HMAC" in (report.problem or ""), report


def test_2b_the_last_entries_deleted_and_an_old_head_copied_back(
    build: Any, runner: Any, tmp_path: Path
) -> None:
    """The head row of an earlier backup carries a valid HMAC of its own: only an anchor kept
    outside the database shows that entries after it existed."""
    site = populate(build)
    old = head_row()
    snapshot = {"i": old.last_id, "h": old.last_hash, "m": old.mac}
    randomisation.allocate(build.participant(site).id, actor="test")
    anchor = tmp_path / "anchor.json"
    assert runner.invoke(args=["audit", "anchor", "--output", str(anchor)]).exit_code == 0
    as_superuser(
        ("DELETE FROM audit_entry WHERE id > :i", {"i": snapshot["i"]}),
        ("UPDATE audit_head SET last_id = :i, last_hash = :h, mac = :m WHERE id = 1", snapshot),
    )
    result = verify_cli(runner, "--anchor", str(anchor))
    assert result.exit_code == 1, result.output
    assert "entries missing at the end of the chain" in result.output
    assert f"holds {json.loads(anchor.read_text())['last_id']}" in result.output


def test_3_a_middle_entry_changed_with_every_later_hash_recomputed(build: Any) -> None:
    populate(build)
    entries = db.session.query(AuditEntry).order_by(AuditEntry.id).all()
    middle = len(entries) // 2
    rows = [
        {c: getattr(e, c) for c in ("id", "recorded_at", "actor", "action", "entity",
                                    "entity_id", "site", "data", "prev_hash", "hash")}
        for e in entries
    ]  # fmt: skip
    rows[middle]["actor"] = "user:someone-else"
    for i in range(middle, len(rows)):
        rows[i]["prev_hash"] = rows[i - 1]["hash"]
        rows[i]["hash"] = forged_hash(
            rows[i]["prev_hash"], audit.entry_content(type("E", (), rows[i])())
        )
    statements = [
        (
            "UPDATE audit_entry SET actor = :actor, prev_hash = :prev_hash, hash = :hash "
            "WHERE id = :id",
            row,
        )
        for row in rows[middle:]
    ]
    statements.append(
        (
            "UPDATE audit_head SET last_hash = :h, last_id = :i WHERE id = 1",
            {"h": rows[-1]["hash"], "i": rows[-1]["id"]},
        )
    )
    as_superuser(*statements)
    report = audit.verify_chain()
    assert not report.ok and report.first_broken == rows[middle]["id"], report
    assert "content" in (report.problem or "")


def test_4_two_arms_swapped_together_with_their_blocks_seed(build: Any, runner: Any) -> None:
    site = build.site(build.trial(block_multipliers=[1]), arm_ratios={"fip": 1, "control": 1})
    first, second = (
        randomisation.allocate(build.participant(site).id, actor="test") for _ in range(2)
    )
    assert first.block_id == second.block_id and {first.arm, second.arm} == {"fip", "control"}
    block = db.session.get(RandomisationBlock, first.block_id)
    assert block is not None
    swapped = list(reversed(block.arms))
    from fiptrial.services.random_source import new_seed

    seed = next(
        s
        for s in iter(new_seed, None)
        if randomisation.derive_block(s, block.ratios, block.multipliers) == swapped
    )
    as_superuser(
        ("UPDATE allocation SET arm = :a WHERE id = :i", {"a": second.arm, "i": first.id}),
        ("UPDATE allocation SET arm = :a WHERE id = :i", {"a": first.arm, "i": second.id}),
        update(RandomisationBlock.__table__)
        .where(RandomisationBlock.id == block.id)
        .values(seed=seed, arms=swapped),
    )
    db.session.expire_all()
    assert {a.arm for a in db.session.query(Allocation)} == {"fip", "control"}
    problems = randomisation.verify_trial(site.trial)
    assert f"block {block.id}'s seed differs from its audited commitment" in problems
    assert f"allocation {first.id}'s arm differs from its audit entry" in problems
    assert f"allocation {second.id}'s arm differs from its audit entry" in problems
    result = runner.invoke(args=["randomisation", "verify", "--trial", site.trial.code])
    assert result.exit_code == 1
    assert audit.verify_chain().ok  # the chain itself was not touched: the rows were


def test_an_anchor_whose_signature_was_changed_is_refused(
    build: Any, runner: Any, tmp_path: Path
) -> None:
    populate(build)
    anchor = tmp_path / "anchor.json"
    assert runner.invoke(args=["audit", "anchor", "--output", str(anchor)]).exit_code == 0
    body = json.loads(anchor.read_text())
    body["last_id"] += 5
    anchor.write_text(json.dumps(body))
    result = verify_cli(runner, "--anchor", str(anchor))
    assert result.exit_code == 1 and "signature does not match" in result.output
    anchor.write_text("not an anchor")
    unreadable = verify_cli(runner, "--anchor", str(anchor))
    assert unreadable.exit_code == 1 and "not an audit anchor" in unreadable.output


def test_no_anchor_of_a_broken_chain(build: Any, runner: Any) -> None:
    populate(build)
    as_superuser(("UPDATE audit_entry SET actor = 'x' WHERE id = 3", {}))
    result = runner.invoke(args=["audit", "anchor"])
    assert result.exit_code == 1 and "broken at entry 3" in result.output


@pytest.mark.parametrize(
    ("statement", "refusal"),
    [
        ("UPDATE audit_entry SET actor = 'someone else' WHERE id = 2", "append-only"),
        ("DELETE FROM audit_entry WHERE id = 2", "append-only"),
        ("DELETE FROM audit_head", "only moves forward"),
        ("UPDATE audit_head SET last_id = last_id - 1", "only moves forward"),
        ("UPDATE audit_head SET keyed_from = 100", "only moves forward"),
        (
            "INSERT INTO audit_head (id, last_id, last_hash, keyed_from) VALUES (2, 0, 'x', 1)",
            "only moves forward",
        ),
    ],
)
def test_the_database_refuses_to_change_the_trail_or_wind_the_head_back(
    build: Any, statement: str, refusal: str
) -> None:
    """The triggers keep the entries append-only and the head moving forward only."""
    from sqlalchemy.exc import DBAPIError

    populate(build)
    with pytest.raises(DBAPIError, match=refusal):
        db.session.execute(text(statement))
    db.session.rollback()
    assert audit.verify_chain().ok
