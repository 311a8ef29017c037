"""The issue's journeys in headless Chromium, each as its role. Screenshots: test-artifacts/."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from playwright.sync_api import expect
from web_support import ExportRow, bw_export, valid_bsns

pytestmark = pytest.mark.browser


@pytest.mark.parametrize(
    ("username", "heading"),
    [
        ("admin", "Onderzoek en locaties"),
        ("coordinator", "Deelnemers van ISD Brabantse Wal"),
        ("analist", "Onderzoek en locaties"),
        ("klantmanager", None),
    ],
)
def test_each_role_logs_in(journey: Any, username: str, heading: str | None) -> None:
    tab = journey(f"login-{username}")
    tab.login(username)
    expect(tab.page.get_by_role("button", name="Uitloggen")).to_be_visible()
    if heading:
        expect(tab.page.get_by_role("heading", level=1)).to_have_text(heading)


def test_wrong_password_is_explained_next_to_the_field(journey: Any) -> None:
    tab = journey("login-wrong-password")
    tab.login("coordinator", "niet-het-goede-wachtwoord")
    expect(tab.page.locator("#password-error")).to_have_text(
        "Gebruikersnaam of wachtwoord is onjuist."
    )
    expect(tab.page.get_by_label("Wachtwoord")).to_have_attribute("aria-invalid", "true")


def test_coordinator_uploads_caseload_randomises_and_sees_allocations(
    journey: Any, tmp_path: Any
) -> None:
    tab = journey("coordinator-caseload-randomisation")
    bsns = valid_bsns(400_000_000)
    export = tmp_path / "clienten-november.csv"
    export.write_bytes(bw_export([ExportRow(next(bsns), start=date(2021, 3, 1)) for _ in range(3)]))
    tab.login("coordinator")
    tab.page.get_by_role("link", name="Bestanden inlezen").click()
    tab.page.locator("#participants-file").set_input_files(str(export))
    tab.page.get_by_role("button", name="Bestand inlezen").first.click()
    # The upload answers with the import's status page, which leads on to the report.
    expect(tab.page.get_by_role("heading", level=1)).to_contain_text("Verslag: cliëntbestand")
    assert any("/bestanden/taak/" in url for url in tab.navigations), tab.navigations
    expect(tab.page.get_by_role("status").first).to_contain_text("Het bestand is ingelezen")
    expect(tab.page.locator("table").first).to_contain_text("nieuw ingeschreven")

    # The new clients need consent before a consent-first cohort randomisation: the paper
    # forms of the whole list are recorded in one step (the "all" box is the page's script).
    tab.page.get_by_role("link", name="Loting", exact=True).click()
    ready_before = int(tab.page.locator(".card .figure").first.inner_text())
    tab.page.get_by_role("link", name="Toestemming", exact=True).click()
    waiting = tab.page.locator("input[name=deelnemer]").count()
    assert waiting >= 3
    tab.page.get_by_label("Alle deelnemers op deze lijst").check()
    expect(tab.page.locator("input[name=deelnemer]:checked")).to_have_count(waiting)
    tab.submit("Toestemming vastleggen voor de gekozen deelnemers")
    expect(tab.page.get_by_role("status").first).to_contain_text(
        f"Toestemming vastgelegd voor {waiting} deelnemers."
    )
    expect(tab.page.get_by_role("heading", level=1)).to_have_text("Loting van het cohort")
    ready = ready_before + waiting
    expect(tab.page.locator(".card .figure").first).to_have_text(str(ready))
    # The site had its lottery (the demo's cohort): the coordinator cannot hold another, and
    # the page says why; the new clients are allocated one by one by the trial's method.
    expect(tab.page.locator("#refusal")).to_contain_text("Deze locatie heeft al geloot")
    expect(tab.page.get_by_label("Aantal FIP-plaatsen")).to_have_count(0)
    tab.page.get_by_label("Ik begrijp dat de toewijzing definitief is.").check()
    tab.page.get_by_role("button", name="Nieuwe deelnemers toewijzen").click()
    expect(tab.page.get_by_role("heading", level=1)).to_contain_text("Toewijzingen")
    expect(tab.page.locator(".notice-success")).to_contain_text(
        f"{ready} nieuwe deelnemers toegewezen volgens de methode van het onderzoek"
    )


def test_coordinator_uploads_outcomes_and_sees_the_unknown_code(
    journey: Any, live_server: Any, tmp_path: Any
) -> None:
    tab = journey("coordinator-outcomes-unknown-code")
    known = live_server.known_bsns
    export = tmp_path / "uitkomsten-november.csv"
    export.write_bytes(
        bw_export(
            [
                ExportRow(
                    bsn,
                    birth=date(1979, 3, 4),
                    sex="M",
                    start=date(2019, 6, 1),
                    end=end,
                    reason=code,
                )
                for bsn, end, code in (
                    (known[0], date(2026, 11, 16), "ARB"),
                    (known[1], date(2026, 11, 17), "QQQ"),
                )
            ]
        )
    )
    tab.login("coordinator")
    tab.page.get_by_role("link", name="Bestanden inlezen").click()
    tab.page.locator("#outcomes-file").set_input_files(str(export))
    tab.page.locator("form").filter(has=tab.page.locator("#outcomes-file")).get_by_role(
        "button", name="Bestand inlezen"
    ).click()
    expect(tab.page.get_by_role("heading", level=1)).to_contain_text("Verslag: uitkomstbestand")
    assert any("/bestanden/taak/" in url for url in tab.navigations), tab.navigations
    flagged = tab.page.get_by_role("alert")
    expect(flagged).to_contain_text("Onbekende redencodes")
    expect(flagged).to_contain_text("QQQ")


def test_status_page_follows_a_running_import_to_its_report(journey: Any, live_server: Any) -> None:
    """A long import: the status page shows the rows read so far and, through its script
    (no inline script: the CSP forbids it), moves on to the report once the import is done."""
    import io

    from fiptrial.extensions import db
    from fiptrial.models import ImportTask
    from fiptrial.services import imports
    from fiptrial.services.trials import get_site

    bsns = valid_bsns(700_000_000)

    def running_task() -> tuple[int, int]:
        site = get_site("brabantse_wal")
        report = imports.import_participants(
            site,
            io.BytesIO(bw_export([ExportRow(next(bsns)) for _ in range(2)])),
            actor="user:coordinator",
        )
        task = ImportTask(
            site_id=site.id,
            kind="participants",
            status="running",
            rows_done=25000,
            duplicate=False,
            filename="heel-groot.csv",
            spool_name="import-journey.upload",
            created_by="user:coordinator",
        )
        db.session.add(task)
        db.session.commit()
        ids = task.id, report["batch"]
        db.session.remove()
        return ids

    def finish(task_id: int, batch_id: int) -> None:
        task = db.session.get(ImportTask, task_id)
        task.status, task.batch_id, task.rows_done = "done", batch_id, 25002
        db.session.commit()
        db.session.remove()

    task_id, batch_id = live_server.run(running_task)
    tab = journey("coordinator-import-status")
    tab.login("coordinator")
    tab.go(f"/locatie/brabantse_wal/bestanden/taak/{task_id}")
    expect(tab.page.get_by_role("heading", level=1)).to_have_text("Inlezen: cliëntbestand")
    expect(tab.page.get_by_role("status").first).to_contain_text("25.000 regels gelezen")
    tab.page.screenshot(path=str(tab.artifact("coordinator-import-status-running")), full_page=True)
    live_server.run(lambda: finish(task_id, batch_id))
    expect(tab.page.get_by_role("heading", level=1)).to_contain_text(
        "Verslag: cliëntbestand", timeout=10_000
    )
    expect(tab.page.get_by_role("status").first).to_contain_text("Het bestand is ingelezen")


def test_client_manager_records_a_conversation_and_finds_it_in_the_history(
    journey: Any, live_server: Any
) -> None:
    tab = journey("client-manager-conversation")
    tab.login("klantmanager")
    expect(tab.page.get_by_role("heading", level=1)).to_have_text("Mijn agenda")
    tab.go(f"/klantmanager/deelnemer/{live_server.ids['spare']}")
    tab.page.get_by_role("link", name="Gesprek vastleggen").first.click()
    expect(tab.page.get_by_role("heading", level=1)).to_contain_text("Gesprek vastleggen")
    tab.page.get_by_label("Werk en activiteit", exact=True).check()
    tab.page.get_by_label("Vooruitgang op Werk en activiteit").select_option("ja")
    tab.page.get_by_label("Financiën", exact=True).check()
    tab.page.get_by_label("Afspraak 1").fill("Sollicitatiebrief naar de bakker sturen")
    tab.page.get_by_label("Nieuwe interventie 1").select_option("volunteering")
    tab.page.get_by_role("button", name="Gesprek opslaan").click()
    expect(tab.page.get_by_role("status").first).to_contain_text("Het gesprek is opgeslagen")
    history = tab.page.locator("table.history")
    expect(history).to_contain_text("gehouden")
    expect(history).to_contain_text("Werk en activiteit ↑")
    expect(history).to_contain_text("Sollicitatiebrief naar de bakker sturen")


def test_analyst_opens_the_pooled_report_with_plots(journey: Any) -> None:
    tab = journey("analyst-pooled-report")
    tab.login("analist")
    tab.page.get_by_role("link", name="Gepoold rapport").click()
    expect(tab.page.get_by_role("heading", name="Primaire analyse")).to_be_visible()
    plots = tab.page.locator("img.report-plot")
    expect(plots).to_have_count(9)  # five first-exit figures and the plan's four
    expect(tab.page.get_by_role("heading", name="Tijd tot duurzame uitstroom")).to_be_visible()
    for index in range(9):
        tab.expect_drawn(plots.nth(index))


def test_coordinator_cannot_open_another_sites_pages(journey: Any) -> None:
    tab = journey("coordinator-other-site")
    tab.login("coordinator")
    for path in (
        "/locatie/breda/deelnemers",
        "/onderzoek/monitoring/tilburg",
        "/locatie/breda/loting",
    ):
        response = tab.go(path)
        assert response.status == 404
        expect(tab.page.get_by_role("heading", level=1)).to_have_text("Niet gevonden")


def test_a_form_without_its_csrf_token_is_refused(journey: Any) -> None:
    tab = journey("form-without-csrf")
    tab.login("coordinator")
    tab.page.get_by_role("link", name="Inschrijven").click()
    tab.page.locator("form.stack input[name=csrf_token]").evaluate("e => e.remove()")
    tab.fill_registration("999998523", "17-05-1980")
    tab.page.get_by_role("button", name="Deelnemer inschrijven").click()
    expect(tab.page.get_by_role("heading", level=1)).to_have_text("Formulier verlopen of ongeldig")


def test_keyboard_only_login(journey: Any) -> None:
    tab = journey("keyboard-login")
    tab.go("/inloggen")
    expect(tab.page.get_by_label("Gebruikersnaam")).to_be_focused()  # autofocus
    tab.page.keyboard.type("analist")
    tab.page.keyboard.press("Tab")
    tab.page.keyboard.type("fip-demo-2027")
    tab.page.keyboard.press("Enter")
    expect(tab.page.get_by_role("heading", level=1)).to_have_text("Onderzoek en locaties")
    tab.page.keyboard.press("Tab")  # the skip link comes first on every page
    expect(tab.page.locator(".skip-link")).to_be_focused()
    tab.page.keyboard.press("Enter")
    expect(tab.page.locator("#inhoud")).to_be_focused()


def test_english_is_one_choice_away(journey: Any) -> None:
    tab = journey("login-english")
    tab.choose_english()
    expect(tab.page.get_by_role("heading", level=1)).to_have_text("Log in")
    tab.login("coordinator", language="en")
    expect(tab.page.get_by_role("heading", level=1)).to_have_text(
        "Participants of ISD Brabantse Wal"
    )
    expect(tab.page.locator("tbody tr td").nth(1)).to_have_text(re.compile(r"\d\d-\d\d-\d{4}"))
