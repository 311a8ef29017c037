"""Site scoping goes through services.access: another site's pages answer 404, roles 403."""

from __future__ import annotations

from typing import Any

import pytest

#: No test here writes to the database before asking for the staff: it comes from a snapshot.
SEEDED_STAFF = True


@pytest.fixture
def people(staff: Any, build: Any) -> dict[str, Any]:
    return {"bw": build.participant(staff.bw), "breda": build.participant(staff.breda)}


def test_anonymous_visitors_are_sent_to_the_login_page(staff: Any, client: Any) -> None:
    for url in ("/locatie/bw/deelnemers", "/onderzoek/", "/onderzoek/audit", "/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/inloggen")


def test_coordinator_sees_own_site(staff: Any, web: Any, people: dict[str, Any]) -> None:
    web.login("coord")
    assert web.client.get("/locatie/bw/deelnemers").status_code == 200
    page = web.client.get(f"/locatie/bw/deelnemers/{people['bw'].id}")
    assert page.status_code == 200


@pytest.mark.parametrize(
    "url",
    [
        "/locatie/breda/deelnemers",
        "/locatie/breda/deelnemers/nieuw",
        "/locatie/breda/loting",
        "/locatie/breda/toewijzingen",
        "/locatie/breda/bestanden",
        "/onderzoek/monitoring/breda",
        "/onderzoek/monitoring/breda/grafiek.png",
        "/locatie/bestaat-niet/deelnemers",
    ],
)
def test_coordinator_cannot_open_another_sites_pages(staff: Any, web: Any, url: str) -> None:
    web.login("coord")
    response = web.client.get(url)
    assert response.status_code == 404
    assert "Niet gevonden" in response.text


def test_another_sites_participant_is_hidden_even_under_the_own_site(
    staff: Any, web: Any, people: dict[str, Any]
) -> None:
    web.login("coord")
    other = people["breda"].id
    assert web.client.get(f"/locatie/bw/deelnemers/{other}").status_code == 404
    assert web.client.get(f"/locatie/breda/deelnemers/{other}").status_code == 404


def test_coordinator_cannot_post_to_another_site(staff: Any, web: Any) -> None:
    from web_support import csrf_token

    web.login("coord")
    token = csrf_token(web.client.get("/locatie/bw/loting").text)
    response = web.client.post(
        "/locatie/breda/loting", data={"csrf_token": token, "fip": "1", "confirm": "y"}
    )
    assert response.status_code == 404


@pytest.mark.parametrize("url", ["/onderzoek/", "/onderzoek/audit", "/onderzoek/rapport"])
def test_coordinator_gets_403_on_research_pages(staff: Any, web: Any, url: str) -> None:
    web.login("coord")
    response = web.client.get(url)
    assert response.status_code == 403
    assert "Geen toegang" in response.text


def test_client_manager_has_no_site_lists(staff: Any, web: Any) -> None:
    web.login("km")
    assert web.client.get("/locatie/bw/deelnemers").status_code == 403
    assert web.client.get("/onderzoek/monitoring/bw").status_code == 403


@pytest.mark.parametrize("username", ["beheer", "analyse"])
def test_research_team_sees_every_site(
    staff: Any, web: Any, people: dict[str, Any], username: str
) -> None:
    web.login(username)
    for code in ("bw", "breda"):
        assert web.client.get(f"/locatie/{code}/deelnemers").status_code == 200
        assert web.client.get(f"/onderzoek/monitoring/{code}").status_code == 200


def test_analyst_may_not_register_or_randomise(staff: Any, web: Any) -> None:
    web.login("analyse")
    assert web.client.get("/locatie/bw/deelnemers/nieuw").status_code == 403
    assert web.client.get("/locatie/bw/loting").status_code == 403


def test_unknown_pages_get_a_calm_page_and_the_api_keeps_json(staff: Any, client: Any) -> None:
    page = client.get("/bestaat-niet")
    assert page.status_code == 404 and "Niet gevonden" in page.text
    api = client.get("/api/v1/bestaat-niet")
    assert api.is_json and "error" in api.get_json()


def test_an_api_404_stays_json_for_a_token_holder(
    staff: Any, client: Any, build: Any, bearer: Any
) -> None:
    token = build.token("research_admin")
    response = client.get("/api/v1/bestaat-niet", headers=bearer(token))
    assert response.status_code == 404
    assert response.get_json()["error"]["status"] == 404
