"""Every API endpoint, every role, own site and another site.

Who may call each endpoint is the literal table ALLOWED below, written out by hand and not
read from services.access.PERMISSIONS: a change of who may do what must change this file too
(tests/security/test_access_matrix_literal.py holds the exact status of every cell). A role
that may never do something gets 403; a site role asking about another site gets 404 (its
records' existence is not revealed); a request that passes the access check may still fail on
its content (409, 422), which is fine here. A new endpoint that is missing from ENDPOINTS
fails ``test_every_endpoint_is_in_the_matrix``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

ROLES = ["research_admin", "site_coordinator", "client_manager", "analyst", "privacy_officer"]
SHORT = {
    "research_admin": "admin",
    "site_coordinator": "coord",
    "client_manager": "manager",
    "analyst": "analyst",
    "privacy_officer": "fg",
}


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # {site}, {participant}, {allocation} are filled in per case
    action: str  # the permission of services.access that guards it (for the reader)
    site_scoped: bool
    body: dict[str, Any] | None = None


ENDPOINTS = [
    Endpoint("POST", "/api/v1/trials", "trial.create", False, {"code": "new-trial", "name": "New"}),
    Endpoint("GET", "/api/v1/trials", "trial.read", False),
    Endpoint("GET", "/api/v1/trials/t1", "trial.read", False),
    Endpoint(
        "POST",
        "/api/v1/trials/t1/sites",
        "site.create",
        False,
        {"code": "third", "plugin": "template", "municipalities": ["GM0855"]},
    ),
    Endpoint(
        "POST",
        "/api/v1/trials/t1/consent-forms",
        "consent_form.create",
        False,
        {"version": "v9", "valid_from": "2026-01-01"},
    ),
    Endpoint("GET", "/api/v1/trials/t1/consent-forms", "consent_form.read", False),
    Endpoint("GET", "/api/v1/sites/{site}", "site.read", True),
    Endpoint(
        "POST",
        "/api/v1/sites/{site}/participants",
        "participant.register",
        True,
        {
            "bsn": "999993653",
            "birth_date": "1980-01-01",
            "sex": "male",
            "benefit_start": "2020-01-01",
        },
    ),
    Endpoint("GET", "/api/v1/sites/{site}/participants", "participant.list", True),
    Endpoint(
        "POST", "/api/v1/sites/{site}/cohort-allocation", "cohort.create", True, {"fip": 999999}
    ),
    Endpoint("GET", "/api/v1/sites/{site}/allocations", "allocation.list", True),
    Endpoint("GET", "/api/v1/participants/{participant}", "participant.read", True),
    Endpoint(
        "POST",
        "/api/v1/participants/{participant}/consents",
        "consent.record",
        True,
        {"status": "given", "version": "nope", "date": "2026-11-02"},
    ),
    Endpoint("GET", "/api/v1/participants/{participant}/consents", "consent.read", True),
    Endpoint("POST", "/api/v1/participants/{participant}/allocation", "allocation.create", True),
    Endpoint("GET", "/api/v1/participants/{participant}/allocation", "allocation.read", True),
    Endpoint(
        "POST",
        "/api/v1/allocations/{allocation}/corrections",
        "allocation.correct",
        True,
        {"reason": "x"},
    ),
    Endpoint("GET", "/api/v1/audit/verify", "audit.verify", False),
    # Analysis: the pooled report and the data freezes of a trial.
    Endpoint("GET", "/api/v1/trials/t1/analysis", "analysis.read", False),
    Endpoint("GET", "/api/v1/trials/t1/freezes", "analysis.read", False),
    # Imports: a JSON body carries no file, so allowed roles get 422, never 403/404.
    Endpoint("POST", "/api/v1/sites/{site}/participant-imports", "import.create", True),
    Endpoint("POST", "/api/v1/sites/{site}/outcome-imports", "import.create", True),
    Endpoint("GET", "/api/v1/sites/{site}/outcome-imports", "import.read", True),
    # Queued imports (issue 15): the status of an import job of the site.
    Endpoint("GET", "/api/v1/sites/{site}/import-jobs/{job}", "import.read", True),
    Endpoint("GET", "/api/v1/participants/{participant}/outcomes", "outcome.read", True),
    # Benefit spells: derived from the outcome events, read like them.
    Endpoint("GET", "/api/v1/participants/{participant}/spells", "outcome.read", True),
    # Conversations: the world's participants have no plan, so moves answer 422.
    Endpoint(
        "POST",
        "/api/v1/participants/{participant}/conversations",
        "conversation.record",
        True,
        {"date": "2026-11-02", "duration_minutes": 30},
    ),
    Endpoint("GET", "/api/v1/participants/{participant}/conversations", "conversation.read", True),
    Endpoint("GET", "/api/v1/participants/{participant}/plan", "plan.read", True),
    Endpoint(
        "POST",
        "/api/v1/participants/{participant}/plan/moves",
        "conversation.record",
        True,
        {"sequence": 2, "date": "2027-01-04"},
    ),
    Endpoint("GET", "/api/v1/client-managers/{manager}/agenda", "plan.read", False),
    Endpoint("GET", "/api/v1/client-managers/{manager}/notifications", "notification.read", False),
    Endpoint("GET", "/api/v1/sites/{site}/fidelity", "conversation.read", True),
    # Privacy: the read log, for the research admin and the FG.
    Endpoint("GET", "/api/v1/read-log", "readlog.read", False),
]


# Endpoint -> the roles that pass the role check (then site and caseload decide).
ALLOWED: dict[str, str] = {
    "POST /api/v1/trials":                                   "admin",
    "GET /api/v1/trials":                                    "admin coord manager analyst",
    "GET /api/v1/trials/t1":                                 "admin coord manager analyst",
    "POST /api/v1/trials/t1/sites":                          "admin",
    "POST /api/v1/trials/t1/consent-forms":                  "admin",
    "GET /api/v1/trials/t1/consent-forms":                   "admin coord manager analyst",
    "GET /api/v1/sites/{site}":                              "admin coord manager analyst",
    "POST /api/v1/sites/{site}/participants":                "admin coord",
    "GET /api/v1/sites/{site}/participants":                 "admin coord manager analyst",
    "POST /api/v1/sites/{site}/cohort-allocation":           "admin coord",
    "GET /api/v1/sites/{site}/allocations":                  "admin coord analyst",
    "GET /api/v1/participants/{participant}":                "admin coord manager analyst",
    "POST /api/v1/participants/{participant}/consents":      "admin coord manager",
    "GET /api/v1/participants/{participant}/consents":       "admin coord manager analyst",
    "POST /api/v1/participants/{participant}/allocation":    "admin coord",
    "GET /api/v1/participants/{participant}/allocation":     "admin coord manager analyst",
    "POST /api/v1/allocations/{allocation}/corrections":     "admin",
    "GET /api/v1/audit/verify":                              "admin analyst",
    "GET /api/v1/trials/t1/analysis":                        "admin analyst",
    "GET /api/v1/trials/t1/freezes":                         "admin analyst",
    "POST /api/v1/sites/{site}/participant-imports":         "admin coord",
    "POST /api/v1/sites/{site}/outcome-imports":             "admin coord",
    "GET /api/v1/sites/{site}/outcome-imports":              "admin coord analyst",
    "GET /api/v1/sites/{site}/import-jobs/{job}":            "admin coord analyst",
    "GET /api/v1/participants/{participant}/outcomes":       "admin coord manager analyst",
    "GET /api/v1/participants/{participant}/spells":         "admin coord manager analyst",
    "POST /api/v1/participants/{participant}/conversations": "admin coord manager",
    "GET /api/v1/participants/{participant}/conversations":  "admin coord manager analyst",
    "GET /api/v1/participants/{participant}/plan":           "admin coord manager analyst",
    "POST /api/v1/participants/{participant}/plan/moves":    "admin coord manager",
    "GET /api/v1/client-managers/{manager}/agenda":          "admin coord manager analyst",
    "GET /api/v1/client-managers/{manager}/notifications":   "admin coord manager",
    "GET /api/v1/sites/{site}/fidelity":                     "admin coord manager analyst",
    "GET /api/v1/read-log":                                  "admin fg",
}  # fmt: skip


def test_every_endpoint_has_a_row_of_allowed_roles() -> None:
    assert sorted(ALLOWED) == sorted(f"{e.method} {e.path}" for e in ENDPOINTS)


def build_world(build: Any) -> dict[str, Any]:
    """Two sites of t1 with an allocated participant and an ended import job each, a client
    manager of the own site, a token of every role; the ids and tokens, for ``world_from``."""
    from fiptrial.extensions import db
    from fiptrial.models import User
    from fiptrial.services import randomisation

    trial = build.trial("t1")
    own = build.site(trial, "bw", "brabantse_wal")
    other = build.site(trial, "other", "template", municipalities=["GM0758"])
    people = {"own": build.participant(own), "other": build.participant(other)}
    allocations = {
        scope: randomisation.allocate(person.id, actor="test") for scope, person in people.items()
    }
    manager = User(username="km", role="client_manager", site_id=own.id)
    db.session.add(manager)
    db.session.commit()
    tokens = {
        "research_admin": build.token("research_admin"),
        "analyst": build.token("analyst"),
        "site_coordinator": build.token("site_coordinator", site=own),
        "client_manager": build.token("client_manager", site=own, user=manager),
        "privacy_officer": build.token("privacy_officer"),
    }
    jobs = {scope: _ended_job(site) for scope, site in (("own", own), ("other", other))}
    return {
        "jobs": jobs,
        "sites": {"own": own.id, "other": other.id},
        "people": {scope: person.id for scope, person in people.items()},
        "allocations": {scope: allocation.id for scope, allocation in allocations.items()},
        "tokens": tokens,
        "manager": manager.id,
    }


def world_from(ids: dict[str, Any]) -> dict[str, Any]:
    """The world of ``build_world`` read back from the database, in this test's session."""
    from fiptrial.extensions import db
    from fiptrial.models import Allocation, Participant, Site, User

    def rows(model: Any, scoped: dict[str, int]) -> dict[str, Any]:
        return {scope: db.session.get(model, row_id) for scope, row_id in scoped.items()}

    return {
        "jobs": dict(ids["jobs"]),
        "sites": rows(Site, ids["sites"]),
        "people": rows(Participant, ids["people"]),
        "allocations": rows(Allocation, ids["allocations"]),
        "tokens": dict(ids["tokens"]),
        "manager": db.session.get(User, ids["manager"]),
    }


