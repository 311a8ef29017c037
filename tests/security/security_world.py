"""A small world for the security tests (tests/security and tests/web): two sites, every role,
a FIP client with a history.

Site ``bw`` has a FIP participant (``own``) with a known municipality, education and region of
birth, assigned to client manager ``km``, with a planned and a recorded conversation whose
notes and agreement carry known free text, an AOW notice. Site ``other`` has one allocated
participant. Every role has a web user (password :data:`PASSWORD`) and an API token.

Imported by module name (the tests folders are not packages).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "conversations"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "web"))

from conversation_helpers import START, FipBuilder
from web_support import PASSWORD, csrf_token

from password_cost import cheap_hashing

NOTES = "Cliënt maakt zich zorgen over de huur."
AGREEMENT = "Bel de schuldhulpverlener voor vrijdag."
PROVIDER = "Schuldhulp BoZ"


@dataclass
class World:
    trial: Any
    bw: Any
    other: Any
    own: Any  # participant at bw, FIP, in km's caseload
    foreign: Any  # participant at the other site
    users: dict[str, Any] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    jobs: dict[str, int] = field(default_factory=dict)  # an ended import job per site


def login(client: Any, username: str, password: str = PASSWORD) -> Any:
    page = client.get("/inloggen")
    return client.post(
        "/inloggen",
        data={"csrf_token": csrf_token(page.text), "username": username, "password": password},
    )


def build_world(build: Any) -> World:
    from datetime import date

    from fiptrial.extensions import db
    from fiptrial.models import Participant
    from fiptrial.services import caseload, conversations, followup, planning, users

    fip = FipBuilder(build)
    bw = fip.site(managers=0)
    km = caseload.add_client_manager(bw, "km", capacity=10, actor="test")
    km2 = caseload.add_client_manager(bw, "km2", capacity=10, actor="test")
    other = build.site(bw.trial, code="other", plugin="template", municipalities=["GM0758"])
    own_id = fip.bulk_fip(bw, 1)[0]
    foreign_id = fip.bulk_fip(other, 1)[0]
    own = db.session.get(Participant, own_id)
    own.municipality, own.education, own.country_of_birth_region = "GM0748", "primary", "europe"
    own.birth_date, own.pension_age_date = date(1961, 3, 17), date(2028, 6, 17)
    own.client_number = "KL-4711"
    db.session.commit()
    caseload.assign_by_load(bw, on=START, actor="test")
    planning.plan_site(bw, actor="test", starts_on=START)
    conversations.record(
        own,
        {
            "date": START,
            "status": "held",
            "duration_minutes": 45,
            "domains": [{"domain": "finances", "moved_forward": True}],
            "agreements": [{"description": AGREEMENT, "responsible": "client", "due_on": None}],
            "interventions_started": [
                {"type": "financial", "provider": PROVIDER, "start": START, "end": None}
            ],
            "notes": NOTES,
        },
        actor="user:km",
        manager_id=km.id,
        today=START,
    )
    followup.aow_watch(date(2028, 4, 1))
    db.session.commit()
    for username, role, site in (
        ("admin", "research_admin", None),
        ("coord", "site_coordinator", bw),
        ("coordother", "site_coordinator", other),
        ("analist", "analyst", None),
    ):
        users.create_user(username=username, role=role, password=PASSWORD, site=site, actor="t")
    for manager in (km, km2):
        users.set_password(manager.id, PASSWORD, actor="test")
    world = World(bw.trial, bw, other, own, db.session.get(Participant, foreign_id))
    world.users = {u.username: u for u in users.list_users()}
    world.jobs = {"own": ended_import_job(bw), "other": ended_import_job(other)}
    world.tokens = {
        "research_admin": build.token("research_admin"),
        "analyst": build.token("analyst"),
        "site_coordinator": build.token("site_coordinator", site=bw),
        "client_manager": build.token("client_manager", site=bw, user=km),
    }
    return world


def ended_import_job(site: Any) -> int:
    """An import job of ``site`` that failed (nothing of it stored), for its status URL."""
    from fiptrial.extensions import db
    from fiptrial.models import ImportTask

    task = ImportTask(
        site_id=site.id, kind="participants", status="failed", rows_done=0, duplicate=False,
        filename="export.csv", spool_name="import-gone.upload", created_by="test",
        error="has a header but no rows: nothing was imported", error_code="export_no_rows",
    )  # fmt: skip
    db.session.add(task)
    db.session.commit()
    return int(task.id)


def fresh_g_per_request(app: Any) -> None:
    """Give each request its own ``g``, as in production.

    The tests hold one application context open (tests/conftest.py), and Flask reuses it for
    every request, so Flask-Login's cached user and Flask-WTF's CSRF token would leak from one
    test client (one browser) into the next.
    """
    from flask import g

    def forget() -> None:
        g.pop("_login_user", None)
        g.pop("csrf_token", None)

    app.before_request_funcs.setdefault(None, []).insert(0, forget)


@pytest.fixture(autouse=True)
def cheap_password_hashing() -> Iterator[None]:
    """argon2 at its production cost makes every test user take a noticeable moment."""
    with cheap_hashing():
        yield


def world_ids(world: World) -> dict[str, Any]:
    """What a kept copy of the world needs besides the database: its rows' ids and tokens."""
    return {
        "trial": world.trial.id,
        "sites": (world.bw.id, world.other.id),
        "participants": (world.own.id, world.foreign.id),
        "tokens": world.tokens,
        "jobs": world.jobs,
    }


def world_from_ids(ids: dict[str, Any]) -> World:
    """The world of ``world_ids`` read back from the database (in this test's session)."""
    from fiptrial.extensions import db
    from fiptrial.models import Participant, Site, Trial
    from fiptrial.services import users

    bw, other = (db.session.get(Site, site_id) for site_id in ids["sites"])
    own, foreign = (db.session.get(Participant, pid) for pid in ids["participants"])
    world = World(db.session.get(Trial, ids["trial"]), bw, other, own, foreign)
    world.users = {u.username: u for u in users.list_users()}
    world.tokens = dict(ids["tokens"])
    world.jobs = dict(ids["jobs"])
    return world


@pytest.fixture
def world(app: Any, build: Any, seeded_snapshots: Any) -> World:
    """The security tests' world: two sites, every role, a FIP client.

    Built once per test process and backend; every other test gets a copy of its database
    (tests/conftest.py, SeededSnapshots), with the same ids and tokens, in its own database.
    """
    ids = seeded_snapshots.load(app, "security_world", lambda: world_ids(build_world(build)), build)
    return world_from_ids(ids)
