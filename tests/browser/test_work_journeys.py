"""The forms that had HTTP tests only, now in Chromium with JavaScript on: the lottery with each
of its refusals and the later arrivals, a site's own settings, an analyst's export request with
the research admin's approval and the one download, and the data protection officer's read-log
search. Each journey submits the form as the role that uses it and asserts on what the page then
shows, refusals included, in Dutch. Screenshots: test-artifacts/browser/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from playwright.sync_api import expect
from web_support import valid_bsns

pytestmark = pytest.mark.browser

TODAY = date.today()
STRONG = "loting-op-de-markt-van-bergen-7"
LOTTERY_SITE = "steenbergen_loting"
MINIMUM = 6  # the lottery's minimum cohort on this server while the journey runs


@pytest.fixture
def lottery_site(live_server: Any) -> Iterator[dict[str, Any]]:
    """A new site of the demo trial without client managers or participants, its coordinator,
    and a lottery minimum of MINIMUM on the server while the journey runs."""
    from fiptrial.services import trials

    def make() -> None:
        from fiptrial.extensions import db
        from fiptrial.models import Site

        if db.session.query(Site).filter_by(code=LOTTERY_SITE).first() is None:
            trials.add_site(
                trials.get_trial("fip-demo"),
                {
                    "code": LOTTERY_SITE,
                    "plugin": "template",
                    "name": "Gemeente Steenbergen (loting)",
                    "municipalities": ["GM0851"],
                },
                actor="test",
            )

    live_server.run(make)
    live_server.ensure_user(
        "coordloting",
        "site_coordinator",
        STRONG,
        site=LOTTERY_SITE,
        display_name="Test coordloting",
    )
    bsns = valid_bsns(910_000_000)

    def register(n: int) -> None:
        live_server.run(lambda: _register_consented(LOTTERY_SITE, bsns, n))

    before = live_server.app.config["COHORT_MIN_SIZE"]
    live_server.app.config["COHORT_MIN_SIZE"] = MINIMUM
    try:
        yield {"register": register}
    finally:
        live_server.app.config["COHORT_MIN_SIZE"] = before


def _register_consented(site_code: str, bsns: Iterator[str], n: int) -> None:
    from fiptrial.extensions import db
    from fiptrial.services import consent
    from fiptrial.services.participants import register
    from fiptrial.services.trials import get_site

    site = get_site(site_code)
    for _ in range(n):
        person = register(
            site,
            {
                "bsn": next(bsns),
                "birth_date": date(1980, 4, 5),
                "sex": "female",
                "benefit_start": date(2021, 3, 1),
                "municipality": "GM0851",
                "registered_on": TODAY,
            },
            actor="test",
        )
        consent.record(person, status="given", version="2026-1", on=TODAY, actor="test")
    db.session.remove()


def test_the_lottery_refuses_and_says_why_then_draws_and_allocates_arrivals(
    journey: Any, live_server: Any, lottery_site: dict[str, Any]
) -> None:
    lottery_site["register"](4)
    tab = journey("coordinator-lottery")
    tab.login("coordloting", STRONG)
    tab.page.get_by_role("link", name="Loting").click()
    refusal = tab.page.locator("#refusal")
    expect(refusal).to_contain_text(
        f"Een loting vraagt ten minste {MINIMUM} deelnemers klaar voor loting; nu zijn het er 4"
    )
    expect(tab.page.get_by_label("Aantal FIP-plaatsen")).to_have_count(0)

    # Enough participants, but the site has no client managers: no free FIP places.
    lottery_site["register"](4)
    tab.page.reload()
    expect(tab.page.locator(".card .figure").first).to_have_text("8")
    expect(refusal).to_contain_text("geen vrije FIP-plaatsen")
    tab.page.get_by_label("Aantal FIP-plaatsen").fill("3")
    tab.page.get_by_label(re.compile("Ik begrijp dat de loting definitief is")).check()
    tab.submit("Loting uitvoeren")
    expect(tab.page.locator(".error-summary")).to_contain_text("bij de velden hieronder")
    expect(tab.page.locator("#fip-error")).to_contain_text("groter dan de 0 vrije plaatsen")
    tab.shot("coordinator-lottery-no-places")

    # The research admin gives the site a client manager with three places, and the site its
    # own allocation ratio (the site's settings form, with its refusal first).
    admin = journey("admin-lottery-site")
    admin.login("admin")
    admin.go("/beheer/gebruikers")
    admin.fill_new_user(
        "kmloting", "Klantmanager Steenbergen", "client_manager", LOTTERY_SITE, STRONG
    )
    admin.submit("Gebruiker aanmaken")
    expect(admin.page.locator(".notice-success")).to_contain_text("Klantmanager Steenbergen")
    admin.go(f"/beheer/locaties/{LOTTERY_SITE}")
    admin.page.get_by_label("Eigen verhouding: FIP").fill("1")
    admin.submit("Locatie opslaan")
    expect(admin.page.locator("#site-fip_ratio-error")).to_contain_text(
        "Geef elke groep een verhouding van 1 of meer."
    )
    admin.page.get_by_label("Eigen verhouding: FIP").fill("1")
    admin.page.get_by_label("Eigen verhouding: controle").fill("1")
    admin.page.get_by_label("Naam", exact=True).fill("Gemeente Steenbergen (lotingproef)")
    admin.submit("Locatie opslaan")
    expect(admin.page.locator(".notice-success")).to_contain_text("De locatie is opgeslagen.")
    expect(admin.page.get_by_label("Eigen verhouding: controle")).to_have_value("1")
    capacity = admin.page.get_by_label("FIP-plaatsen van Klantmanager Steenbergen", exact=True)
    capacity.fill("3")
    admin.submit("Opslaan", within=admin.page.locator("form").filter(has=capacity))
    expect(admin.page.locator(".notice-success")).to_contain_text("heeft nu 3 FIP-plaatsen")

    # Every participant must have a chance of both arms, and FIP no more than the free places.
    tab.page.get_by_role("link", name="Loting").click()
    expect(tab.page.locator(".card .figure").nth(3)).to_have_text("3")  # free FIP places
    expect(tab.page.get_by_label("Aantal FIP-plaatsen")).to_have_value("3")  # the default
    for fip, refused in (
        ("8", "moet liggen tussen 1 en 7"),
        ("0", "moet liggen tussen 1 en 7"),
        ("4", "groter dan de 3 vrije plaatsen"),
    ):
        tab.page.get_by_label("Aantal FIP-plaatsen").fill(fip)
        tab.page.get_by_label(re.compile("Ik begrijp dat de loting definitief is")).check()
        tab.submit("Loting uitvoeren")
        expect(tab.page.locator("#fip-error")).to_contain_text(refused)
        # The confirmation was for the refused number: it is asked again.
        expect(tab.page.get_by_label(re.compile("Ik begrijp dat de loting"))).not_to_be_checked()
    tab.page.get_by_label("Aantal FIP-plaatsen").fill("3")
    tab.submit("Loting uitvoeren")
    expect(tab.page.locator("#confirm-error")).to_contain_text("Bevestig dat u wilt loten.")
    tab.page.get_by_label(re.compile("Ik begrijp dat de loting definitief is")).check()
    tab.submit("Loting uitvoeren")
    expect(tab.page.get_by_role("heading", level=1)).to_contain_text("Toewijzingen")
    expect(tab.page.locator(".notice-success")).to_have_text(
        "De loting is uitgevoerd: 3 van 8 deelnemers naar FIP."
    )

    # A site draws once: a newcomer is allocated by the trial's method, after a confirmation.
    lottery_site["register"](1)
    tab.page.get_by_role("link", name="Loting").click()
    expect(refusal).to_contain_text("Deze locatie heeft al geloot")
    expect(tab.page.get_by_label("Aantal FIP-plaatsen")).to_have_count(0)
    arrivals = tab.page.locator("#arrivals")
    expect(arrivals).to_contain_text("1 deelnemer is na de loting ingestroomd")
    tab.submit("Nieuwe deelnemers toewijzen")
    expect(tab.page.locator(".notice-error")).to_have_text("Bevestig dat u wilt toewijzen.")
    tab.page.get_by_label("Ik begrijp dat de toewijzing definitief is.").check()
    tab.submit("Nieuwe deelnemers toewijzen")
    expect(tab.page.locator(".notice-success")).to_have_text(
        "1 nieuwe deelnemer toegewezen volgens de methode van het onderzoek."
    )
    tab.page.get_by_role("link", name="Loting").click()
    expect(tab.page.locator(".card .figure").first).to_have_text("0")
    expect(tab.page.locator("#arrivals")).to_have_count(0)


def test_an_export_request_is_refused_approved_and_downloaded_once(
    journey: Any, live_server: Any
) -> None:
    analyst = journey("analyst-export-request")
    analyst.login("analist")
    analyst.page.get_by_role("link", name="Exports").click()
    analyst.page.get_by_role("link", name="Export aanvragen").click()
    expect(analyst.page.get_by_role("heading", level=1)).to_have_text("Exportaanvragen")
    form = analyst.page.locator("form").filter(has_text="Waarvoor is de export nodig?")
    form.get_by_label("Waarvoor is de export nodig?").fill("kort")
    analyst.submit("Export aanvragen")
    expect(analyst.page.locator("#request-purpose-error")).to_be_visible()
    expect(analyst.page.locator("#request-purpose-error")).not_to_contain_text(
        re.compile(r"[Ff]ield|characters|must")
    )
    analyst.page.get_by_label("Formaat").select_option("sav")
    analyst.page.get_by_label("Waarvoor is de export nodig?").fill(
        "Controle van de tussenanalyse van jaar één voor de stuurgroep"
    )
    analyst.submit("Export aanvragen")
    expect(analyst.page.locator(".notice-success")).to_contain_text(
        "Uw aanvraag is verstuurd naar de onderzoeksbeheerder."
    )
    analyst.page.get_by_label("Waarvoor is de export nodig?").fill(
        "Een tweede aanvraag die de beheerder zal afwijzen"
    )
    analyst.submit("Export aanvragen")
    rows = analyst.page.locator("table.export-requests tbody tr")
    approved_row = rows.filter(has_text="tussenanalyse van jaar één")
    refused_row = rows.filter(has_text="beheerder zal afwijzen")
    expect(approved_row.locator(".status")).to_have_text("aangevraagd")
    expect(approved_row.get_by_role("button")).to_have_count(0)  # nothing to download yet

    admin = journey("admin-export-approval")
    admin.login("admin")
    admin.page.get_by_role("link", name="Exports").click()
    admin.page.get_by_role("link", name="Exportaanvragen van analisten").click()
    expect(admin.page.get_by_role("button", name="Export aanvragen")).to_have_count(0)
    admin_rows = admin.page.locator("table.export-requests tbody tr")
    row = admin_rows.filter(has_text="tussenanalyse van jaar één")
    expect(row).to_contain_text("Demo analist")
    admin.submit("Goedkeuren", within=row)
    expect(row.locator(".status")).to_have_text("goedgekeurd (Demo onderzoeksbeheerder)")
    expect(row.get_by_role("button")).to_have_count(0)
    other = admin_rows.filter(has_text="beheerder zal afwijzen")
    admin.submit("Afwijzen", within=other)
    expect(other.locator(".status")).to_have_text("afgewezen (Demo onderzoeksbeheerder)")
    admin.shot("admin-export-decided")

    analyst.page.reload()
    expect(refused_row.locator(".status")).to_contain_text("afgewezen")
    expect(refused_row.get_by_role("button")).to_have_count(0)
    with analyst.page.expect_download() as download:
        approved_row.get_by_role("button", name="Goedgekeurde export downloaden").click()
    assert download.value.suggested_filename.endswith("-sav.zip"), download.value.suggested_filename
    analyst.page.reload()
    expect(approved_row.locator(".status")).to_contain_text("gedownload")
    expect(approved_row.get_by_role("button")).to_have_count(0)  # one download per approval


def test_the_privacy_officer_searches_the_read_log(journey: Any, live_server: Any) -> None:
    live_server.ensure_user("fg_leeslog", "privacy_officer", STRONG, display_name="Test fg_leeslog")
    pid = live_server.ids["talked"]
    coordinator = journey("read-log-coordinator")
    coordinator.login("coordinator")
    coordinator.go(f"/locatie/brabantse_wal/deelnemers/{pid}")
    expect(coordinator.page.get_by_role("heading", level=1)).to_be_visible()

    tab = journey("privacy-officer-read-log")
    tab.login("fg_leeslog", STRONG)
    expect(tab.page.get_by_role("heading", level=1)).to_have_text("Leeslog")
    tab.page.get_by_label("Wie").fill("coordinator")
    tab.page.get_by_label("Wat").select_option(label="deelnemer bekeken")
    tab.page.get_by_label("Deelnemernummer").fill(str(pid))
    tab.page.get_by_label("Locatie").select_option(label="ISD Brabantse Wal")
    tab.page.get_by_label("Van (dd-mm-jjjj)").fill(TODAY.strftime("%d-%m-%Y"))
    tab.submit("Zoeken")
    expect(tab.page.get_by_role("status")).to_have_text(re.compile(r"^\d+ regels? gevonden\.$"))
    rows = tab.page.locator("table.read-log tbody tr")
    expect(rows.first).to_contain_text("Demo coördinator Brabantse Wal")
    expect(rows.first).to_contain_text("deelnemer bekeken")
    expect(rows.first).to_contain_text("ISD Brabantse Wal")
    assert all(str(pid) in text for text in rows.locator(".participants").all_inner_texts())
    expect(tab.page.locator("table.read-log")).not_to_contain_text("user:")
    tab.shot("privacy-officer-read-log-found")
    # A participant number that is no study number, and an unreadable date: said, not used.
    tab.page.get_by_label("Deelnemernummer").fill("999998535")
    tab.page.get_by_label("Van (dd-mm-jjjj)").fill("31-02-2026")
    tab.submit("Zoeken")
    alert = tab.page.get_by_role("alert")
    expect(alert).to_contain_text("Niet gebruikt omdat het niet te lezen was: Deelnemernummer, Van")
    expect(alert).not_to_contain_text("999998535")
    expect(tab.page.get_by_label("Deelnemernummer")).to_have_value("")  # never echoed back
    tab.page.get_by_role("link", name="Filters wissen").click()
    expect(tab.page.get_by_label("Wie")).to_have_value("")
    # The officer sees the read log only, and leaves through the logout button.
    expect(tab.page.get_by_role("link", name="Exports")).to_have_count(0)
    tab.submit("Uitloggen")
    expect(tab.page.get_by_role("heading", level=1)).to_have_text("Inloggen")
    tab.go("/privacy/leeslog")
    expect(tab.page.get_by_role("heading", level=1)).to_have_text("Inloggen")


def test_the_report_page_switches_to_another_trial_and_says_why_it_has_no_report(
    journey: Any, live_server: Any
) -> None:
    """The trial chooser appears with a second trial (created last: the journeys above see
    one trial); a trial without allocations has no report yet, and the page says so."""
    from datetime import timedelta

    from fiptrial.extensions import db
    from fiptrial.models import Trial
    from fiptrial.services import trials

    def second_trial() -> None:
        if db.session.query(Trial).filter_by(code="fip-tweede").first() is None:
            trials.create_trial(
                {
                    "code": "fip-tweede",
                    "name": "Tweede FIP-onderzoek (leeg)",
                    "arms": [{"code": "fip", "ratio": 1}, {"code": "control", "ratio": 1}],
                    "method": "permuted_blocks",
                    "block_multipliers": [1, 2],
                    "stratify_by": ["site"],
                    "consent_design": "consent_first",
                    "followup_years": 3,
                    "start_date": TODAY - timedelta(days=10),
                    "synthetic": True,
                },
                actor="test",
            )
        db.session.remove()

    live_server.run(second_trial)
    tab = journey("analyst-report-other-trial")
    tab.login("analist")
    tab.page.get_by_role("link", name="Gepoold rapport").click()
    tab.page.get_by_label("Onderzoek").select_option(label="Tweede FIP-onderzoek (leeg)")
    tab.submit("Toon")
    expect(tab.page.get_by_role("alert")).to_contain_text("Het rapport kan nog niet worden gemaakt")
    expect(tab.page.get_by_label("Onderzoek")).to_have_value("fip-tweede")
    expect(tab.page.locator("img.report-plot")).to_have_count(0)
    tab.shot("analyst-report-no-data")
    tab.page.get_by_label("Onderzoek").select_option("fip-demo")  # its name may have changed
    tab.submit("Toon")
    expect(tab.page.get_by_role("heading", name="Primaire analyse")).to_be_visible()
    expect(tab.page.get_by_role("alert").first).to_contain_text("ANALYSEPLAN NIET BEVROREN")
