# ruff: noqa: E501  (one table row per line)
"""The access matrix as a literal table: role x endpoint x own/other site, API and pages.

Written out by hand, not derived from ``services.access.PERMISSIONS``: a change of who may do
what must change this file too. Each cell is the HTTP status that role gets, ``own/other``:
``own`` is the caller's site bw (its FIP participant, in client manager km's caseload) and
trial t1, ``other`` the other site of t1 (its participant) and trial t2 (bw takes no part).
Refusals: 403 for a role that may never do it, 404 for another site's records (their existence
is not revealed); 409 and 422 are refusals of the content after the access check (the bodies
are deliberately incomplete: no file, an unknown consent form version, a plan without the
sequence). Requests run in this order on a fresh world per role, so writes are seen by later
rows (the admin's participant at the own site makes the other site's registration a 409).
"""

from __future__ import annotations

from typing import Any

import pytest
from matrix_cases import API, PAGES, TOKEN_ROLES, WEB_USERS, fill
from security_world import World, login

# Columns: research admin, site coordinator, client manager, analyst.
API_EXPECTED: dict[str, tuple[str, str, str, str]] = {
    "POST /api/v1/trials": ("201", "403", "403", "403"),
    "GET /api/v1/trials": ("200", "200", "200", "200"),
    "GET /api/v1/trials/{trial}": ("200/200", "200/404", "200/404", "200/200"),
    "POST /api/v1/trials/{trial}/sites": ("201/409", "403/403", "403/403", "403/403"),
    "POST /api/v1/trials/{trial}/consent-forms": ("201/201", "403/403", "403/403", "403/403"),
    "GET /api/v1/trials/{trial}/consent-forms": ("200/200", "200/404", "200/404", "200/200"),
    "GET /api/v1/sites/{site}": ("200/200", "200/404", "200/404", "200/200"),
    "POST /api/v1/sites/{site}/participants": ("201/409", "201/404", "403/403", "403/403"),
    "GET /api/v1/sites/{site}/participants": ("200/200", "200/404", "200/404", "200/200"),
    "POST /api/v1/sites/{site}/cohort-allocation": ("422/422", "422/404", "403/403", "403/403"),
    "GET /api/v1/sites/{site}/allocations": ("200/200", "200/404", "403/403", "200/200"),
    "GET /api/v1/participants/{participant}": ("200/200", "200/404", "200/404", "200/200"),
    "POST /api/v1/participants/{participant}/consents": ("422/422", "422/404", "422/404", "403/403"),
    "GET /api/v1/participants/{participant}/consents": ("200/200", "200/404", "200/404", "200/200"),
    "POST /api/v1/participants/{participant}/allocation": ("409/409", "409/404", "403/403", "403/403"),
    "GET /api/v1/participants/{participant}/allocation": ("200/200", "200/404", "200/404", "200/200"),
    "POST /api/v1/allocations/{allocation}/corrections": ("422/422", "403/403", "403/403", "403/403"),
    "GET /api/v1/audit/verify": ("200", "403", "403", "200"),
    "GET /api/v1/trials/{trial}/analysis": ("422/422", "403/403", "403/403", "422/422"),
    "GET /api/v1/trials/{trial}/freezes": ("200/200", "403/403", "403/403", "200/200"),
    "POST /api/v1/sites/{site}/participant-imports": ("422/422", "422/404", "403/403", "403/403"),
    "POST /api/v1/sites/{site}/outcome-imports": ("422/422", "422/404", "403/403", "403/403"),
    "GET /api/v1/sites/{site}/outcome-imports": ("200/200", "200/404", "403/403", "200/200"),
    "GET /api/v1/sites/{site}/import-jobs/{job}": ("200/200", "200/404", "403/403", "200/200"),
    "GET /api/v1/participants/{participant}/outcomes": ("200/200", "200/404", "200/404", "200/200"),
    "GET /api/v1/participants/{participant}/spells": ("200/200", "200/404", "200/404", "200/200"),
    "POST /api/v1/participants/{participant}/conversations": ("201/201", "201/404", "201/404", "403/403"),
    "GET /api/v1/participants/{participant}/conversations": ("200/200", "200/404", "200/404", "200/200"),
    "GET /api/v1/participants/{participant}/plan": ("200/200", "200/404", "200/404", "200/200"),
    "POST /api/v1/participants/{participant}/plan/moves": ("422/422", "422/404", "422/404", "403/403"),
    "GET /api/v1/client-managers/{manager}/agenda": ("200", "200", "200", "200"),
    "GET /api/v1/client-managers/{manager}/notifications": ("200", "200", "200", "403"),
    "GET /api/v1/sites/{site}/fidelity": ("200/200", "200/404", "200/404", "200/200"),
    "GET /api/v1/read-log": ("200", "403", "403", "403"),
}  # fmt: skip

