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


def build_staff(build: Any) -> Staff:
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


def seed_caseload(build: Any) -> dict[str, Any]:
    """The staff, and the FIP participants of bw (four of eight) assigned to the client manager
    km, with a plan that began a month ago; as ids."""
    from fiptrial.services import caseload as caseloads
    from fiptrial.services import planning
    from lottery_support import allocate_cohort_with_places

    staff = build_staff(build)
    people = [build.participant(staff.bw) for _ in range(8)]
    allocate_cohort_with_places(staff.bw.id, 4)
    start = date.today() - timedelta(days=30)
    caseloads.assign_by_load(staff.bw, on=start, actor="test")
    planning.plan_site(staff.bw, actor="test", starts_on=start)
    return {
        "staff": (staff.trial.id, staff.bw.id, staff.breda.id),
        "caseload": [p.id for p in people if caseloads.current_manager_id(p.id) is not None],
    }


@pytest.fixture
def seeded_caseload(app: Any, build: Any, seeded_snapshots: Any) -> dict[str, Any]:
    """``seed_caseload``, run once per test process, database and day (the plan starts a month
    before today) and restored into each test's emptied database after that, ids included."""
    ids = seeded_snapshots.load(
        app, f"caseload_{date.today():%Y%m%d}", lambda: seed_caseload(build), build
    )
    return ids


def _staff_of(ids: tuple[int, int, int]) -> Staff:
    from fiptrial.extensions import db
    from fiptrial.models import Site, Trial

    trial, bw, breda = ids
    get = db.session.get_one
    return Staff(get(Trial, trial), get(Site, bw), get(Site, breda))


@pytest.fixture
def staff(request: pytest.FixtureRequest, app: Any, build: Any, seeded_snapshots: Any) -> Staff:
    """A trial with sites bw and breda, and one user of each role (password PASSWORD).

    A test that also asks for the caseload gets the staff from the caseload's snapshot. A module
    that sets ``SEEDED_STAFF = True`` (none of its tests writes to the database before asking
    for the staff: a restore replaces the database) gets it restored from a snapshot of its own,
    built once per test process and database; every other module builds it per test.
    """
    if "caseload" in request.fixturenames:
        return _staff_of(request.getfixturevalue("seeded_caseload")["staff"])
    if not getattr(request.module, "SEEDED_STAFF", False):
        return build_staff(build)

    def seed() -> tuple[int, int, int]:
        staff = build_staff(build)  # registers nobody: the builder's BSNs stay where they are
        return staff.trial.id, staff.bw.id, staff.breda.id

    return _staff_of(seeded_snapshots.load(app, "staff", seed))


@pytest.fixture
def caseload(staff: Staff, seeded_caseload: dict[str, Any]) -> list[Any]:
    """The FIP participants of bw (four of eight), assigned to the client manager km, with a
    plan that began a month ago."""
    from fiptrial.extensions import db
    from fiptrial.models import Participant

    return [db.session.get_one(Participant, pid) for pid in seeded_caseload["caseload"]]


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
