"""``fiptrial demo``: three years of the study, through the platform's own services.

One small demo is built per module (tests/demo/conftest.py) and read by the tests; the test that
uploads next month's export comes last, as it adds to the demo.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from datetime import date, timedelta
from typing import Any

from dateutil.relativedelta import relativedelta
from sqlalchemy import func, select


def test_demo_plays_three_years_through_the_services(small_demo: Any) -> None:
    from fiptrial.demo.story import trial_start
    from fiptrial.extensions import db
    from fiptrial.models import (
        Agreement,
        Allocation,
        AuditEntry,
        CohortRandomisation,
        ConsentEvent,
        ConversationDomain,
        ConversationRecord,
        HeldRow,
        ImportBatch,
        Intervention,
        OutcomeEvent,
        Participant,
        Site,
    )
    from fiptrial.services.trials import get_trial
    from fiptrial.timezone import local_date, local_today

    _app, summary = small_demo
    trial = get_trial("fip-demo")
    today = local_today()
    assert trial.start_date == trial_start(today)
    assert trial.start_date <= today - relativedelta(years=3) < trial.start_date + timedelta(31)
    assert summary["synthetic"] is True and trial.synthetic

    # Brabantse Wal: one cohort at the start; the template sites join later, staggered, and
    # allocate each client by permuted blocks at their own ratio.
    sites = {s.code: s for s in db.session.query(Site)}
    assert set(sites) == {"brabantse_wal", "breda", "tilburg", "eindhoven"}
    cohort = db.session.query(CohortRandomisation).one()
    assert cohort.site_id == sites["brabantse_wal"].id
    first_allocation = {
        code: local_date(
            db.session.scalar(select(func.min(Allocation.allocated_at)).filter_by(site_id=s.id))
        )
        for code, s in sites.items()
    }
    assert first_allocation["brabantse_wal"] == trial.start_date + timedelta(days=14)
    assert (
        first_allocation["brabantse_wal"]
        < first_allocation["breda"]
        < first_allocation["tilburg"]
        < first_allocation["eindhoven"]
    )
    methods = Counter(
        (code, m)
        for code, m in db.session.execute(
            select(Site.code, Allocation.method).join(Site, Site.id == Allocation.site_id)
        )
    )
    assert methods[("breda", "permuted_blocks")] > 0 and methods[("tilburg", "permuted_blocks")]
    assert sites["tilburg"].arm_ratios == {"fip": 1, "control": 2}

    # Consent as the design asks: given before every allocation; some declined, some withdrew.
    given = dict(
        db.session.execute(
            select(ConsentEvent.participant_id, func.min(ConsentEvent.date))
            .where(ConsentEvent.status == "given")
            .group_by(ConsentEvent.participant_id)
        ).all()
    )
    for pid, at in db.session.execute(select(Allocation.participant_id, Allocation.allocated_at)):
        assert given[pid] <= local_date(at)
    statuses = Counter(db.session.scalars(select(ConsentEvent.status)))
    assert statuses["declined"] > 0 and statuses["withdrawn"] > 0

    # Import history: several dozen batches per site, each dated when its export arrived.
    for code, site in sites.items():
        batches = db.session.query(ImportBatch).filter_by(site_id=site.id).all()
        assert len(batches) >= 24, code  # a month without news repeats its file: no batch
        days = sorted(local_date(b.created_at) for b in batches if b.kind == "outcomes")
        assert days[-1] < today.replace(day=1) and days[0] > trial.start_date
    kinds = Counter(db.session.scalars(select(OutcomeEvent.kind)))
    assert kinds["exit"] > 50 and kinds["reentry"] > 0 and kinds["correction"] > 0
    linked = db.session.query(ImportBatch).filter(ImportBatch.kind == "outcomes").all()
    assert sum(b.report.get("transfers_linked", 0) for b in linked) > 0  # moves without a code
    codes = Counter(db.session.scalars(select(OutcomeEvent.bus_code)))
    assert codes["04"] > 0 and codes["32"] + codes["33"] > 0  # deaths and moves out
    assert db.session.query(HeldRow).count() > 0  # unknown local codes held back
    ineligible = db.session.query(Participant).filter_by(eligible=False).count()
    assert ineligible > 0  # new benefits (under six months) are assessed and excluded

    # Conversations over the three years: held and missed, domains with movement, agreements
    # followed up, small and large interventions started and ended.
    held = db.session.scalars(
        select(ConversationRecord.held_on).where(ConversationRecord.status == "held")
    ).all()
    assert max(held) - min(held) > timedelta(days=2 * 365)
    assert db.session.query(ConversationRecord).filter_by(status="missed").count() > 0
    moved = Counter(db.session.scalars(select(ConversationDomain.moved_forward)))
    assert moved[True] > 0 and moved[False] > 0
    kept = Counter(db.session.scalars(select(Agreement.kept)))
    assert kept[True] > 0 and kept[False] > 0
    types = set(db.session.scalars(select(Intervention.type)))
    assert types & {"volunteering", "financial"} and types & {"reintegration_activation", "health",
                                                              "support_services"}  # fmt: skip
    assert db.session.query(Intervention).filter(Intervention.ended_on.isnot(None)).count() > 0

    # The clock was not faked: past facts have past dates, the audit entries the real time.
    allocated = (
        db.session.query(AuditEntry).filter_by(action="allocation.created").order_by(AuditEntry.id)
    ).first()
    assert allocated is not None
    assert json.loads(allocated.data)["allocated_at"].startswith(
        first_allocation["brabantse_wal"].isoformat()
    )
    assert allocated.recorded_at.startswith(date.today().isoformat()[:7])


def test_audit_randomisation_and_freezes_verify_on_the_demo(small_demo: Any) -> None:
    from fiptrial.models import DataFreeze
    from fiptrial.services.freezes import verify_freeze

    app, _summary = small_demo
    runner = app.test_cli_runner()
    audit = runner.invoke(args=["audit", "verify"])
    assert audit.exit_code == 0, audit.output
    assert json.loads(audit.output)["ok"] is True
    verified = runner.invoke(args=["randomisation", "verify", "--trial", "fip-demo"])
    assert verified.exit_code == 0, verified.output
    assert json.loads(verified.output.splitlines()[-1]) == {"ok": True, "problems": 0}
    from fiptrial.extensions import db
    from fiptrial.services.trials import get_trial

    trial = get_trial("fip-demo")
    freezes = db.session.query(DataFreeze).order_by(DataFreeze.cutoff).all()
    assert trial.start_date is not None
    assert [f.cutoff for f in freezes] == [
        trial.start_date + relativedelta(years=year, days=-1) for year in (1, 2, 3)
    ]
    for freeze in freezes:
        check = verify_freeze(freeze)
        assert check.export_hash_ok and check.report_hash_ok and check.identical, check


def test_scheduler_jobs_ran_for_their_days(small_demo: Any) -> None:
    from fiptrial.extensions import db
    from fiptrial.models import FollowupRound, JobRun, PlannedConversation

    keys = Counter(job for (job,) in db.session.execute(select(JobRun.job_id)))
    assert keys["nightly_overdue"] >= 34 and keys["followup_rounds:brabantse_wal"] >= 34
    rounds = Counter(db.session.scalars(select(FollowupRound.status)))
    assert rounds["received"] >= 30 and rounds["open"] + rounds["late"] >= 1  # next month's
    replanned = db.session.scalar(select(func.sum(PlannedConversation.replanned_count)))
    assert replanned and replanned > 0


def test_next_months_export_uploaded_changes_the_report(small_demo: Any, tmp_path: Any) -> None:
    """What a newcomer does: write next month's export, upload it, see the report change."""
    from fiptrial.extensions import db
    from fiptrial.models import ImportBatch
    from fiptrial.services import exports
    from fiptrial.services.imports.outcomes import WITHDRAWN_REASON
    from fiptrial.services.tokens import create_token
    from fiptrial.services.trials import get_trial

    app, summary = small_demo
    out = tmp_path / "export.csv"
    runner = app.test_cli_runner()
    wrong = runner.invoke(args=["demo-export", "--site", "brabantse_wal", "--month", "2040-01",
                                str(out)])  # fmt: skip
    assert wrong.exit_code == 1 and "month" in wrong.output
    written = runner.invoke(args=["demo-export", "--site", "brabantse_wal", str(out)])
    assert written.exit_code == 0, written.output
    described = json.loads(written.output)
    assert described["month"] == summary["next_export_month"] and described["rows"] > 100

    trial = get_trial("fip-demo")
    before = exports.analyse(exports.build_export(trial))
    client = app.test_client()
    added = Counter()
    for site in trial.sites:  # every site's file: a small demo has few exits a month per site
        path = out if site.code == "brabantse_wal" else tmp_path / f"{site.code}.csv"
        if site.code != "brabantse_wal":
            assert (
                runner.invoke(args=["demo-export", "--site", site.code, str(path)]).exit_code == 0
            )
        batches = db.session.query(ImportBatch).filter_by(site_id=site.id).count()
        _row, token = create_token(role="site_coordinator", site=site, actor="test")
        upload = client.post(
            f"/api/v1/sites/{site.code}/outcome-imports",
            data={"file": (io.BytesIO(path.read_bytes()), path.name)},
            headers={"Authorization": f"Bearer {token}"},
        )
        report = upload.get_json()
        if upload.status_code == 200:  # a quiet month at a tiny site repeats the last file
            assert report["duplicate_of"] is not None
            continue
        assert upload.status_code == 201, report
        assert report["matched"] > 0
        # The only rows refused: those dated after a participant withdrew (nothing collected).
        reasons = {r.get("code") or r["reason"] for r in report["rejected"]}
        assert reasons <= {"row_after_withdrawal", WITHDRAWN_REASON}, report["rejected"]
        added.update({"exits": report["exits"], "corrections": report["corrections"]})
        assert db.session.query(ImportBatch).filter_by(site_id=site.id).count() == batches + 1
        again = client.post(
            f"/api/v1/sites/{site.code}/outcome-imports",
            data={"file": (io.BytesIO(path.read_bytes()), path.name)},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert again.get_json()["duplicate_of"] == report["batch"]  # the same file: nothing
    assert added["exits"] > 0
    after = exports.analyse(exports.build_export(trial))

    def exits(report: dict[str, Any]) -> int:
        return sum(arm["exits"] for arm in report["arms"].values())

    assert exits(after) > exits(before)
