"""Rules that stand in one place: municipality codes, roles and sites, stored moments."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from fiptrial.errors import Unprocessable
from fiptrial.extensions import db
from fiptrial.services import tokens, users

PASSWORD = "paars-fietspad-onder-de-brug"


def _register(client: Any, headers: Any, bsn: str, municipality: str) -> Any:
    body = {
        "bsn": bsn,
        "birth_date": "1975-03-01",
        "sex": "male",
        "benefit_start": "2021-06-01",
        "municipality": municipality,
    }
    return client.post("/api/v1/sites/bw/participants", headers=headers, json=body)


def test_municipality_codes_get_the_digit_check_of_the_imports(
    client: Any, build: Any, bearer: Any
) -> None:
    """The API's registration normalises like the export readers (plugins.parsing)."""
    trial = build.trial()
    build.site(trial)  # Bergen op Zoom GM0748, Steenbergen GM0851, Woensdrecht GM0873
    admin = bearer(build.token("research_admin"))
    for given, stored in (("851", "GM0851"), (" gm0748 ", "GM0748"), ("GM873", "GM0873")):
        response = _register(client, admin, build.next_bsn(), given)
        assert response.status_code == 201, (given, response.json)
        shown = client.get(f"/api/v1/participants/{response.json['id']}", headers=admin)
        assert shown.json["municipality"] == stored
    for wrong in ("GM08X1", "GM00851", "０８５１", "GM0000"):
        response = _register(client, admin, build.next_bsn(), wrong)
        assert response.status_code == 422, (wrong, response.json)
        error = response.json["error"]
        assert error["code"] == "invalid_choice"
        assert list(error["fields"]) == ["municipality"]
        assert wrong.strip() not in error["message"]


@pytest.mark.parametrize(
    ("role", "with_site", "field", "code"),
    [
        ("caretaker", False, "role", "invalid_choice"),
        ("site_coordinator", False, "site", "site_required"),
        ("client_manager", False, "site", "site_required"),
        ("analyst", True, "site", "site_not_allowed"),
        ("research_admin", True, "site", "site_not_allowed"),
    ],
)
def test_users_and_tokens_refuse_a_role_and_site_alike(
    build: Any, role: str, with_site: bool, field: str, code: str
) -> None:
    site = build.site(build.trial()) if with_site else None
    refusals = []
    with pytest.raises(Unprocessable) as from_user:
        users.create_user(username="u1", role=role, password=PASSWORD, site=site, actor="test")
    refusals.append(from_user.value)
    with pytest.raises(Unprocessable) as from_token:
        tokens.create_token(role=role, site=site, actor="test")
    refusals.append(from_token.value)
    for refusal in refusals:
        assert refusal.code == code
        assert list(refusal.fields) == [field]
    assert from_user.value.fields == from_token.value.fields


def test_stored_moments_come_back_aware_in_utc(build: Any) -> None:
    """SQLite keeps no time zone: without the column type a Dutch 01:30 came back a naive
    01:30, an hour off (and PostgreSQL answers in the session's zone)."""
    from fiptrial.models import ApiToken

    row, _token = tokens.create_token(role="analyst", site=None, actor="test")
    dutch = datetime(2026, 3, 29, 1, 30, tzinfo=ZoneInfo("Europe/Amsterdam"))  # CET, UTC+1
    row.revoked_at = dutch
    db.session.commit()
    db.session.expire_all()
    stored = db.session.get_one(ApiToken, row.id).revoked_at
    assert stored is not None
    assert stored.utcoffset() == timedelta(0)
    assert stored == datetime(2026, 3, 29, 0, 30, tzinfo=UTC)

    again = db.session.get_one(ApiToken, row.id)
    again.revoked_at = datetime(2026, 7, 1, 12, 0)  # naive: the platform's UTC
    db.session.commit()
    db.session.expire_all()
    assert db.session.get_one(ApiToken, row.id).revoked_at == datetime(2026, 7, 1, 12, tzinfo=UTC)
