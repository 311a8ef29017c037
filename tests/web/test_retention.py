"""Retention (issue 16): on a trial whose follow-up has ended the run deletes exactly what is
due, records it in the audit chain (which still verifies), and never touches the evidence."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from dateutil.relativedelta import relativedelta
from sqlalchemy import func
from web_support import seed_daily_work

from fiptrial.extensions import db
from fiptrial.models import (
    Agreement,
    Allocation,
    AuditEntry,
    ConsentEvent,
    ConversationCorrection,
    ConversationRecord,
    DataFreeze,
    ImportBatch,
    ImportTask,
    OutcomeEvent,
    Participant,
    ReadLogEntry,
    RetentionRun,
    Site,
)


def counts() -> dict[str, int]:
    """The trial's evidence, which retention never deletes."""
    return {
        model.__tablename__: db.session.query(func.count()).select_from(model).scalar()
        for model in (Participant, ConsentEvent, Allocation, OutcomeEvent, DataFreeze, ImportBatch)
    }


@pytest.fixture
def ended(app: Any, tmp_path: Any, seeded_snapshots: Any) -> dict[str, Any]:
    """The demo after a day of work, a spooled upload left behind, a read-log entry, and the day
    13 months after its last follow-up: free text, import files, report details and the
    pseudonym key are due (0, 0, 12 and 6 months); the read log (60 months) is not."""
    from fiptrial.services import readlog, retention
    from fiptrial.services.import_tasks import upload_folder
    from fiptrial.services.trials import get_trial

    ids = seeded_snapshots.load(app, "daily_work", seed_daily_work)
    site = db.session.query(Site).filter_by(code="brabantse_wal").one()
    db.session.add(
        ImportBatch(
            site_id=site.id,
            kind="outcomes",
            file_sha256="ab" * 32,
            plugin="brabantse_wal",
            plugin_version="1",
            mapping_version="1",
            rows=3,
            created_by="user:coordinator",
            report={
                "rows": 3,
                "rejected": [{"line": 2, "field": "Einddatum"}],
                "unmapped_codes": {"X1": 1},
            },
        )
    )
    db.session.commit()
    (upload_folder() / "import-seed-failed.upload").write_bytes(b"BSN;...")
    readlog.record(
        actor="user:coordinator",
        role="site_coordinator",
        action="participant.view",
        channel="web",
        trial_id=get_trial("fip-demo").id,
        participant_ids=[ids["talked"]],
    )
    trial = get_trial("fip-demo")
    end = retention.last_followup(trial)
    assert end is not None
    return {**ids, "trial": trial, "end": end, "today": end + relativedelta(months=13)}


def test_nothing_is_due_before_the_follow_up_ends(ended: dict[str, Any]) -> None:
    from fiptrial.services import retention

    assert retention.run(ended["end"] - relativedelta(days=1), actor="test") == {"fip-demo": {}}
    assert db.session.query(RetentionRun).count() == 0