PAGES_EXPECTED: dict[str, tuple[str, str, str, str]] = {
    "GET /locatie/{site}/deelnemers": ("200/200", "200/404", "403/403", "200/200"),
    "GET /locatie/{site}/deelnemers/{participant}": ("200/200", "200/404", "403/403", "200/200"),
    "GET /locatie/{site}/deelnemers/nieuw": ("200/200", "200/404", "403/403", "403/403"),
    "GET /locatie/{site}/toestemming": ("200/200", "200/404", "403/403", "403/403"),
    "GET /locatie/{site}/loting": ("200/200", "200/404", "403/403", "403/403"),
    "GET /locatie/{site}/toewijzingen": ("200/200", "200/404", "403/403", "200/200"),
    "GET /locatie/{site}/bestanden": ("200/200", "200/404", "403/403", "200/200"),
    "GET /klantmanager/agenda": ("200", "200", "200", "200"),
    "GET /klantmanager/achterstand": ("200", "200", "200", "200"),
    "GET /klantmanager/deelnemer/{participant}": ("200/200", "200/404", "200/404", "200/200"),
    "GET /klantmanager/deelnemer/{participant}/gesprek": ("200/200", "200/404", "200/404", "403/403"),
    "GET /onderzoek/": ("200", "403", "403", "200"),
    "GET /onderzoek/monitoring/{site}": ("200/200", "200/404", "403/403", "200/200"),
    "GET /onderzoek/audit": ("200", "403", "403", "200"),
    "GET /onderzoek/rapport": ("200", "403", "403", "200"),
    "GET /onderzoek/exports": ("200", "403", "403", "200"),
    "GET /beheer/": ("302", "403", "403", "403"),
    "GET /beheer/locaties": ("200", "403", "403", "403"),
    "GET /beheer/gebruikers": ("200", "403", "403", "403"),
    "GET /beheer/onderzoek/{trial}": ("200/200", "403/403", "403/403", "403/403"),
    "GET /wachtwoord": ("200", "200", "200", "200"),
    "GET /privacy/leeslog": ("200", "403", "403", "403"),
}  # fmt: skip


@pytest.fixture
def second_trial(build: Any) -> None:
    build.site(build.trial("t2"), code="elders", plugin="template")


def _cells(expected: dict[str, tuple[str, str, str, str]]) -> int:
    return sum(len(cell.split("/")) for row in expected.values() for cell in row)


def test_the_table_covers_every_request_and_every_api_route(app: Any) -> None:
    assert list(API_EXPECTED) == [r.label for r in API]
    assert list(PAGES_EXPECTED) == [r.label for r in PAGES]
    routes = {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/") and rule.rule != "/api/v1/openapi.json"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    import re

    covered = {
        (r.method, re.sub(r"{(\w+)}", lambda m: ROUTE_PARAMS[m.group(1)], r.path)) for r in API
    }
    assert routes == covered
    assert (_cells(API_EXPECTED), _cells(PAGES_EXPECTED)) == (248, 132)  # 380 cells


ROUTE_PARAMS = {
    "site": "<site_code>",
    "participant": "<int:participant_id>",
    "allocation": "<int:allocation_id>",
    "manager": "<int:manager_id>",
    "trial": "<trial_code>",
    "job": "<int:task_id>",
}


@pytest.mark.parametrize("role", TOKEN_ROLES)
def test_api_matrix(client: Any, world: World, second_trial: None, role: str) -> None:
    column = TOKEN_ROLES.index(role)
    headers = {"Authorization": f"Bearer {world.tokens[role]}"}
    wrong = []
    for request in API:
        scopes = ("own", "other") if request.scoped else ("own",)
        got = "/".join(
            str(
                client.open(
                    fill(request, world, scope),
                    method=request.method,
                    headers=headers,
                    json=request.body,
                ).status_code
            )
            for scope in scopes
        )
        if got != API_EXPECTED[request.label][column]:
            wrong.append(
                f"{request.label}: expected {API_EXPECTED[request.label][column]}, got {got}"
            )
    assert not wrong, f"{role}:\n" + "\n".join(wrong)


@pytest.mark.parametrize("role", TOKEN_ROLES)
def test_pages_matrix(client: Any, world: World, second_trial: None, role: str) -> None:
    column = TOKEN_ROLES.index(role)
    assert login(client, WEB_USERS[role]).status_code == 302
    wrong = []
    for request in PAGES:
        scopes = ("own", "other") if request.scoped else ("own",)
        got = "/".join(str(client.get(fill(request, world, s)).status_code) for s in scopes)
        if got != PAGES_EXPECTED[request.label][column]:
            wrong.append(
                f"{request.label}: expected {PAGES_EXPECTED[request.label][column]}, got {got}"
            )
    assert not wrong, f"{role}:\n" + "\n".join(wrong)


def test_without_a_login_every_page_sends_to_the_login_form(
    client: Any, world: World, second_trial: None
) -> None:
    for request in PAGES:
        answer = client.get(fill(request, world, "own"))
        assert answer.status_code == 302 and "/inloggen" in answer.headers["Location"], request
