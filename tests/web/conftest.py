"""Helpers for the web tests: users of each role at two sites, the client manager's caseload, and
logging in through the form."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from web_support import PASSWORD, csrf_token

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "security"))

from security_world import cheap_password_hashing, fresh_g_per_request, world

__all__ = ["cheap_password_hashing", "world"]


@dataclass
class Staff:
    trial: Any
    bw: Any
    breda: Any


@pytest.fixture
def staff(build: Any) -> Staff:
    """A trial with sites bw and breda, and one user of each role (password PASSWORD)."""
    from fiptrial.services.users import create_user

    trial = build.trial()
    bw = build.site(trial, code="bw", plugin="brabantse_wal")
    breda = build.site(trial, code="breda", plugin="template", municipalities=["GM0758"])
    for username, role, site in (
        ("beheer", "research_admin", None),
        ("coord", "site_coordinator", bw),
        ("coordbreda", "site_coordinator", breda),
        ("km", "client_manager", bw),
        ("analyse", "analyst", None),
    ):
        create_user(username=username, role=role, password=PASSWORD, site=site, actor="test")
    return Staff(trial, bw, breda)


@pytest.fixture
def caseload(staff: Staff, build: Any) -> list[Any]:
    """The FIP participants of bw (four of eight), assigned to the client manager km, with a
    plan that began a month ago."""
    from fiptrial.services import caseload as caseloads
    from fiptrial.services import planning
    from lottery_support import allocate_cohort_with_places

    people = [build.participant(staff.bw) for _ in range(8)]
    allocate_cohort_with_places(staff.bw.id, 4)
    start = date.today() - timedelta(days=30)
    caseloads.assign_by_load(staff.bw, on=start, actor="test")
    planning.plan_site(staff.bw, actor="test", starts_on=start)
    return [p for p in people if caseloads.current_manager_id(p.id) is not None]


class Browser:
    """Logs in through the real form, CSRF token included, like a person would."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def login(self, username: str, password: str = PASSWORD) -> Any:
        page = self.client.get("/inloggen")
        return self.client.post(
            "/inloggen",
            data={"csrf_token": csrf_token(page.text), "username": username, "password": password},
        )

    def post_form(self, url: str, data: dict[str, Any], *, form_page: str | None = None) -> Any:
        page = self.client.get(form_page or url)
        return self.client.post(url, data={"csrf_token": csrf_token(page.text), **data})


@pytest.fixture
def web(client: FlaskClient) -> Browser:
    return Browser(client)


@pytest.fixture
def fresh_g(app: Any) -> None:
    """For tests with more than one browser: each request gets its own ``g``."""
    fresh_g_per_request(app)
