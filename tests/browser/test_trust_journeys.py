"""Trust (issue 9) in headless Chromium with JavaScript on: the login throttle's one message
for known and unknown names, and a password change that ends every session of the user."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

OLD = "rustige-wandeling-door-het-park"
NEW = "heldere-ochtend-aan-de-schelde-7"
THROTTLED = "Te veel mislukte inlogpogingen vanaf dit adres."


def test_the_login_throttle_says_the_same_for_known_and_unknown_names(
    journey: Any, live_server: Any
) -> None:
    live_server.ensure_user("gooier", "analyst", OLD)
    tab = journey("trust-login-throttle")
    for name in ("gooier", "bestaat-niet-9"):
        for _ in range(5):
            tab.login(name, "fout-fout-fout-1")
            expect(tab.page.locator("#password-error")).to_have_text(
                "Gebruikersnaam of wachtwoord is onjuist."
            )
        tab.login(name, OLD if name == "gooier" else "fout-fout-fout-1")
        expect(tab.page.locator(".error-summary")).to_contain_text(THROTTLED)
        expect(tab.page.get_by_role("button", name="Uitloggen")).to_have_count(0)


def test_a_password_change_ends_every_session(journey: Any, live_server: Any) -> None:
    live_server.ensure_user("wisselaar", "analyst", OLD)
    laptop, phone = journey("trust-password-laptop"), journey("trust-password-phone")
    for tab in (laptop, phone):
        tab.login("wisselaar", OLD)
        expect(tab.page.get_by_role("button", name="Uitloggen")).to_be_visible()
    laptop.page.get_by_role("link", name="Wachtwoord").click()
    expect(laptop.page.get_by_role("heading", level=1)).to_have_text("Wachtwoord wijzigen")
    laptop.page.get_by_label("Huidig wachtwoord").fill("niet-mijn-wachtwoord-42")
    laptop.page.get_by_label("Nieuw wachtwoord", exact=True).fill(NEW)
    laptop.page.get_by_label("Nieuw wachtwoord nogmaals").fill(NEW)
    laptop.submit("Wachtwoord wijzigen")
    expect(laptop.page.locator("#current_password-error")).to_contain_text(
        "niet uw huidige wachtwoord"
    )
    laptop.page.get_by_label("Huidig wachtwoord").fill(OLD)
    laptop.page.get_by_label("Nieuw wachtwoord", exact=True).fill(NEW)
    laptop.page.get_by_label("Nieuw wachtwoord nogmaals").fill(NEW)
    laptop.submit("Wachtwoord wijzigen")
    expect(laptop.page.locator(".notice-success")).to_contain_text("Uw wachtwoord is gewijzigd")
    expect(laptop.page.get_by_role("heading", level=1)).to_have_text("Inloggen")
    phone.page.reload()  # the other device's session has ended too
    expect(phone.page.get_by_role("heading", level=1)).to_have_text("Inloggen")
    phone.login("wisselaar", OLD)
    expect(phone.page.locator("#password-error")).to_be_visible()
    phone.login("wisselaar", NEW)
    expect(phone.page.get_by_role("heading", level=1)).to_have_text("Onderzoek en locaties")
