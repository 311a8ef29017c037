"""A real server, a real browser: the platform on a free loopback port, driven by Chromium.

The server is the app factory's WSGI app under werkzeug's threaded server, on a fresh SQLite
database holding a small synthetic demo (the demo users included) plus a few participants with
known BSNs, so that the outcome journey can refer to them. Chromium is Debian's package
(/usr/bin/chromium, see tools/ensure-chromium); Playwright never downloads a browser.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "web"))

from web_support import seed_daily_work, valid_bsns

from password_cost import cheap_hashing

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
DEMO_PASSWORD = "fip-demo-2027"
LOGIN_LABELS = {  # the login form's user name, password and button, by language
    "nl": ("Gebruikersnaam", "Wachtwoord", "Inloggen"),
    "en": ("User name", "Password", "Log in"),
}
#: How long an action or an assertion waits for the page (the tests share the machine).
ACTION_TIMEOUT_MS = 15_000


@dataclass
class LiveServer:
    url: str
    app: Any
    known_bsns: list[str] = field(default_factory=list)
    ids: dict[str, int] = field(default_factory=dict)  # seed_daily_work's participants etc.

    def run(self, fn: Any) -> Any:
        """Run ``fn()`` inside the server's app context (for set-up and checks)."""
        with self.app.app_context():
            return fn()

    def ensure_user(
        self,
        username: str,
        role: str,
        password: str,
        *,
        site: str | None = None,
        display_name: str = "",
    ) -> None:
        """Create a user on the server unless an earlier journey already did: the server and
        its database live for the whole test session."""
        from fiptrial.services.trials import get_site
        from fiptrial.services.users import create_user, find_user

        def make() -> None:
            if find_user(username) is None:
                create_user(
                    username=username,
                    role=role,
                    password=password,
                    site=get_site(site) if site else None,
                    display_name=display_name,
                    actor="test",
                )

        self.run(make)