@pytest.fixture
def world(app: Any, build: Any, seeded_snapshots: Any) -> dict[str, Any]:
    """Built once per test process and backend; each test gets a copy of its database
    (tests/conftest.py, SeededSnapshots), with the same ids and tokens."""
    ids = seeded_snapshots.load(app, "access_matrix", lambda: build_world(build), build)
    return world_from(ids)


def _ended_job(site: Any) -> int:
    """A failed import job of ``site`` (nothing of it stored): its status URL answers."""
    from fiptrial.extensions import db
    from fiptrial.models import ImportTask

    task = ImportTask(
        site_id=site.id, kind="outcomes", status="failed", rows_done=0, duplicate=False,
        filename="x.csv", spool_name="import-x.upload", created_by="test",
    )  # fmt: skip
    db.session.add(task)
    db.session.commit()
    return int(task.id)


def fill(endpoint: Endpoint, world: dict[str, Any], scope: str) -> str:
    return endpoint.path.format(
        site=world["sites"][scope].code,
        participant=world["people"][scope].id,
        allocation=world["allocations"][scope].id,
        manager=world["manager"].id,
        job=world["jobs"][scope],
    )


def call(client: Any, endpoint: Endpoint, path: str, headers: dict[str, str]) -> Any:
    return client.open(path, method=endpoint.method, headers=headers, json=endpoint.body)