def test_retention_deletes_exactly_what_is_due(ended: dict[str, Any], runner: Any) -> None:
    from fiptrial.services import freezes, retention
    from fiptrial.services.import_tasks import upload_folder

    before = counts()
    assert before["import_batch"] > 0 and before["data_freeze"] == 1
    pseudonyms = dict(db.session.query(Participant.id, Participant.pseudonym))
    units = dict(db.session.query(Participant.id, Participant.unit_key))
    assert db.session.query(Agreement).filter(Agreement.description != "").count() > 0
    assert db.session.query(ConversationCorrection).count() == 1
    audit_before = db.session.query(AuditEntry).count()

    result = runner.invoke(args=["retention", "run", "--today", ended["today"].isoformat()])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    deleted = retention.run(ended["today"], actor="test")  # a second run finds nothing more
    assert deleted == {"fip-demo": {}}

    [run] = db.session.query(RetentionRun).all()
    assert set(run.deleted) == {"free_text", "import_files", "import_reports", "pseudonym_key"}
    assert run.deleted["pseudonym_key"] == before["participant"]
    # Free text gone, the structured facts kept.
    assert db.session.query(Agreement).filter(Agreement.description != "").count() == 0
    notes = db.session.query(ConversationRecord).filter(ConversationRecord.notes.is_not(None))
    assert notes.count() == 0
    [correction] = db.session.query(ConversationCorrection).all()
    assert correction.reason_text is None and "notes" not in correction.before
    assert "status" in correction.before
    # Import files and names gone, report counts kept.
    assert not (upload_folder() / "import-seed-failed.upload").exists()
    tasks = db.session.query(ImportTask).filter(ImportTask.status.in_(("done", "failed"))).all()
    assert tasks and all(t.filename == "" for t in tasks)
    for batch in db.session.query(ImportBatch):
        assert batch.report["details_deleted"] is True
        assert not any(isinstance(v, list | dict) for v in batch.report.values())
    # The pseudonym key: every pseudonym replaced, units still one-to-one.
    after = dict(db.session.query(Participant.id, Participant.pseudonym))
    assert after.keys() == pseudonyms.keys()
    assert all(after[p] != pseudonyms[p] for p in after)
    assert len(set(after.values())) == len(after)
    new_units = dict(db.session.query(Participant.id, Participant.unit_key))
    pairs = {(units[p], new_units[p]) for p in units if units[p] is not None}
    assert len({old for old, _ in pairs}) == len(pairs) == len({new for _, new in pairs})
    # Not due: the read log. Never deleted: the evidence, withdrawal included.
    assert db.session.query(ReadLogEntry).count() >= 1
    assert counts() == before
    assert db.session.get(Participant, ended["withdrawn"]) is not None
    freeze = db.session.get_one(DataFreeze, ended["freeze"])
    check = freezes.verify_freeze(freeze)
    assert check.export_hash_ok and check.report_hash_ok and check.identical
    # Recorded in the audit chain, which still verifies.
    [entry] = db.session.query(AuditEntry).filter_by(action="retention.deleted").all()
    assert entry.id > audit_before
    verified = runner.invoke(args=["audit", "verify"])
    assert verified.exit_code == 0, verified.output
    assert "ok" in verified.output.lower()


def test_after_the_key_is_destroyed_no_bsn_reaches_the_trial(ended: dict[str, Any]) -> None:
    from fiptrial.errors import PlatformError
    from fiptrial.services import retention
    from fiptrial.services.participants import register
    from fiptrial.services.trials import get_site

    retention.run(ended["today"], actor="test")
    with pytest.raises(PlatformError) as refused:
        register(get_site("brabantse_wal"), {"bsn": "999998523", "birth_date": date(1980, 1, 1),
                 "sex": "male", "benefit_start": date(2021, 1, 1)}, actor="test")  # fmt: skip
    assert refused.value.code == "pseudonym_key_destroyed"
    assert "999998523" not in str(refused.value)


def test_the_read_log_goes_when_its_time_has_come(ended: dict[str, Any]) -> None:
    from fiptrial.services import retention

    trial = ended["trial"]
    retention.set_schedule(trial, {"read_log": 12}, actor="test")
    deleted = retention.run(ended["today"], actor="test")["fip-demo"]
    assert deleted["read_log"] >= 1
    assert db.session.query(ReadLogEntry).filter_by(trial_id=trial.id).count() == 0


def test_a_schedule_outside_its_range_is_refused_by_name(ended: dict[str, Any]) -> None:
    from fiptrial.errors import PlatformError
    from fiptrial.services import retention

    for bad in ({"read_log": -1}, {"everything": 3}):
        with pytest.raises(PlatformError) as refused:
            retention.set_schedule(ended["trial"], bad, actor="test")
        assert next(iter(bad)) in refused.value.fields


def test_logins_leave_the_read_log_after_the_platform_period(ended: dict[str, Any]) -> None:
    """Entries of no trial (logins) follow READ_LOG_KEEP_MONTHS (60), not a trial's schedule."""
    from datetime import UTC, datetime

    from fiptrial.services import readlog, retention

    readlog.record(actor="user:admin", role="research_admin", action="login", channel="web")
    entry_id = readlog.record(
        actor="user:admin", role="research_admin", action="login.failed", channel="web"
    )
    now = datetime.now(UTC).date()
    assert retention.run(now, actor="test").get("(platform)") is None  # nothing that old
    later = now + relativedelta(months=61)
    deleted = retention.run(later, actor="test", trial_code=None)
    assert deleted["(platform)"] == {"read_log": 2}
    assert db.session.get(ReadLogEntry, entry_id) is None
    [entry] = db.session.query(AuditEntry).filter_by(entity="read_log").all()
    assert entry.action == "retention.deleted"
