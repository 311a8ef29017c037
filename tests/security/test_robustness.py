"""Robustness over HTTP: bodies refused before they are read, ids above the database's range,
the OpenAPI document describing the real errors, 405 with Allow, breached and common passwords,
and login throttling per client address without user enumeration or lock-outs."""

from __future__ import annotations

import io
from typing import Any

import pytest
from flask import Flask
from security_world import PASSWORD, World, csrf_token, login

HUGE = 300 * 1024 * 1024


class Untouchable(io.RawIOBase):
    """A request body that must never be read."""

    def __init__(self) -> None:
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        return 0

    def tell(self) -> int:
        return 0

    def readinto(self, buffer: Any) -> int:
        self.read_bytes += len(buffer)
        raise AssertionError("the body was read")


def test_a_huge_unauthenticated_login_post_is_refused_unread(client: Any, world: World) -> None:
    body = Untouchable()
    response = client.post(
        "/inloggen",
        input_stream=body,
        content_type="application/x-www-form-urlencoded",
        environ_overrides={"CONTENT_LENGTH": str(HUGE)},  # the test client would count it
    )
    assert response.status_code == 413 and body.read_bytes == 0
    assert "groter dan is toegestaan" in response.text


def test_an_upload_above_the_import_limit_is_refused_unread(
    app: Flask, client: Any, world: World
) -> None:
    app.config["IMPORT_MAX_BYTES"] = 1024 * 1024
    body = Untouchable()
    response = client.post(
        "/api/v1/sites/bw/outcome-imports",
        input_stream=body,
        content_type="multipart/form-data; boundary=x",
        environ_overrides={"CONTENT_LENGTH": str(2 * 1024 * 1024)},
        headers={"Authorization": f"Bearer {world.tokens['site_coordinator']}"},
    )
    assert response.status_code == 413 and body.read_bytes == 0
    assert response.json["error"]["code"] == "request_entity_too_large"
    # Below the limit the upload is read as before (here: not a valid multipart body, 422).
    small = client.post(
        "/api/v1/sites/bw/outcome-imports",
        data={"file": (io.BytesIO(b"x" * 1000), "export.csv")},
        headers={"Authorization": f"Bearer {world.tokens['site_coordinator']}"},
    )
    assert small.status_code in (200, 201, 422)


def test_ids_above_the_database_range_are_404_not_500(client: Any, world: World) -> None:
    headers = {"Authorization": f"Bearer {world.tokens['research_admin']}"}
    for path in (
        "/api/v1/participants/99999999999999999/plan/moves",
        "/api/v1/participants/2147483648",
        "/api/v1/client-managers/99999999999999999/agenda",
    ):
        method = client.post if path.endswith("moves") else client.get
        response = method(path, headers=headers, json={"sequence": 1, "date": "2027-01-04"})
        assert response.status_code == 404, path
        assert response.json["error"]["code"] == "not_found"
    paged = client.get("/api/v1/sites/bw/allocations?after=99999999999999999", headers=headers)
    assert paged.status_code == 422 and "after" in paged.json["error"]["fields"]
    assert client.get("/locatie/bw/deelnemers/99999999999999999").status_code in (302, 404)


def test_the_openapi_document_describes_errors_and_the_bearer_token(client: Any) -> None:
    spec = client.get("/api/v1/openapi.json").json
    assert spec["security"] == [{"bearer": []}]
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    error = spec["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]
    detail = spec["components"]["schemas"]["ErrorDetail"]
    assert set(detail["required"]) == {"code", "status", "message", "fields"}
    moves = spec["paths"]["/api/v1/participants/{participant_id}/plan/moves"]
    assert moves["parameters"][0]["schema"]["maximum"] == 2**31 - 1


def test_405_answers_carry_allow(client: Any, world: World) -> None:
    headers = {"Authorization": f"Bearer {world.tokens['research_admin']}"}
    api = client.put("/api/v1/trials", headers=headers)
    assert api.status_code == 405 and set(api.headers["Allow"].split(", ")) >= {"GET", "POST"}
    assert api.json["error"]["code"] == "method_not_allowed"
    page = client.put("/inloggen")
    assert page.status_code == 405 and "POST" in page.headers["Allow"]


WEAK = [
    "password1234", "qwerty123456", "iloveyou2024", "Welkom2026!!", "Wachtwoord01!",
    "P@ssw0rd2026", "Amsterdam2026", "Voorjaar2026!", "123456789abc", "letmein!letmein",
    "zomer2026zomer", "Feyenoord1908",
]  # fmt: skip


@pytest.mark.parametrize("password", WEAK)
def test_breached_and_common_passwords_are_refused(password: str) -> None:
    from fiptrial.services.passwords import password_problems

    assert password_problems(password, username="jansen"), password


def test_the_demo_password_is_refused_outside_the_demo(client: Any, world: World) -> None:
    from fiptrial.errors import Unprocessable
    from fiptrial.services import users

    with pytest.raises(Unprocessable) as refused:
        users.create_user(
            username="nieuw", role="analyst", password=users.DEMO_PASSWORD, actor="test"
        )
    assert "demo password" in refused.value.message
    with pytest.raises(Unprocessable):
        users.set_password(world.users["coord"].id, users.DEMO_PASSWORD, actor="test")
    demo = users.create_user(
        username="demo-analist", role="analyst", password=users.DEMO_PASSWORD, actor="t", demo=True
    )
    assert users.authenticate("demo-analist", users.DEMO_PASSWORD).id == demo.id


def _attempt(client: Any, username: str, password: str, address: str) -> Any:
    page = client.get("/inloggen", environ_base={"REMOTE_ADDR": address})
    return client.post(
        "/inloggen",
        data={"csrf_token": csrf_token(page.text), "username": username, "password": password},
        environ_base={"REMOTE_ADDR": address},
    )


THROTTLED = "Te veel mislukte inlogpogingen vanaf dit adres"


def test_login_is_throttled_per_address_with_one_message_and_no_lock_out(
    app: Flask, world: World
) -> None:
    attacker, colleague = app.test_client(), app.test_client()
    for name in ("coord", "niemand"):  # a real and an unknown name: the same answers
        answers = [_attempt(attacker, name, "fout-fout-fout-1", "10.0.0.66") for _ in range(5)]
        assert [a.status_code for a in answers] == [422] * 5
        assert all("Gebruikersnaam of wachtwoord is onjuist." in a.text for a in answers)
        blocked = _attempt(attacker, name, PASSWORD, "10.0.0.66")
        assert blocked.status_code == 429 and THROTTLED in blocked.text
        assert "geblokkeerd" not in blocked.text
    # The account itself is not locked: the real user, elsewhere, logs in.
    assert _attempt(colleague, "coord", PASSWORD, "10.0.0.7").status_code == 302


def test_login_is_throttled_per_address_across_names(app: Flask, world: World) -> None:
    app.config["LOGIN_LIMIT_PER_ADDRESS"] = "6 per 15 minutes"
    attacker = app.test_client()
    for n in range(6):
        assert _attempt(attacker, f"naam{n}", "fout-fout-fout-1", "10.0.0.99").status_code == 422
    refused = _attempt(attacker, "admin", PASSWORD, "10.0.0.99")
    assert refused.status_code == 429 and THROTTLED in refused.text
    assert login(app.test_client(), "admin").status_code == 302  # from another address
