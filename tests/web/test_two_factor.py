"""Two-factor sign-in (issue 16), over HTTP: required for research admins and coordinators,
optional for client managers; recovery codes; no replay; the read log sees every step."""

from __future__ import annotations

import re
import time
from typing import Any

import pyotp
import pytest
from web_support import csrf_token

from fiptrial.extensions import db
from fiptrial.models import AuditEntry, ReadLogEntry, RecoveryCode, User, UserTotp
from fiptrial.services.twofactor import DEFAULT_REQUIRED_ROLES

#: No test here writes to the database before asking for the staff: it comes from a snapshot.
SEEDED_STAFF = True

SECRET = re.compile(r'<code class="totp-secret">([A-Z2-7 ]+)</code>')


@pytest.fixture(autouse=True)
def production_roles(app: Any) -> None:
    app.config["TWO_FACTOR_ROLES"] = DEFAULT_REQUIRED_ROLES


def code(secret: str, steps_ahead: int = 0) -> str:
    return pyotp.TOTP(secret).at(time.time() + 30 * steps_ahead)


def enrol(web: Any, username: str) -> tuple[str, list[str]]:
    """Log in, set up two-factor sign-in through the page; the secret and recovery codes."""
    web.login(username)
    page = web.client.get("/privacy/tweestapsverificatie")
    assert page.status_code == 200 and "<svg" in page.text
    secret = SECRET.search(page.text).group(1).replace(" ", "")  # type: ignore[union-attr]
    wrong = web.client.post(
        "/privacy/tweestapsverificatie",
        data={"csrf_token": csrf_token(page.text), "code": "000000"},
    )
    assert wrong.status_code == 422 and "klopt niet" in wrong.text
    done = web.client.post(
        "/privacy/tweestapsverificatie",
        data={"csrf_token": csrf_token(page.text), "code": code(secret)},
    )
    assert done.status_code == 200 and "Herstelcodes" in done.text
    codes = re.findall(r"<li><code>([0-9a-f]{5}-[0-9a-f]{5})</code></li>", done.text)
    assert len(codes) == 10
    return secret, codes


def log_out(web: Any) -> None:
    """A fresh browser: no session cookie (and Flask-Login's per-request cache emptied)."""
    from flask import g

    web.client = web.client.application.test_client()
    g.pop("_login_user", None)
    g.pop("csrf_token", None)
    db.session.expire_all()


def second_step(web: Any, value: str) -> Any:
    page = web.client.get("/privacy/tweede-stap")
    return web.client.post(
        "/privacy/tweede-stap", data={"csrf_token": csrf_token(page.text), "code": value}
    )


def test_a_research_admin_cannot_sign_in_without_the_second_factor(staff: Any, web: Any) -> None:
    # Not set up yet: the password alone leads to the set-up, never to the pages.
    response = web.login("beheer")
    assert response.status_code == 302
    assert web.client.get("/onderzoek/").headers["Location"] == "/privacy/tweestapsverificatie"
    assert web.client.get("/beheer/").status_code == 302
    log_out(web)
    secret, _codes = enrol(web, "beheer")
    assert web.client.get("/onderzoek/").status_code == 200
    log_out(web)
    # Set up: the password leads to the second step, and every page waits for it.
    again = web.login("beheer")
    assert again.status_code == 302, again.text
    for url in ("/onderzoek/", "/onderzoek/audit", "/privacy/leeslog", "/beheer/"):
        held = web.client.get(url)
        assert held.status_code == 302 and held.headers["Location"] == "/privacy/tweede-stap", url
    wrong = second_step(web, "123456")
    assert wrong.status_code == 422 and "klopt niet" in wrong.text
    assert web.client.get("/onderzoek/").status_code == 302
    ok = second_step(web, code(secret, 1))
    assert ok.status_code == 302 and ok.headers["Location"] == "/onderzoek/"  # where it was going
    assert web.client.get("/onderzoek/").status_code == 200
    actions = [e.action for e in db.session.query(ReadLogEntry).filter_by(actor="user:beheer")]
    assert "login.second_factor_failed" in actions and "login.second_factor" in actions
    enrolled = db.session.query(AuditEntry).filter_by(action="user.mfa_enrolled").count()
    assert enrolled == 1


def test_a_code_is_accepted_once(staff: Any, web: Any) -> None:
    secret, _codes = enrol(web, "coord")
    log_out(web)
    web.login("coord")
    used = code(secret, 1)
    assert second_step(web, used).status_code == 302
    log_out(web)
    web.login("coord")
    assert second_step(web, used).status_code == 422  # replayed within its half minute


def test_recovery_codes_work_once_and_are_stored_hashed(staff: Any, web: Any) -> None:
    _secret, codes = enrol(web, "beheer")
    stored = [row.code_hash for row in db.session.query(RecoveryCode)]
    assert len(stored) == 10 and all(h.startswith("$argon2") for h in stored)
    assert not any(c.replace("-", "") in h for c in codes for h in stored)
    log_out(web)
    web.login("beheer")
    assert second_step(web, codes[3]).status_code == 302
    log_out(web)
    web.login("beheer")
    assert second_step(web, codes[3]).status_code == 422
    assert db.session.query(AuditEntry).filter_by(action="user.mfa_recovery_used").count() == 1


def test_five_wrong_codes_end_the_session(staff: Any, web: Any) -> None:
    enrol(web, "coord")
    log_out(web)
    web.login("coord")
    for _ in range(4):
        assert second_step(web, "999999").status_code == 422
    page = web.client.get("/privacy/tweede-stap")
    last = web.client.post(
        "/privacy/tweede-stap", data={"csrf_token": csrf_token(page.text), "code": "999999"}
    )
    assert last.status_code == 302 and last.headers["Location"] == "/inloggen"
    assert web.client.get("/locatie/bw/deelnemers").headers["Location"].startswith("/inloggen")


def test_client_managers_may_but_need_not_set_it_up(staff: Any, web: Any) -> None:
    web.login("km")
    assert web.client.get("/klantmanager/agenda").status_code == 200
    log_out(web)
    secret, _ = enrol(web, "km")
    log_out(web)
    web.login("km")
    assert web.client.get("/klantmanager/agenda").headers["Location"] == "/privacy/tweede-stap"
    assert second_step(web, code(secret, 1)).status_code == 302
    assert web.client.get("/klantmanager/agenda").status_code == 200


def test_an_admin_reset_and_the_demo_code(staff: Any, web: Any) -> None:
    from fiptrial.errors import PlatformError
    from fiptrial.services import twofactor

    enrol(web, "coord")
    user = db.session.query(User).filter_by(username="coord").one()
    with pytest.raises(PlatformError):
        twofactor.demo_code(user)  # a real secret is never printed
    twofactor.reset(user.id, actor="user:beheer")
    assert db.session.get(UserTotp, user.id) is None
    twofactor.enrol_with_secret(user, twofactor.DEMO_SECRET, actor="test")
    assert twofactor.verify(user.id, twofactor.demo_code(user))
