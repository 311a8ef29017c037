"""The operator's command line."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fiptrial.extensions import db
from fiptrial.models import ApiToken


def test_token_create_prints_the_token_alone_on_its_last_line(
    runner: Any, build: Any, client: Any
) -> None:
    site = build.site(build.trial())
    result = runner.invoke(
        args=["token", "create", "--role", "site_coordinator", "--site", site.code]
    )
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    assert token.startswith("fip_") and " " not in token
    stored = db.session.query(ApiToken).one()
    assert stored.token_hash != token and token not in stored.prefix + stored.label
    response = client.get(
        f"/api/v1/sites/{site.code}", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200


def test_token_for_a_site_role_needs_a_site(runner: Any, build: Any) -> None:
    result = runner.invoke(args=["token", "create", "--role", "site_coordinator"])
    assert result.exit_code != 0 and "needs a site" in result.output


def test_randomisation_simulate_reports_imbalance(runner: Any, build: Any) -> None:
    build.site(build.trial())
    result = runner.invoke(
        args=["randomisation", "simulate", "--trial", "t1", "--runs", "5", "--participants", "100"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["method"] == "permuted_blocks" and report["runs"] == 5
    assert report["strata"] and "mean_abs_imbalance" in report["overall"]


@pytest.mark.slow
def test_demo_is_synthetic_and_verifies(runner: Any) -> None:
    result = runner.invoke(args=["demo", "--participants", "40"])  # the smallest demo
    assert result.exit_code == 0, result.output
    assert "SYNTHETIC" in result.output
    summary = json.loads(result.output[: result.output.rindex("}") + 1])
    assert set(summary["sites"]) == {"brabantse_wal", "breda", "tilburg", "eindhoven"}
    assert all(site["fip"] + site["control"] > 0 for site in summary["sites"].values())
    assert sum(site["fip"] for site in summary["sites"].values()) > 0
    assert runner.invoke(args=["demo", "--participants", "5"]).exit_code == 2  # too small
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0
    assert runner.invoke(args=["randomisation", "verify", "--trial", "fip-demo"]).exit_code == 0
    again = runner.invoke(args=["demo", "--if-empty"])
    assert again.exit_code == 0 and "no demo loaded" in again.output
