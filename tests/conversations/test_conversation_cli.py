"""The operator commands for FIP delivery: client managers, plans, fidelity, scheduled jobs."""

from __future__ import annotations

import json
from typing import Any

from fiptrial.extensions import db
from fiptrial.models import User


def test_client_manager_add_and_plan_json(fip: Any, runner: Any) -> None:
    site = fip.site(managers=0)
    for name in ("km_a", "km_b"):
        result = runner.invoke(
            args=[
                "client-manager",
                "add",
                "--site",
                site.code,
                "--username",
                name,
                "--capacity",
                "5",
            ]
        )
        assert result.exit_code == 0, result.output
    assert "10 FIP places" in result.output
    assert db.session.query(User).filter_by(role="client_manager").count() == 2
    fip.bulk_fip(site, 8)
    result = runner.invoke(
        args=["plan", "--site", site.code, "--create", "--start", "2026-11-02", "--json"]
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert len(rows) == 32
    assert set(rows[0]) == {
        "participant",
        "client_manager",
        "date",
        "minutes",
        "sequence",
        "status",
    }
    assert {r["client_manager"] for r in rows} == {"km_a", "km_b"}
    assert sorted(r["sequence"] for r in rows if r["participant"] == rows[0]["participant"]) == [
        1,
        2,
        3,
        4,
    ]


def test_client_manager_add_rejects_a_duplicate(fip: Any, runner: Any) -> None:
    site = fip.site(managers=1)
    result = runner.invoke(
        args=["client-manager", "add", "--site", site.code, "--username", f"{site.code}_km1"]
    )
    assert result.exit_code == 1
    assert "already exists" in result.output


def test_cohort_defaults_to_the_site_capacity(fip: Any, build: Any) -> None:
    """The core's cohort allocation takes the site's FIP places when no number is given."""
    from fiptrial.models import Allocation
    from fiptrial.services import randomisation

    site = fip.site(managers=2, capacity=3)
    for _ in range(10):
        build.participant(site)
    randomisation.allocate_cohort(site.id, actor="test")
    assert db.session.query(Allocation).filter_by(site_id=site.id, arm="fip").count() == 6


def test_jobs_list_shows_every_job(fip: Any, runner: Any) -> None:
    fip.site()
    result = runner.invoke(args=["jobs", "list"])
    assert result.exit_code == 0, result.output
    jobs = [json.loads(line)["job"] for line in result.output.splitlines()]
    assert {
        "nightly_overdue",
        "weekly_agenda",
        "aow_watch",
        "followup_rounds:bw",
        "data_freeze:t1",
    } <= set(jobs)


def test_reassign_and_plan_rules_commands(fip: Any, runner: Any) -> None:
    from fiptrial.models import CaseloadAssignment, PlannedConversation

    fip.planned_site(4)
    assignment = db.session.query(CaseloadAssignment).filter_by(client_manager_id=1).first()
    pid = assignment.participant_id
    result = runner.invoke(
        args=[
            "client-manager",
            "reassign",
            "--participant",
            str(pid),
            "--to",
            "bw_km2",
            "--reason",
            "workload",
            "--date",
            "2027-01-04",
        ]
    )
    assert result.exit_code == 0, result.output
    assert db.session.query(CaseloadAssignment).filter_by(participant_id=pid).count() == 2
    result = runner.invoke(
        args=["plan-rules", "--trial", "t1", "--set", "conversations_per_year=x"]
    )
    assert result.exit_code == 1 and "whole number" in result.output
    result = runner.invoke(args=["plan-rules", "--trial", "t1", "--set", "conversations_per_day=0"])
    assert result.exit_code == 1 and "conversations_per_day" in result.output
    result = runner.invoke(args=["plan-rules", "--trial", "t1"])
    assert json.loads(result.output)["conversations_per_year"] == 4
    assert db.session.query(PlannedConversation).count() == 16
