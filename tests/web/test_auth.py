"""Logging in: argon2 hashes, lock-out, expiring sessions, CSRF and security headers."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from web_support import PASSWORD, csrf_token

#: No test here writes to the database before asking for the staff: it comes from a snapshot.
SEEDED_STAFF = True

TEMPLATES = Path(__file__).resolve().parents[2] / "platform" / "fiptrial" / "web" / "templates"


def test_login_sends_each_role_to_its_own_start_page(staff: Any, web: Any) -> None:
    response = web.login("coord")
    assert response.status_code == 302
    assert response.headers["Location"] == "/locatie/bw/deelnemers"
    page = web.client.get("/locatie/bw/deelnemers")
    assert page.status_code == 200
    assert "coord" in page.text


@pytest.mark.parametrize(
    ("username", "start"),
    [("beheer", "/onderzoek/"), ("analyse", "/onderzoek/"), ("km", "/klantmanager/agenda")],
)
def test_start_pages(staff: Any, web: Any, username: str, start: str) -> None:
    assert web.login(username).headers["Location"] == start


def test_password_is_stored_as_argon2id(staff: Any) -> None:
    from fiptrial.services.users import find_user

    user = find_user("coord")
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash


@pytest.mark.parametrize("username", ["coord", "niemand"])
def test_wrong_password_or_unknown_user_get_the_same_dutch_error(
    staff: Any, web: Any, username: str
) -> None:
    response = web.login(username, "verkeerd-wachtwoord-1")
    assert response.status_code == 422
    assert "Gebruikersnaam of wachtwoord is onjuist." in response.text
    assert 'id="password-error"' in response.text  # next to the field it concerns
    assert web.client.get("/locatie/bw/deelnemers").status_code == 302


def test_five_failures_never_lock_the_account_from_elsewhere(
    staff: Any, web: Any, app: Any, fresh_g: None
) -> None:
    """Wrong passwords are throttled per client address, and audited; the account itself is
    never locked, so an attacker cannot lock a colleague out (tests/security has the rest)."""
    from fiptrial.extensions import db
    from fiptrial.models import AuditEntry
    from fiptrial.services.users import MAX_FAILED_LOGINS, find_user

    for _ in range(MAX_FAILED_LOGINS):
        web.login("coord", "verkeerd-wachtwoord-1")
    assert find_user("coord").failed_logins == MAX_FAILED_LOGINS
    assert db.session.query(AuditEntry).filter_by(action="user.login_failures").count() == 1
    colleague = app.test_client()  # another client address
    page = colleague.get("/inloggen", environ_base={"REMOTE_ADDR": "10.0.0.7"})
    response = colleague.post(
        "/inloggen",
        data={"csrf_token": csrf_token(page.text), "username": "coord", "password": PASSWORD},
        environ_base={"REMOTE_ADDR": "10.0.0.7"},
    )
    assert response.status_code == 302
    assert find_user("coord").failed_logins == 0


def test_four_failures_then_success_resets_the_count(staff: Any, web: Any) -> None:
    from fiptrial.services.users import find_user

    for _ in range(4):
        web.login("coord", "verkeerd-wachtwoord-1")
    assert web.login("coord").status_code == 302
    assert find_user("coord").failed_logins == 0


def test_login_without_csrf_token_is_refused(staff: Any, client: Any) -> None:
    response = client.post("/inloggen", data={"username": "coord", "password": PASSWORD})
    assert response.status_code == 400
    assert "beveiligingscode" in response.text
    assert client.get("/locatie/bw/deelnemers").status_code == 302


def test_form_with_a_forged_csrf_token_is_refused(staff: Any, web: Any) -> None:
    web.login("coord")
    response = web.client.post(
        "/locatie/bw/loting", data={"csrf_token": "forged", "fip": "1", "confirm": "y"}
    )
    assert response.status_code == 400


def test_api_is_not_subject_to_csrf(staff: Any, client: Any, build: Any, bearer: Any) -> None:
    token = build.token("research_admin")
    response = client.post("/api/v1/sites/bw/participants", json={}, headers=bearer(token))
    assert response.status_code != 400 or "csrf" not in response.text.lower()


def test_session_expires_after_inactivity(staff: Any, web: Any, app: Any) -> None:
    web.login("coord")
    assert web.client.get("/locatie/bw/deelnemers").status_code == 200
    lifetime = app.config["SESSION_LIFETIME_MINUTES"] * 60
    with web.client.session_transaction() as session:
        session["seen"] = datetime.now(UTC).timestamp() - lifetime - 5
    response = web.client.get("/locatie/bw/deelnemers")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/inloggen")
    assert "sessie is verlopen" in web.client.get("/inloggen").text


def test_session_cookie_is_permanent_with_the_configured_lifetime(
    staff: Any, web: Any, app: Any
) -> None:
    response = web.login("coord")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert app.permanent_session_lifetime == timedelta(
        minutes=app.config["SESSION_LIFETIME_MINUTES"]
    )


def test_logout_needs_a_post_with_csrf(staff: Any, web: Any) -> None:
    web.login("coord")
    page = web.client.get("/locatie/bw/deelnemers")
    assert web.client.post("/uitloggen").status_code == 400
    assert web.client.get("/locatie/bw/deelnemers").status_code == 200
    web.client.post("/uitloggen", data={"csrf_token": csrf_token(page.text)})
    assert web.client.get("/locatie/bw/deelnemers").status_code == 302


def test_next_never_leads_to_another_site(staff: Any, client: Any) -> None:
    page = client.get("/inloggen")
    response = client.post(
        "/inloggen?next=https://kwaad.example/",
        data={"csrf_token": csrf_token(page.text), "username": "coord", "password": PASSWORD},
    )
    assert response.headers["Location"] == "/locatie/bw/deelnemers"


def test_security_headers_and_strict_csp(staff: Any, client: Any) -> None:
    response = client.get("/inloggen")
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp
    assert "script-src 'self'" in csp and "style-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"


def test_templates_have_no_inline_scripts_or_styles() -> None:
    """The CSP forbids them, so they would silently not work."""
    for path in TEMPLATES.rglob("*.html"):
        text = path.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), path
        assert "<style" not in text and " style=" not in text, path
        assert not re.search(r"\son[a-z]+=", text), path  # onclick= and friends


def test_static_css_is_served(client: Any) -> None:
    response = client.get("/static/web/css/fip.css")
    assert response.status_code == 200
    assert "text/css" in response.headers["Content-Type"]


def test_english_is_available(staff: Any, client: Any) -> None:
    page = client.get("/inloggen")
    assert "Gebruikersnaam" in page.text and 'lang="nl"' in page.text
    client.post(
        "/taal", data={"csrf_token": csrf_token(page.text), "lang": "en", "back": "/inloggen"}
    )
    english = client.get("/inloggen")
    assert 'lang="en"' in english.text
    assert "User name" in english.text and "Gebruikersnaam" not in english.text
