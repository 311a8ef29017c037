"""Consent forms of a trial are for the research team and the roles of that trial's sites."""

from __future__ import annotations

from typing import Any

from security_world import World


def test_a_site_role_of_another_trial_gets_404(client: Any, world: World, build: Any) -> None:
    other_trial = build.trial("t2")
    elsewhere = build.site(other_trial, code="elders", plugin="template")
    outsider = build.token("site_coordinator", site=elsewhere)
    refused = client.get(
        f"/api/v1/trials/{world.trial.code}/consent-forms",
        headers={"Authorization": f"Bearer {outsider}"},
    )
    assert refused.status_code == 404 and "v1" not in refused.text
    own = client.get(
        "/api/v1/trials/t2/consent-forms", headers={"Authorization": f"Bearer {outsider}"}
    )
    assert own.status_code == 200 and [f["version"] for f in own.json] == ["v1"]
    for role in ("site_coordinator", "client_manager", "research_admin", "analyst"):
        allowed = client.get(
            f"/api/v1/trials/{world.trial.code}/consent-forms",
            headers={"Authorization": f"Bearer {world.tokens[role]}"},
        )
        assert allowed.status_code == 200 and allowed.json[0]["version"] == "v1", role
