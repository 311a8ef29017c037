"""The analysis plan (issue 14): ``fiptrial analysis-plan show|set|freeze``, versions, the
refusal once frozen, the plan's SHA-256 in the audit chain, and the warning when the plan
changed after the first unblinded report."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from fiptrial.extensions import db
from fiptrial.models import AuditEntry
from fiptrial.services import audit


def _run(app: Any, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=["analysis-plan", *args])


def test_show_gives_the_documented_defaults(app: Any, build: Any) -> None:
    build.trial("t1")
    result = _run(app, "show", "--trial", "t1")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    plan = shown["plan"]
    assert plan["horizons_months"] == [12, 24, 36]
    assert plan["sustained_exit_days"] == 182
    assert plan["classes"]["competing"] == ["04", "05", "32", "33", "03"]
    assert "31" in plan["classes"]["administrative"] and "11" in plan["classes"]["primary"]
    assert shown["frozen"] is False and shown["stored"] is False
    assert "UNFROZEN ANALYSIS PLAN" in shown["warnings"][0]
    assert set(shown["reasons"]) >= {"primary", "competing", "administrative", "pension_age"}
    canonical = json.dumps(plan, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert shown["sha256"] == hashlib.sha256(canonical.encode()).hexdigest()


def test_set_makes_versions_and_refuses_bad_values_by_name(app: Any, build: Any) -> None:
    build.trial("t1")
    result = _run(app, "set", "--trial", "t1", "--horizons", "12,24", "--sustained-exit-days", "91")
    assert result.exit_code == 0, result.output
    result = _run(app, "set", "--trial", "t1", "--competing-codes", "04,05,03")
    assert result.exit_code != 0
    assert "32, 33 belong to no class" in result.output
    result = _run(app, "set", "--trial", "t1", "--primary-codes", "01,02,11,13,14,15,17,18,19,31")
    assert result.exit_code != 0 and "31 is in both primary and administrative" in result.output
    shown = json.loads(_run(app, "show", "--trial", "t1").output)
    assert shown["version"] == 1 and shown["plan"]["horizons_months"] == [12, 24]
    assert _run(app, "set", "--trial", "t1", "--hourly-cost", "80").exit_code == 0
    shown = json.loads(_run(app, "show", "--trial", "t1").output)
    assert shown["version"] == 2 and shown["plan"]["sustained_exit_days"] == 91
    assert [h["version"] for h in shown["history"]] == [1, 2]


def test_freeze_records_the_plan_and_its_hash_in_the_audit_chain(app: Any, build: Any) -> None:
    build.trial("t1")
    result = _run(app, "freeze", "--trial", "t1")
    assert result.exit_code == 0, result.output
    shown = json.loads(_run(app, "show", "--trial", "t1").output)
    assert shown["frozen"] is True and shown["warnings"] == []
    entry = db.session.query(AuditEntry).filter_by(action="analysis_plan.frozen").one()
    data = json.loads(entry.data)
    assert data["sha256"] == shown["sha256"] and data["plan"] == shown["plan"]
    assert audit.verify_chain().ok
    refused = _run(app, "set", "--trial", "t1", "--horizons", "12")
    assert refused.exit_code != 0 and "frozen" in refused.output
    again = _run(app, "freeze", "--trial", "t1")
    assert again.exit_code != 0 and "already frozen" in again.output


def test_a_change_after_the_first_unblinded_report_is_flagged(app: Any, build: Any) -> None:
    from fiptrial.services.analysis_plans import mark_unblinded_report, plan_file
    from fiptrial.services.trials import get_trial

    build.trial("t1")
    trial = get_trial("t1")
    mark_unblinded_report(trial, "test")
    assert plan_file(trial).changed_after_report is False
    assert _run(app, "set", "--trial", "t1", "--horizons", "24").exit_code == 0
    file = plan_file(trial)
    assert file.changed_after_report is True
    assert any("CHANGED AFTER THE FIRST UNBLINDED REPORT" in w for w in file.warnings)
    entries = db.session.query(AuditEntry).filter_by(action="analysis_plan.first_unblinded_report")
    assert entries.count() == 1
