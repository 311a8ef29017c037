"""The field policy over HTTP: what each role sees of a participant, a conversation, a spell,
a consent and a notification, and what the pooled export holds (services.access.FIELD_POLICY).

The expected field sets are written out here, not derived from the policy: a change of the
policy must show up as a change of this file.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from security_world import AGREEMENT, NOTES, World

from fiptrial.extensions import db

STUDY = {
    "id", "site", "stratum", "age_band", "benefit_duration_band", "registered_on", "eligible",
    "ineligible_reasons", "age_at_allocation",
}  # fmt: skip
EVERYTHING = STUDY | {"sex", "municipality", "education", "country_of_birth_region"}
EXPECTED_PARTICIPANT_KEYS = {
    "research_admin": EVERYTHING,
    "site_coordinator": EVERYTHING,
    "client_manager": STUDY | {"sex", "municipality"},
    "analyst": STUDY,
}


def get(client: Any, world: World, role: str, path: str) -> Any:
    return client.get(path, headers={"Authorization": f"Bearer {world.tokens[role]}"})


def test_each_role_gets_the_participant_fields_of_the_policy(client: Any, world: World) -> None:
    for role, expected in EXPECTED_PARTICIPANT_KEYS.items():
        response = get(client, world, role, f"/api/v1/participants/{world.own.id}")
        assert response.status_code == 200, role
        assert set(response.json) == expected, role
        assert response.json["age_at_allocation"] == 65  # born 1961-03-17, allocated 2026-10-30
    listed = get(client, world, "analyst", "/api/v1/sites/bw/participants").json
    assert [set(p) for p in listed] == [STUDY]
    body = get(client, world, "analyst", f"/api/v1/participants/{world.own.id}").text
    for secret in ("GM0748", "primary", "europe", "female", "1961"):
        assert secret not in body


def test_analysts_never_get_free_text_of_conversations(client: Any, world: World) -> None:
    path = f"/api/v1/participants/{world.own.id}/conversations"
    analyst = get(client, world, "analyst", path)
    assert analyst.status_code == 200 and len(analyst.json) == 1
    assert "notes" not in analyst.json[0]
    assert set(analyst.json[0]["agreements"][0]) == {
        "id", "responsible", "due_on", "kept", "followup_record_id",
    }  # fmt: skip
    assert NOTES not in analyst.text and AGREEMENT not in analyst.text
    manager = get(client, world, "client_manager", path)
    assert manager.json[0]["notes"] == NOTES
    assert manager.json[0]["agreements"][0]["description"] == AGREEMENT


def test_analysts_get_spells_and_consents_without_municipality_or_staff(
    client: Any, world: World
) -> None:
    from fiptrial.services import consent

    consent.record(world.own, status="given", version="v1", on=START_DAY, actor="user:coord")
    spells = get(client, world, "analyst", f"/api/v1/participants/{world.own.id}/spells")
    assert spells.status_code == 200 and spells.json
    assert all("municipality" not in s for s in spells.json)
    admin = get(client, world, "research_admin", f"/api/v1/participants/{world.own.id}/spells")
    assert admin.json[0]["municipality"] == "GM0748"
    consents = get(client, world, "analyst", f"/api/v1/participants/{world.own.id}/consents")
    assert consents.status_code == 200 and consents.json
    assert "recorded_by" not in consents.json[0] and "coord" not in consents.text
    coordinator = get(
        client, world, "site_coordinator", f"/api/v1/participants/{world.own.id}/consents"
    )
    assert coordinator.json[0]["recorded_by"] == "user:coord"


START_DAY = date(2026, 11, 2)


def test_notifications_are_closed_to_analysts_and_other_managers(
    client: Any, world: World, build: Any
) -> None:
    km, km2 = world.users["km"], world.users["km2"]
    path = f"/api/v1/client-managers/{km.id}/notifications"
    assert get(client, world, "analyst", path).status_code == 403
    other_manager = build.token("client_manager", site=world.bw, user=km2)
    refused = client.get(path, headers={"Authorization": f"Bearer {other_manager}"})
    assert refused.status_code == 404 and "aow" not in refused.text
    own = get(client, world, "client_manager", path)
    assert own.status_code == 200
    notice = next(n for n in own.json if n["kind"] == "aow_soon")
    assert notice["data"] == {"participant": world.own.id, "aow_month": "2028-06"}
    assert "pension_age_date" not in own.text and "2028-06-17" not in own.text
    assert get(client, world, "site_coordinator", path).status_code == 200


def test_an_old_notice_with_the_aow_date_is_served_without_it(client: Any, world: World) -> None:
    from fiptrial.models import Notification

    stored = db.session.query(Notification).filter_by(kind="aow_soon").one()
    stored.data = {"participant": world.own.id, "pension_age_date": "2028-06-17"}
    db.session.commit()
    km = world.users["km"]
    own = get(client, world, "client_manager", f"/api/v1/client-managers/{km.id}/notifications")
    assert "2028-06-17" not in own.text and "pension_age_date" not in own.text


def test_fidelity_hides_other_managers_names(client: Any, world: World) -> None:
    km = world.users["km"]
    for role, names in (
        ("site_coordinator", {"km"}),
        ("research_admin", {"km"}),
        ("client_manager", {"km"}),  # their own name
        ("analyst", {f"client-manager-{km.id}"}),
    ):
        response = get(client, world, role, "/api/v1/sites/bw/fidelity")
        assert response.status_code == 200, role
        assert set(response.json["per_client_manager"]) == names, role
    analyst = get(client, world, "analyst", "/api/v1/sites/bw/fidelity")
    assert '"km"' not in analyst.text
    assert (
        "per_participant"
        not in get(client, world, "client_manager", "/api/v1/sites/bw/fidelity").json
    )


def test_a_client_manager_does_not_see_another_managers_name(
    client: Any, world: World, build: Any
) -> None:
    km2 = world.users["km2"]
    token = build.token("client_manager", site=world.bw, user=km2)
    response = client.get("/api/v1/sites/bw/fidelity", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert "km" not in response.json["per_client_manager"]
    assert set(response.json["per_client_manager"]) == {f"client-manager-{world.users['km'].id}"}


def test_the_pooled_export_follows_the_policy(world: World) -> None:
    from fiptrial.services.exports import build_export

    pooled = build_export(world.trial)
    header = pooled.csv_text().splitlines()[0].split(",")
    assert not {"sex", "education", "country_of_birth_region"} & set(header)
    assert "municipality" not in pooled.spells_csv_text().splitlines()[0]
    assert "aow_days_from_allocation" in header
    admin = build_export(world.trial, role="research_admin")
    assert {"sex", "education", "country_of_birth_region"} <= set(
        admin.csv_text().splitlines()[0].split(",")
    )


def test_aow_days_count_to_the_first_day_of_the_aow_month(world: World) -> None:
    from fiptrial.services.exports import build_export

    row = next(r for r in build_export(world.trial).rows if r["participant"] == world.own.id)
    # Allocated 2026-10-30 (conversation_helpers); AOW on 2028-06-17, so the month starts
    # 2028-06-01, 580 days on: the day of the month (and so the birth day) is not in it.
    assert row["aow_days_from_allocation"] == (date(2028, 6, 1) - date(2026, 10, 30)).days == 580
