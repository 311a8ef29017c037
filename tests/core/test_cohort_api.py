"""POST /api/v1/sites/{site}/cohort-allocation over HTTP: the success path and a retry."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from fiptrial.extensions import db
from fiptrial.models import Allocation, CohortRandomisation

#: The cohort allocation of the site the tests build (code bw).
ALLOCATE = "/api/v1/sites/bw/cohort-allocation"


def _site_with_caseload(build: Any, n: int = 25, capacity: int = 10) -> Any:
    from fiptrial.services import caseload

    site = build.site(build.trial())
    caseload.add_client_manager(site, "km1", capacity=capacity, actor="test")
    for _ in range(n):
        build.participant(site)
    return site


@pytest.fixture
def allocated(client: Any, build: Any, bearer: Any) -> tuple[dict[str, str], Any]:
    """The coordinator of a site with its caseload (25 participants, 10 FIP places) allocates
    it with 5 FIP places: the coordinator's request headers and the answer, 201."""
    headers = bearer(build.token("site_coordinator", site=_site_with_caseload(build)))
    response = client.post(ALLOCATE, headers=headers, json={"fip": 5})
    assert response.status_code == 201, response.json
    return headers, response


def test_cohort_allocation_answers_201_with_its_allocations(
    allocated: tuple[dict[str, str], Any],
) -> None:
    _headers, response = allocated
    body = response.json
    assert body["site"] == "bw" and body["fip"] == 5 and body["caseload"] == 25
    assert Counter(a["arm"] for a in body["allocations"]) == {"fip": 5, "control": 20}
    assert {a["site"] for a in body["allocations"]} == {"bw"}
    stored = db.session.query(Allocation).filter_by(cohort_id=body["id"]).count()
    assert stored == 25


def test_cohort_allocation_without_fip_uses_the_free_capacity(
    client: Any, build: Any, bearer: Any
) -> None:
    _site_with_caseload(build, capacity=7)
    headers = bearer(build.token("research_admin"))
    response = client.post(ALLOCATE, headers=headers, json={})
    assert response.status_code == 201, response.json
    assert response.json["fip"] == 7


def test_a_retry_is_refused_clearly_and_allocates_nothing(
    client: Any, allocated: tuple[dict[str, str], Any]
) -> None:
    headers, _first = allocated
    retry = client.post(ALLOCATE, headers=headers, json={"fip": 5})
    assert retry.status_code == 409, retry.json
    assert retry.json["error"]["code"] == "cohort_exists"
    assert db.session.query(CohortRandomisation).count() == 1
    assert db.session.query(Allocation).count() == 25
