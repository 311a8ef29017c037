"""Research overview, monitoring with its server-side plot, audit, pooled report, exports."""

from __future__ import annotations

from typing import Any

import pytest
from web_support import csrf_token

from lottery_support import allocate_cohort_with_places

#: No test here writes to the database before asking for the staff: it comes from a snapshot.
SEEDED_STAFF = True


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

    people = [build.participant(staff.bw) for _ in range(6)]
    build.participant(staff.bw, consent_given=False)
    allocate_cohort_with_places(staff.bw.id, 2)
    web.login("coord")
    page = web.client.get("/onderzoek/monitoring/bw")
    assert page.status_code == 200
    assert "grafiek.png" in page.text
    assert f">{len(people) + 1}<" in page.text  # registered
    assert "Uitvoering van FIP" in page.text
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
    response = web.post_form("/onderzoek/audit/controle", {}, form_page="/onderzoek/audit")
    assert response.status_code == 200
    assert "De keten is intact" in response.text


@pytest.mark.parametrize("breda_fip", [3, 0])  # 0: a site with one arm only
def test_pooled_report_with_its_figures(
    staff: Any, web: Any, build: Any, breda_fip: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fiptrial.services import randomisation

    for site in (staff.bw, staff.breda):
        for _ in range(6):
            build.participant(site)
    allocate_cohort_with_places(staff.bw.id, 2)
    if breda_fip:
        allocate_cohort_with_places(staff.breda.id, breda_fip)
    else:  # the lottery never leaves a site with one arm: blocks of control only do
        # the name single allocations draw their blocks with
        drawn = "fiptrial.services.randomisation.allocation.derive_block"
        monkeypatch.setattr(drawn, lambda *_args: ["control"] * 6)
        randomisation.allocate_arrivals(staff.breda.id, actor="test")
    web.login("analyse")
    page = web.client.get("/onderzoek/rapport")
    assert page.status_code == 200
    assert "Primaire analyse" in page.text
    assert "Analyseplan" in page.text and "UNFROZEN" not in page.text
    assert "ANALYSEPLAN NIET BEVROREN: versie 1 kan nog worden gewijzigd" in page.text
    for name in ("consort", "exits", "forest", "survival", "incidence", "sustained", "classes",
                 "caterpillar", "reasons"):  # fmt: skip
        url = f"/onderzoek/rapport/t1/{name}.png"
        assert url in page.text
        figure = web.client.get(url)
        assert figure.status_code == 200 and figure.data[:4] == b"\x89PNG", name
    assert web.client.get("/onderzoek/rapport/t1/onzin.png").status_code == 404


def test_report_figures_are_drawn_in_the_page_s_language(
    staff: Any, web: Any, build: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fiptrial_analysis import html

    for site in (staff.bw, staff.breda):
        for _ in range(6):
            build.participant(site)
        allocate_cohort_with_places(site.id, 3)
    titles: list[str] = []
    draw = html.FIGURES["consort"]

    def spy(report: Any, language: str = "en", **options: Any) -> Any:
        figure = draw(report, language, **options)
        titles.append(figure.axes[0].get_title())
        return figure

    monkeypatch.setitem(html.FIGURES, "consort", spy)
    web.login("analyse")
    assert web.client.get("/onderzoek/rapport/t1/consort.png").status_code == 200
    page = web.client.get("/onderzoek/rapport")
    web.client.post("/taal", data={"csrf_token": csrf_token(page.text), "lang": "en"})
    assert web.client.get("/onderzoek/rapport/t1/consort.png").status_code == 200
    assert titles == ["CONSORT-stroomdiagram van de deelnemers", "CONSORT flow of participants"]


def test_pooled_report_is_for_the_research_team_only(staff: Any, web: Any) -> None:
    web.login("coord")
    assert web.client.get("/onderzoek/rapport").status_code == 403
    assert web.client.get("/onderzoek/rapport/t1/forest.png").status_code == 403


def test_demo_creates_the_four_web_users(app: Any) -> None:
    from fiptrial.demo import create_demo
    from fiptrial.services.users import DEMO_PASSWORD, authenticate

    create_demo(participants=40)
    roles = {
        name: authenticate(name, DEMO_PASSWORD).role
        for name in ("admin", "coordinator", "klantmanager", "analist")
    }
    assert roles == {
        "admin": "research_admin",
        "coordinator": "site_coordinator",
        "klantmanager": "client_manager",
        "analist": "analyst",
    }


def _allocated_trial(staff: Any, build: Any) -> None:

    for site in (staff.bw, staff.breda):
        for _ in range(6):
            build.participant(site)
    allocate_cohort_with_places(staff.bw.id, 2)
    allocate_cohort_with_places(staff.breda.id, 3)


def test_download_the_analysis_export_as_a_zip(staff: Any, web: Any, build: Any) -> None:
    import io
    import zipfile

    from fiptrial.extensions import db
    from fiptrial.models import AuditEntry

    _allocated_trial(staff, build)
    web.login("beheer")  # analysts ask for approval first (tests/web/test_minimisation.py)
    page = web.client.get("/onderzoek/exports")
    response = web.client.post(  # no button value: a browser may leave it out
        "/onderzoek/exports/download",
        data={"csrf_token": csrf_token(page.text), "onderzoek": "t1", "export-fmt": "csv"},
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(response.data)).namelist()
    assert any(name.endswith(".csv") for name in names) and len(names) == 5
    assert any(name.endswith("_spells.csv") for name in names)  # the spells file goes along
    assert any(name.endswith(".plan.json") for name in names)  # and the analysis plan
    assert db.session.query(AuditEntry).filter_by(action="analysis.exported").count() == 1


def test_make_a_data_freeze(staff: Any, web: Any, build: Any) -> None:
    _allocated_trial(staff, build)
    web.login("beheer")
    page = web.client.get("/onderzoek/exports")
    response = web.client.post(  # without the button's value, as with JavaScript on
        "/onderzoek/bevriezingen", data={"csrf_token": csrf_token(page.text), "onderzoek": "t1"}
    )
    assert response.status_code == 302, response.text
    listing = web.client.get(response.headers["Location"])
    assert "Bevriezing 1 is opgeslagen (12 deelnemers)" in listing.text


def test_exports_are_not_for_site_staff(staff: Any, web: Any) -> None:
    web.login("coord")
    assert web.client.get("/onderzoek/exports").status_code == 403


def test_follow_up_rounds_on_the_import_page(staff: Any, web: Any) -> None:
    from datetime import date

    from fiptrial.extensions import db
    from fiptrial.models import FollowupRound

    db.session.add(
        FollowupRound(
            site_id=staff.bw.id,
            period="2026-10",
            opened_on=date(2026, 11, 1),
            deadline=date(2026, 11, 15),
            status="late",
        )
    )
    db.session.commit()
    web.login("coord")
    page = web.client.get("/locatie/bw/bestanden")
    assert "10-2026" in page.text and "te laat" in page.text