@pytest.mark.parametrize("role", ROLES)
def test_access_matrix(client: Any, world: dict[str, Any], bearer: Any, role: str) -> None:
    headers = bearer(world["tokens"][role])
    site_bound = role in ("site_coordinator", "client_manager")
    for endpoint in ENDPOINTS:
        allowed = SHORT[role] in ALLOWED[f"{endpoint.method} {endpoint.path}"].split()
        for scope in ("own", "other") if endpoint.site_scoped else ("own",):
            status = call(client, endpoint, fill(endpoint, world, scope), headers).status_code
            where = f"{role} {endpoint.method} {endpoint.path} ({scope} site): {status}"
            if not allowed:
                assert status == 403, where
            elif endpoint.site_scoped and site_bound and scope == "other":
                assert status == 404, where
            elif role == "client_manager" and "{participant}" in endpoint.path:
                assert status == 404, where  # not in this client manager's caseload
            else:
                assert status not in (401, 403, 404, 405) and status < 500, where


def row_counts() -> dict[str, int]:
    """The rows of every table: a refused request must leave them as they were."""
    from sqlalchemy import func

    from fiptrial.extensions import db

    return {
        table.name: db.session.query(func.count()).select_from(table).scalar() or 0
        for table in db.metadata.sorted_tables
    }