def _seed(app: Any) -> tuple[list[str], dict[str, int]]:
    """The small demo with a day of work (web_support.seed_daily_work), and four allocated
    Brabantse Wal participants with known BSNs."""
    from flask_migrate import upgrade

    from fiptrial.services import consent, randomisation
    from fiptrial.services.participants import register
    from fiptrial.services.trials import get_site

    with app.app_context():
        upgrade()
        ids = seed_daily_work()
        site = get_site("brabantse_wal")
        bsns = valid_bsns(300_000_000)
        known = []
        for _ in range(4):
            bsn = next(bsns)
            person = register(
                site,
                {
                    "bsn": bsn,
                    "birth_date": date(1979, 3, 4),
                    "sex": "male",
                    "benefit_start": date(2019, 6, 1),
                    "municipality": "GM0748",
                    "registered_on": date(2026, 11, 2),
                },
                actor="test",
            )
            consent.record(
                person, status="given", version="2026-1", on=date(2026, 11, 2), actor="test"
            )
            randomisation.allocate(person.id, actor="test")
            known.append(bsn)
        from fiptrial.extensions import db

        db.session.remove()
        return known, ids


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    from werkzeug.serving import make_server

    from fiptrial import create_app

    folder = tmp_path_factory.mktemp("browser")
    os.environ.setdefault("FIPTRIAL_INSTANCE_PATH", str(folder))
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'fiptrial.sqlite'}",
            "SECRET_KEY": "browser-test-secret",
            "PSEUDONYM_KEY": "browser-test-pseudonym-key",
        }
    )
    with cheap_hashing():
        known, ids = _seed(app)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{server.server_port}", app, known, ids)
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture(autouse=True)
def cheap_password_hashing() -> Iterator[None]:
    """The journeys' logins at the cheap cost their users were seeded with (password_cost.py);
    only while a journey runs, so that no other test in the process sees it."""
    with cheap_hashing():
        yield


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: run tools/ensure-chromium (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    # Assertions wait as long as actions do: on a loaded two-core machine a page's plot can
    # take longer than Playwright's default 5 s to arrive.
    expect.set_options(timeout=ACTION_TIMEOUT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


class Journey:
    """One person's browser tab; remembers CSP violations and saves the last page."""

    def __init__(
        self, browser: Any, server: LiveServer, name: str, width: int = 1280, height: int = 900
    ) -> None:
        self.server = server
        self.name = name
        self.context = browser.new_context(
            locale="nl-NL", viewport={"width": width, "height": height}, accept_downloads=True
        )
        self.page = self.context.new_page()
        self.page.set_default_timeout(ACTION_TIMEOUT_MS)
        self.console_errors: list[str] = []
        self.navigations: list[str] = []  # every page load, redirects included
        self.page.on(
            "request", lambda r: r.is_navigation_request() and self.navigations.append(r.url)
        )
        self.page.on("console", lambda m: m.type == "error" and self.console_errors.append(m.text))

    def go(self, path: str) -> Any:
        return self.page.goto(self.server.url + path)

    def login(self, username: str, password: str = DEMO_PASSWORD, *, language: str = "nl") -> None:
        """Log in on the login page, read in ``language`` (English once choose_english ran)."""
        name_label, password_label, button = LOGIN_LABELS[language]
        self.go("/inloggen")
        self.page.get_by_label(name_label).fill(username)
        self.page.get_by_label(password_label).fill(password)
        self.page.get_by_role("button", name=button).click()
        self.page.wait_for_load_state()

    def choose_english(self) -> None:
        """Switch the tab to English with the login page's language choice."""
        self.go("/inloggen")
        self.page.get_by_label("Taal").select_option("en")
        self.submit("Wijzig taal")

    def shot(self, name: str) -> None:
        """A screenshot of the page as it is now (the journey's last page is saved anyway)."""
        self.page.screenshot(path=str(self.artifact(name)), full_page=True)

    def submit(self, name: str, *, within: Any = None) -> None:
        """Press a button and wait for the page it leads to."""
        scope = within if within is not None else self.page
        with self.page.expect_navigation():
            scope.get_by_role("button", name=name).click()

    def fill_new_user(
        self, username: str, display_name: str, role: str, site: str, password: str
    ) -> None:
        """Fill the research admin's new-user form (Beheer > Gebruikers) without sending it, so
        that a journey can send it and assert on the refusal or the welcome it gets."""
        self.page.get_by_label("Gebruikersnaam").fill(username)
        self.page.get_by_label("Naam zoals anderen die zien").fill(display_name)
        self.page.get_by_label("Rol").select_option(role)
        self.page.get_by_label("Locatie").select_option(site)
        self.page.get_by_label("Eerste wachtwoord").fill(password)

    def fill_registration(
        self,
        bsn: str,
        birth_date: str,
        *,
        sex: str = "female",
        benefit_start: str = "01-01-2020",
        municipality: str | None = None,
    ) -> None:
        """Fill the coordinator's registration form (Inschrijven) without sending it; dates as
        the form takes them (dd-mm-jjjj), the municipality by its name when it is chosen."""
        self.page.get_by_label("BSN").fill(bsn)
        self.page.get_by_label("Geboortedatum").fill(birth_date)
        self.page.get_by_label("Geslacht").select_option(sex)
        self.page.get_by_label("Begindatum uitkering").fill(benefit_start)
        if municipality is not None:
            self.page.get_by_label("Gemeente").select_option(label=municipality)

    def expect_drawn(self, image: Any) -> None:
        """Assert that an <img> has loaded and has pixels: a plot that failed to render still
        takes its box on the page, so being visible is not enough."""
        from playwright.sync_api import expect

        expect(image).to_have_js_property("complete", True)
        assert image.evaluate("img => img.naturalWidth") > 0

    def artifact(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        return ARTIFACTS / f"{name}.png"

    def finish(self) -> None:
        self.page.screenshot(path=str(self.artifact(self.name)), full_page=True)
        self.context.close()


@pytest.fixture
def journey(
    chromium: Any, live_server: LiveServer, request: pytest.FixtureRequest
) -> Iterator[Any]:
    journeys: list[Journey] = []

    def start(name: str | None = None, **size: int) -> Journey:
        j = Journey(chromium, live_server, name or request.node.name, **size)
        journeys.append(j)
        return j

    yield start
    for j in journeys:
        j.finish()
        csp = [e for e in j.console_errors if "Content Security Policy" in e]
        assert not csp, f"CSP violations: {csp}"
