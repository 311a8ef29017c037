"""The audit trail: chained, append-only in the database, and tampering is detected."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from fiptrial.extensions import db
from fiptrial.models import AuditEntry
from fiptrial.services import audit, randomisation


def populate(build: Any) -> None:
    site = build.site(build.trial())
    for _ in range(3):
        randomisation.allocate(build.participant(site).id, actor="test")


def test_every_change_is_chained(build: Any) -> None:
    populate(build)
    actions = [e.action for e in db.session.query(AuditEntry).order_by(AuditEntry.id)]
    assert actions[:3] == ["trial.created", "consent_form.registered", "site.created"]
    assert actions.count("participant.registered") == 3
    assert actions.count("consent.given") == 3
    assert actions.count("allocation.created") == 3
    assert "randomisation.block_committed" in actions
    report = audit.verify_chain()
    assert report.ok and report.entries == len(actions)


def tamper(sql: str) -> None:
    """Change the trail behind the triggers' back, as a database superuser could."""
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("SET LOCAL session_replication_role = replica"))
        db.session.execute(text(sql))
    else:
        db.session.execute(text("DROP TRIGGER audit_entry_no_update"))
        db.session.execute(text("DROP TRIGGER audit_entry_no_delete"))
        db.session.execute(text(sql))
    db.session.commit()


@pytest.mark.parametrize(
    "sql, broken, problem",
    [
        ('UPDATE audit_entry SET data = \'{"arm":"fip"}\' WHERE id = 5', 5, "content"),
        ("UPDATE audit_entry SET recorded_at = '2020-01-01T00:00:00' WHERE id = 4", 4, "content"),
        ("DELETE FROM audit_entry WHERE id = 6", 6, "missing"),
        ("UPDATE audit_entry SET hash = prev_hash WHERE id = 3", 3, "content"),
    ],
)
def test_tampering_is_detected_and_named(
    build: Any, runner: Any, sql: str, broken: int, problem: str
) -> None:
    populate(build)
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0
    tamper(sql)
    report = audit.verify_chain()
    assert not report.ok and report.first_broken == broken and problem in report.problem
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert f"entry {broken}" in result.output


def test_removing_the_last_entries_is_detected(build: Any) -> None:
    populate(build)
    last = db.session.query(db.func.max(AuditEntry.id)).scalar()
    tamper(f"DELETE FROM audit_entry WHERE id = {last}")
    report = audit.verify_chain()
    assert not report.ok and report.first_broken == last


def test_a_user_is_one_entity_whichever_service_writes_about_it(build: Any) -> None:
    """The coordinator's client manager and the admin's user are both "user" in the trail, so
    that the audit page's filter on users finds every entry about one."""
    from fiptrial.services import caseload
    from fiptrial.services.audit_reads import AuditFilters, audit_choices, audit_page
    from fiptrial.services.users import create_user

    site = build.site(build.trial())
    manager = caseload.add_client_manager(site, "km2", capacity=40, actor="test")
    caseload.set_capacity(manager.id, 50, actor="test")
    analyst = create_user(username="ana", role="analyst", password="Lang genoeg 12!", actor="test")
    found = audit_page(AuditFilters(entity="user")).rows
    assert [(e.action, e.entity_id) for e in reversed(found)] == [
        ("client_manager.created", str(manager.id)),
        ("client_manager.capacity_changed", str(manager.id)),
        ("user.created", str(analyst.id)),
    ]
    assert "app_user" not in audit_choices()["entities"]
