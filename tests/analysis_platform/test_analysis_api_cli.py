"""GET /api/v1/trials/{trial}/analysis and /freezes, and the export, analyse and freeze
commands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from small_trial import CUTOFF

from fiptrial.extensions import db
from fiptrial.models import AuditEntry


@pytest.mark.parametrize("role", ["research_admin", "analyst"])
def test_analysis_is_served_to_admins_and_analysts(
    client: Any, build: Any, bearer: Any, small_trial: dict[str, Any], role: str
) -> None:
    response = client.get(
        f"/api/v1/trials/t1/analysis?cutoff={CUTOFF.isoformat()}", headers=bearer(build.token(role))
    )
    assert response.status_code == 200, response.get_json()
    report = response.get_json()
    assert report["arms"]["fip"]["net_ratio"] == pytest.approx(1 / 3)
    assert report["arms"]["control"]["net_ratio"] == pytest.approx(1 / 2)
    assert report["export"] == {
        "trial": "t1",
        "cutoff": CUTOFF.isoformat(),
        "participants": 10,
        "spells": 10,  # one each: "returned"'s first spell ended before allocation
        "excluded_randomised_in_error": 1,
        "analysis_version": report["export"]["analysis_version"],
    }


@pytest.mark.parametrize("role", ["site_coordinator", "client_manager"])
def test_site_roles_may_not_see_the_pooled_analysis(
    client: Any, build: Any, bearer: Any, small_trial: dict[str, Any], role: str
) -> None:
    from fiptrial.models import User

    user = db.session.query(User).filter_by(username="km1").one()
    token = build.token(role, site=small_trial["site"], user=user)
    for path in ("/api/v1/trials/t1/analysis", "/api/v1/trials/t1/freezes"):
        assert client.get(path, headers=bearer(token)).status_code == 403


def test_analysis_errors_are_clear(client: Any, build: Any, bearer: Any) -> None:
    build.trial("empty")
    headers = bearer(build.token("analyst"))
    response = client.get("/api/v1/trials/empty/analysis", headers=headers)
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "analysis_not_possible"
    assert client.get("/api/v1/trials/nope/analysis", headers=headers).status_code == 404
    response = client.get("/api/v1/trials/empty/analysis?cutoff=2999-01-01", headers=headers)
    assert response.status_code == 422 and "cutoff" in response.get_json()["error"]["fields"]


def test_freezes_are_listed(client: Any, build: Any, bearer: Any,
                            small_trial: dict[str, Any]) -> None:  # fmt: skip
    from fiptrial.services.freezes import freeze_trial

    freeze = freeze_trial(small_trial["trial"], "test", CUTOFF)
    listed = client.get("/api/v1/trials/t1/freezes", headers=bearer(build.token("analyst")))
    assert listed.status_code == 200
    (only,) = listed.get_json()
    assert (only["id"], only["export_sha256"], only["participants"]) == (
        freeze.id,
        freeze.export_sha256,
        10,
    )


def test_cli_export_analyse_freeze_and_verify(
    runner: Any, small_trial: dict[str, Any], tmp_path: Path
) -> None:
    out = tmp_path / "t1.csv"
    result = runner.invoke(args=["export", "--trial", "t1", "--cutoff", CUTOFF.isoformat(),
                                 "--format", "csv", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert out.read_text().splitlines()[0].startswith("participant,site,arm,allocated_on")
    assert (tmp_path / "t1.codebook.md").exists() and (tmp_path / "t1.consort.json").exists()
    spells = (tmp_path / "t1_spells.csv").read_text().splitlines()
    # Without --with-baseline the CLI writes study data only, as an analyst gets it.
    assert spells[0] == "participant,spell,start,end,end_code,transfers"
    assert ",sex," not in out.read_text().splitlines()[0]
    assert len(spells) == 1 + 10 and "10 spells" in result.output
    assert db.session.query(AuditEntry).filter_by(action="analysis.exported").count() == 1

    result = runner.invoke(args=["analyse", "--trial", "t1", "--cutoff", CUTOFF.isoformat(),
                                 "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    analysed = json.loads(result.stdout)
    assert analysed["arms"]["control"]["net_ratio"] == pytest.approx(0.5)
    assert analysed["plan"]["frozen"] is False
    assert "WARNING: UNFROZEN ANALYSIS PLAN" in result.stderr

    html = tmp_path / "report.html"
    result = runner.invoke(args=["analyse", "--trial", "t1", "--cutoff", CUTOFF.isoformat(),
                                 "--html", str(html)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert html.read_text().lstrip().lower().startswith("<!doctype html")

    result = runner.invoke(args=["freeze", "--trial", "t1", "--cutoff", CUTOFF.isoformat()])
    assert result.exit_code == 0, result.output
    freeze_id = json.loads(result.output)["id"]
    result = runner.invoke(args=["freeze", "verify", str(freeze_id)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["identical"] is True
    result = runner.invoke(args=["freeze", "list", "--trial", "t1"])
    assert json.loads(result.output.splitlines()[0])["id"] == freeze_id
    stored = tmp_path / "frozen.csv"
    result = runner.invoke(args=["freeze", "export", str(freeze_id), str(stored)])
    assert result.exit_code == 0, result.output
    assert stored.read_bytes() == out.read_bytes()
    assert (tmp_path / "frozen_spells.csv").read_bytes() == (
        tmp_path / "t1_spells.csv"
    ).read_bytes()

    dta = tmp_path / "t1.dta"  # the format follows the suffix when --format is not given
    result = runner.invoke(args=["export", "--trial", "t1", "--cutoff", CUTOFF.isoformat(),
                                 str(dta)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert dta.read_bytes()[:11] == b"<stata_dta>"

    result = runner.invoke(args=["export", "--trial", "nope", str(out)])
    assert result.exit_code == 1 and "does not exist" in result.output
