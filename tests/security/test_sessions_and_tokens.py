"""Deactivated users and ended sessions, over HTTP.

A token stops working the moment its user is switched off (authentication checks the user on
every request, whatever switched them off); a session cookie stops working when its user logs
out anywhere, changes the password or has it reset (the session version); and a cookie is not
sent again with every response.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from security_world import PASSWORD, World, csrf_token, login

from fiptrial.extensions import db

NEW_PASSWORD = "Zeer-lang-en-nieuw-wachtwoord-91"


def api_get(client: Any, token: str, path: str) -> Any:
    return client.get(path, headers={"Authorization": f"Bearer {token}"})


def test_a_token_stops_working_when_its_user_is_switched_off(client: Any, world: World) -> None:
    token = world.tokens["client_manager"]
    km = world.users["km"]
    path = f"/api/v1/client-managers/{km.id}/agenda"
    assert api_get(client, token, path).status_code == 200
    km.active = False  # switched off by a path that revokes nothing (e.g. straight in the DB)
    db.session.commit()
    refused = api_get(client, token, path)
    assert refused.status_code == 401 and refused.json["error"]["code"] == "invalid_token"
    km.active = True
    db.session.commit()
    assert api_get(client, token, path).status_code == 200


def test_deactivation_on_the_admin_page_revokes_tokens_and_ends_sessions(
    app: Flask, client: Any, world: World
) -> None:
    km = world.users["km"]
    manager_browser = app.test_client()
    assert login(manager_browser, "km").status_code == 302
    assert manager_browser.get("/klantmanager/agenda").status_code == 200
    assert login(client, "admin").status_code == 302
    page = client.get("/beheer/gebruikers")
    done = client.post(
        f"/beheer/gebruikers/{km.id}/uitschakelen", data={"csrf_token": csrf_token(page.text)}
    )
    assert done.status_code in (302, 303), done.status_code
    token = world.tokens["client_manager"]
    assert api_get(client, token, f"/api/v1/client-managers/{km.id}/agenda").status_code == 401
    ended = manager_browser.get("/klantmanager/agenda")
    assert ended.status_code == 302 and "/inloggen" in ended.headers["Location"]


def _copy_session(source: Any, target: Any) -> None:
    cookie = source.get_cookie("session")
    assert cookie is not None
    target.set_cookie("session", cookie.value)


def test_a_cookie_captured_before_logout_no_longer_works(app: Flask, world: World) -> None:
    browser, thief = app.test_client(), app.test_client()
    assert login(browser, "coord").status_code == 302
    _copy_session(browser, thief)
    assert thief.get("/locatie/bw/deelnemers").status_code == 200  # the copy works ...
    page = browser.get("/locatie/bw/deelnemers")
    out = browser.post("/uitloggen", data={"csrf_token": csrf_token(page.text)})
    assert out.status_code == 302
    stale = thief.get("/locatie/bw/deelnemers")  # ... until the user logs out
    assert stale.status_code == 302 and "/inloggen" in stale.headers["Location"]


def test_logout_ends_every_session_of_the_user(app: Flask, world: World) -> None:
    laptop, phone = app.test_client(), app.test_client()
    assert login(laptop, "coord").status_code == 302
    assert login(phone, "coord").status_code == 302
    page = laptop.get("/locatie/bw/deelnemers")
    laptop.post("/uitloggen", data={"csrf_token": csrf_token(page.text)})
    assert phone.get("/locatie/bw/deelnemers").status_code == 302
    assert login(phone, "coord").status_code == 302  # a new login works again
    assert phone.get("/locatie/bw/deelnemers").status_code == 200


def test_changing_the_password_ends_every_session(app: Flask, world: World) -> None:
    browser, other = app.test_client(), app.test_client()
    assert login(browser, "coord").status_code == 302
    assert login(other, "coord").status_code == 302
    _copy_session(browser, thief := app.test_client())
    form = browser.get("/wachtwoord")
    assert form.status_code == 200 and "Huidig wachtwoord" in form.text
    wrong = browser.post(
        "/wachtwoord",
        data={"csrf_token": csrf_token(form.text), "current_password": "not-it-at-all-123",
              "password": NEW_PASSWORD, "repeat": NEW_PASSWORD},
    )  # fmt: skip
    assert wrong.status_code == 422 and "niet uw huidige wachtwoord" in wrong.text
    changed = browser.post(
        "/wachtwoord",
        data={"csrf_token": csrf_token(wrong.text), "current_password": PASSWORD,
              "password": NEW_PASSWORD, "repeat": NEW_PASSWORD},
    )  # fmt: skip
    assert changed.status_code == 302 and "/inloggen" in changed.headers["Location"]
    for client in (browser, other, thief):
        ended = client.get("/locatie/bw/deelnemers")
        assert ended.status_code == 302 and "/inloggen" in ended.headers["Location"]
    assert login(other, "coord").status_code == 422  # the old password is refused
    assert login(other, "coord", NEW_PASSWORD).status_code == 302


def test_a_password_reset_by_the_admin_ends_the_users_sessions(app: Flask, world: World) -> None:
    from fiptrial.services import users

    browser = app.test_client()
    assert login(browser, "coord").status_code == 302
    users.set_password(world.users["coord"].id, NEW_PASSWORD, actor="user:admin")
    assert browser.get("/locatie/bw/deelnemers").status_code == 302


def test_the_cookie_is_not_renewed_on_every_request(app: Flask, world: World) -> None:
    browser = app.test_client()
    assert login(browser, "coord").status_code == 302
    first = browser.get("/locatie/bw/deelnemers")
    second = browser.get("/locatie/bw/deelnemers")
    assert first.status_code == second.status_code == 200
    assert "Set-Cookie" not in second.headers
    # A minute later the idle clock moves on, once.
    app.config["SESSION_TOUCH_SECONDS"] = 0
    assert "session=" in browser.get("/locatie/bw/deelnemers").headers.get("Set-Cookie", "")
