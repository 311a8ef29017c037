"""Two-factor sign-in in Chromium (issue 16): a research admin sets it up from the QR page,
keeps the recovery codes, and at the next login gets no page before the second step."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyotp
import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser
PASSWORD = "kalm-en-veilig-2027"


@pytest.fixture
def new_admin(live_server: Any) -> Iterator[str]:
    """A research admin without two-factor sign-in, on a server that requires it for admins."""
    from fiptrial.services.twofactor import DEFAULT_REQUIRED_ROLES

    live_server.ensure_user("beheer2fa", "research_admin", PASSWORD)
    before = live_server.app.config.get("TWO_FACTOR_ROLES", ())
    live_server.app.config["TWO_FACTOR_ROLES"] = DEFAULT_REQUIRED_ROLES
    try:
        yield "beheer2fa"
    finally:
        live_server.app.config["TWO_FACTOR_ROLES"] = before


def test_a_research_admin_sets_up_and_then_needs_the_second_factor(
    journey: Any, new_admin: str
) -> None:
    tab = journey("two-factor-setup")
    tab.login(new_admin, PASSWORD)
    expect(tab.page.get_by_role("heading", level=1)).to_have_text("Tweestapsverificatie")
    expect(tab.page.locator(".qr svg")).to_be_visible()
    secret = tab.page.locator(".totp-secret").inner_text().replace(" ", "")
    tab.go("/onderzoek/")  # no page before the set-up
    expect(tab.page.get_by_role("heading", level=1)).to_have_text("Tweestapsverificatie")
    tab.page.get_by_label("Code uit de app").fill("000000")
    tab.submit("Tweestapsverificatie aanzetten")
    expect(tab.page.locator("#code-error")).to_contain_text("Deze code klopt niet")
    tab.page.get_by_label("Code uit de app").fill(pyotp.TOTP(secret).now())
    tab.submit("Tweestapsverificatie aanzetten")
    expect(tab.page.get_by_role("heading", level=1)).to_have_text("Tweestapsverificatie staat aan")
    codes = tab.page.locator(".recovery-codes code").all_inner_texts()
    assert len(codes) == 10
    tab.page.get_by_role("link", name="Verder").click()
    expect(tab.page.get_by_role("heading", level=1)).to_have_text("Onderzoek en locaties")

    again = journey("two-factor-login")
    again.login(new_admin, PASSWORD)
    expect(again.page.get_by_role("heading", level=1)).to_have_text("Tweede stap")
    again.go("/onderzoek/audit")
    expect(again.page.get_by_role("heading", level=1)).to_have_text("Tweede stap")
    again.page.get_by_label("Code uit de app of herstelcode").fill("123456")
    again.submit("Bevestigen")
    expect(again.page.locator("#code-error")).to_have_text("Deze code klopt niet of is verlopen.")
    again.page.get_by_label("Code uit de app of herstelcode").fill(codes[0])
    again.submit("Bevestigen")
    expect(again.page.get_by_role("heading", level=1)).to_have_text("Audittrail")