def test_unknown_and_revoked_tokens_get_401(
    client: Any, world: dict[str, Any], bearer: Any
) -> None:
    """No token, an unknown token and a revoked one: 401 on every endpoint.

    One world for all endpoints: the refusals write nothing (asserted: every table keeps its
    rows), so each endpoint is asked as on a world of its own. The analyst's token is revoked
    once, after every endpoint has refused the first two.
    """
    from fiptrial.extensions import db
    from fiptrial.models import ApiToken
    from fiptrial.services.tokens import revoke_token

    requests = [(endpoint, fill(endpoint, world, "own")) for endpoint in ENDPOINTS]
    wrong = []

    def expect_401(headers: dict[str, str], what: str) -> None:
        for endpoint, path in requests:
            status = call(client, endpoint, path, headers).status_code
            if status != 401:
                wrong.append(f"{endpoint.method} {endpoint.path} ({what}): {status}")

    before = row_counts()
    expect_401({}, "no token")
    expect_401(bearer("fip_not-a-token"), "unknown token")
    refused = row_counts()
    analyst = db.session.query(ApiToken).filter_by(role="analyst").one()
    revoke_token(analyst.id, actor="test")
    revoked = row_counts()
    expect_401(bearer(world["tokens"]["analyst"]), "revoked token")
    after = row_counts()
    assert not wrong, "not 401:\n" + "\n".join(wrong)
    assert (refused, after) == (before, revoked), "a refused request wrote to the database"
    assert revoked != before  # the counts see a write: the revocation's audit entry


def test_every_endpoint_is_in_the_matrix(app: Any) -> None:
    covered = {
        (
            e.method,
            e.path.replace("{site}", "<site_code>")
            .replace("{participant}", "<int:participant_id>")
            .replace("{allocation}", "<int:allocation_id>")
            .replace("{manager}", "<int:manager_id>")
            .replace("{job}", "<int:task_id>")
            .replace("/t1", "/<trial_code>"),
        )
        for e in ENDPOINTS
    }
    missing = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.rule == "/api/v1/openapi.json":
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            if (method, rule.rule) not in covered:
                missing.append(f"{method} {rule.rule}")
    assert not missing, f"endpoints without access tests: {missing}"
