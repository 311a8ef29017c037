"""The field policy on the web pages: an analyst sees study data only on every page that
shows a participant; site staff still see what their work needs."""

from __future__ import annotations

from typing import Any

from security_world import AGREEMENT, NOTES, PROVIDER, World, login

SITE_ONLY = ("17-03-1961", "17 maart 1961", "17-06-2028", "17 juni 2028", "KL-4711")


def page(client: Any, username: str, path: str) -> Any:
    if client.get("/inloggen").status_code == 200:  # not logged in yet
        assert login(client, username).status_code == 302
    response = client.get(path)
    assert response.status_code == 200, (username, path, response.status_code)
    return response.text


def test_analyst_sees_no_free_text_on_the_client_manager_page(client: Any, world: World) -> None:
    text = page(client, "analist", f"/klantmanager/deelnemer/{world.own.id}")
    assert "Gesprekken" in text and "afspraak" in text  # the conversation is there ...
    for secret in (NOTES, AGREEMENT, PROVIDER, "Bergen op Zoom", "KL-4711", "Notitie"):
        assert secret not in text  # ... its free text, the municipality and number are not


def test_client_manager_still_sees_notes_and_agreements(client: Any, world: World) -> None:
    text = page(client, "km", f"/klantmanager/deelnemer/{world.own.id}")
    for shown in (NOTES, AGREEMENT, PROVIDER, "KL-4711"):
        assert shown in text


def test_analyst_sees_study_data_only_on_the_site_participant_page(
    client: Any, world: World
) -> None:
    text = page(client, "analist", f"/locatie/bw/deelnemers/{world.own.id}")
    assert "Leeftijd bij loting" in text and "65 jaar" in text and "Stratum" in text
    for label in ("Geboortedatum", "Begindatum uitkering", "AOW-leeftijd op", "Geslacht"):
        assert label not in text
    for secret in (*SITE_ONLY, "Bergen op Zoom"):
        assert secret not in text
    listing = page(client, "analist", "/locatie/bw/deelnemers")
    assert f">{world.own.id}<" in listing and "Bergen op Zoom" not in listing
    assert '<th scope="col">Gemeente</th>' not in listing


def test_coordinator_still_sees_the_registration_facts(client: Any, world: World) -> None:
    text = page(client, "coord", f"/locatie/bw/deelnemers/{world.own.id}")
    for label in ("Geboortedatum", "Begindatum uitkering", "AOW-leeftijd op", "Bergen op Zoom"):
        assert label in text
    assert "KL-4711" in text


def test_monitoring_shows_analysts_client_manager_numbers_not_names(
    client: Any, world: World
) -> None:
    km = world.users["km"]
    text = page(client, "analist", "/onderzoek/monitoring/bw")
    assert f"klantmanager {km.id}" in text and ">km<" not in text
    client.post("/uitloggen")
