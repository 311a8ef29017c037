"""The research team's scripted flow through the JSON API, end to end."""

from __future__ import annotations

from typing import Any

from fiptrial.services.trials import fip_design


def test_trial_site_participant_consent_allocation(client: Any, build: Any, bearer: Any) -> None:
    admin = bearer(build.token("research_admin"))
    response = client.post(
        "/api/v1/trials", headers=admin, json=fip_design("fip2027", "FIP follow-up")
    )
    assert response.status_code == 201, response.json
    assert response.json["arms"] == [{"code": "fip", "ratio": 1}, {"code": "control", "ratio": 4}]
    response = client.post(
        "/api/v1/trials/fip2027/sites",
        headers=admin,
        json={"code": "bw", "name": "ISD Brabantse Wal", "plugin": "brabantse_wal"},
    )
    assert response.status_code == 201, response.json
    assert response.json["municipalities"] == ["GM0748", "GM0851", "GM0873"]
    response = client.post(
        "/api/v1/trials/fip2027/consent-forms",
        headers=admin,
        json={"version": "v1", "valid_from": "2026-01-01"},
    )
    assert response.status_code == 201, response.json

    person = {
        "bsn": "999998523",
        "birth_date": "1975-03-01",
        "sex": "male",
        "benefit_start": "2021-06-01",
        "municipality": "GM0851",
    }
    response = client.post("/api/v1/sites/bw/participants", headers=admin, json=person)
    assert response.status_code == 201, response.json
    body = response.json
    assert body["eligible"] is True and body["ineligible_reasons"] == []
    assert body["stratum"].startswith("site=bw|age_band=")
    pid = body["id"]

    response = client.post(f"/api/v1/participants/{pid}/allocation", headers=admin)
    assert response.status_code == 422
    assert response.json["error"]["code"] == "consent_required"

    response = client.post(
        f"/api/v1/participants/{pid}/consents",
        headers=admin,
        json={"status": "given", "version": "v1", "date": "2026-11-20"},
    )
    assert response.status_code == 201, response.json

    response = client.post(f"/api/v1/participants/{pid}/allocation", headers=admin)
    assert response.status_code == 201, response.json
    allocation = response.json
    assert allocation["participant"] == pid and allocation["arm"] in ("fip", "control")
    assert allocation["sequence"] == 1 and allocation["stratum"] == body["stratum"]
    assert "allocated_at" in allocation

    again = client.post(f"/api/v1/participants/{pid}/allocation", headers=admin)
    assert again.status_code == 409
    assert again.json["error"]["allocation"]["arm"] == allocation["arm"]

    # the same person again, registered without the municipality
    again_body = {key: value for key, value in person.items() if key != "municipality"}
    duplicate = client.post("/api/v1/sites/bw/participants", headers=admin, json=again_body)
    assert duplicate.status_code == 409
    assert duplicate.json["error"]["existing_id"] == pid

    page = client.get("/api/v1/sites/bw/allocations", headers=admin)
    assert page.status_code == 200
    assert [item["participant"] for item in page.json["items"]] == [pid]
    assert page.json["next"] is None

    verify = client.get("/api/v1/audit/verify", headers=admin)
    assert verify.json == {"ok": True, "entries": verify.json["entries"]}
    assert verify.json["entries"] >= 7


def test_invalid_input_names_the_field(client: Any, build: Any, bearer: Any) -> None:
    trial = build.trial()
    build.site(trial)
    admin = bearer(build.token("research_admin"))
    cases = [
        ({"bsn": "123456789"}, "bsn"),
        ({"birth_date": "1975-02-30"}, "birth_date"),
        ({"benefit_start": "2030-01-01"}, "benefit_start"),
        ({"sex": "unknown"}, "sex"),
        ({"municipality": "GM0363"}, "municipality"),
    ]
    for change, field in cases:
        body = {
            "bsn": build.next_bsn(),
            "birth_date": "1975-03-01",
            "sex": "male",
            "benefit_start": "2021-06-01",
            **change,
        }
        response = client.post("/api/v1/sites/bw/participants", headers=admin, json=body)
        assert response.status_code == 422, (change, response.json)
        assert field in response.json["error"]["fields"], response.json


def test_openapi_document_lists_the_fixed_paths(client: Any) -> None:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    paths = response.json["paths"]
    for path in (
        "/api/v1/trials",
        "/api/v1/trials/{trial_code}/sites",
        "/api/v1/sites/{site_code}/participants",
        "/api/v1/participants/{participant_id}/consents",
        "/api/v1/participants/{participant_id}/allocation",
        "/api/v1/sites/{site_code}/cohort-allocation",
        "/api/v1/sites/{site_code}/allocations",
        "/api/v1/audit/verify",
    ):
        assert path in paths, path


def test_health(client: Any) -> None:
    response = client.get("/health")
    assert response.status_code == 200 and response.json["status"] == "ok"


def test_allocations_are_paged_with_a_next_link(client: Any, build: Any, bearer: Any) -> None:
    from fiptrial.services import randomisation

    site = build.site(build.trial())
    ids = [
        randomisation.allocate(build.participant(site).id, actor="t").participant_id
        for _ in range(5)
    ]
    headers = bearer(build.token("research_admin"))
    seen, url = [], "/api/v1/sites/bw/allocations?limit=2"
    while url:
        page = client.get(url, headers=headers)
        assert page.status_code == 200 and len(page.json["items"]) <= 2
        seen += [item["participant"] for item in page.json["items"]]
        url = page.json["next"]
    assert seen == ids
    too_big = client.get("/api/v1/sites/bw/allocations?limit=1001", headers=headers)
    assert too_big.status_code == 422 and "limit" in str(too_big.json["error"]["fields"])
