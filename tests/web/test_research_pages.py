"""Research overview, monitoring with its server-side plot, audit verification, placeholders."""

from __future__ import annotations

from typing import Any

from web_support import csrf_token


def test_overview_lists_sites_with_plugin_and_mapping_versions(staff: Any, web: Any) -> None:
    from fiptrial.plugins.manager import get_site_plugin

    web.login("analyse")
    page = web.client.get("/onderzoek/")
    assert page.status_code == 200
    assert "bw" in page.text and "breda" in page.text
    plugin = get_site_plugin("brabantse_wal")
    if plugin is not None:
        assert plugin.mapping_version in page.text


def test_monitoring_shows_balance_and_consent(staff: Any, web: Any, build: Any) -> None:
    from fiptrial.services import randomisation

    people = [build.participant(staff.bw) for _ in range(6)]
    build.participant(staff.bw, consent_given=False)
    randomisation.allocate_cohort(staff.bw.id, 2, actor="test")
    web.login("coord")
    page = web.client.get("/onderzoek/monitoring/bw")
    assert page.status_code == 200
    assert "grafiek.png" in page.text
    assert f">{len(people) + 1}<" in page.text  # registered
    plot = web.client.get("/onderzoek/monitoring/bw/grafiek.png")
    assert plot.status_code == 200
    assert plot.headers["Content-Type"] == "image/png"
    assert plot.data[:8] == b"\x89PNG\r\n\x1a\n"


def test_monitoring_plot_works_without_data(staff: Any, web: Any) -> None:
    web.login("beheer")
    plot = web.client.get("/onderzoek/monitoring/breda/grafiek.png")
    assert plot.status_code == 200 and plot.data[:4] == b"\x89PNG"


def test_audit_verification(staff: Any, web: Any) -> None:
    web.login("beheer")
    page = web.client.get("/onderzoek/audit")
    response = web.client.post("/onderzoek/audit", data={"csrf_token": csrf_token(page.text)})
    assert response.status_code == 200
    assert "De keten is intact" in response.text


def test_pages_whose_back_end_is_missing_show_a_placeholder_not_an_error(
    staff: Any, web: Any
) -> None:
    web.login("analyse")
    assert web.client.get("/onderzoek/rapport").status_code == 200
    web.client.post("/uitloggen", data={"csrf_token": csrf_token(
        web.client.get("/onderzoek/").text)})
    web.login("km")
    assert web.client.get("/klantmanager/agenda").status_code == 200
    assert web.client.get("/klantmanager/achterstand").status_code == 200


def test_demo_creates_the_four_web_users(app: Any) -> None:
    from fiptrial.demo import create_demo
    from fiptrial.services.users import DEMO_PASSWORD, authenticate

    create_demo(participants=40)
    roles = {name: authenticate(name, DEMO_PASSWORD).role
             for name in ("admin", "coordinator", "klantmanager", "analist")}
    assert roles == {"admin": "research_admin", "coordinator": "site_coordinator",
                     "klantmanager": "client_manager", "analist": "analyst"}
