"""The lottery decides, not the coordinator (services.lottery): every refusal over HTTP, the
default minimum of 20, the FIP probabilities of the draw itself, a second cohort
only by a research admin with an audited reason, later arrivals by the trial's method."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from typing import Any

import pytest

from fiptrial.extensions import db
from fiptrial.models import Allocation, AuditEntry, CohortRandomisation
from fiptrial.services import caseload, lottery, randomisation
from fiptrial.services.random_source import new_seed

URL = "/api/v1/sites/bw/cohort-allocation"


@pytest.fixture
def default_minimum(app: Any) -> int:
    """The app as deployed: the minimum is the default (the other tests run with 2)."""
    app.config.pop("COHORT_MIN_SIZE")
    return lottery.DEFAULT_MIN_SIZE


def _site(build: Any, n: int, capacity: int | None = 10) -> Any:
    site = build.site(build.trial())
    if capacity:
        caseload.add_client_manager(site, "km1", capacity=capacity, actor="test")
    for _ in range(n):
        build.participant(site)
    return site


def _post(client: Any, headers: dict[str, str], **body: Any) -> Any:
    return client.post(URL, headers=headers, json=body)


def _refused(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.json
    assert response.json["error"]["code"] == code, response.json
    assert db.session.query(Allocation).count() == 0
    return response.json["error"]


def test_the_default_minimum_is_20_and_a_cohort_of_one_is_refused(
    client: Any, build: Any, bearer: Any, default_minimum: int
) -> None:
    site = _site(build, 19)
    coordinator = bearer(build.token("site_coordinator", site=site))
    error = _refused(_post(client, coordinator, fip=5), 422, "cohort_too_small")
    assert (error["minimum"], error["caseload"]) == (20, 19)
    build.participant(site)
    assert _post(client, coordinator, fip=5).status_code == 201


def test_the_minimum_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from pathlib import Path

    from fiptrial.config import settings_from_environment

    monkeypatch.setenv("FIPTRIAL_COHORT_MIN_SIZE", "35")
    monkeypatch.setenv("FIPTRIAL_SECRET_KEY", "s" * 64)
    monkeypatch.setenv("FIPTRIAL_PSEUDONYM_KEY", "p" * 64)
    monkeypatch.setenv("FIPTRIAL_AUDIT_KEY", "a" * 64)
    assert settings_from_environment(Path("/nonexistent"))["COHORT_MIN_SIZE"] == 35


@pytest.mark.parametrize("fip", [0, 25])
def test_no_participant_may_be_certain_of_an_arm(
    client: Any, build: Any, bearer: Any, fip: int, default_minimum: int
) -> None:
    site = _site(build, 25, capacity=30)
    coordinator = bearer(build.token("site_coordinator", site=site))
    error = _refused(_post(client, coordinator, fip=fip), 422, "cohort_fip_out_of_range")
    assert error["highest"] == 24 and "fip" in error["fields"]


def test_fip_is_at_most_the_free_capacity(client: Any, build: Any, bearer: Any) -> None:
    site = _site(build, 25, capacity=4)
    coordinator = bearer(build.token("site_coordinator", site=site))
    error = _refused(_post(client, coordinator, fip=5), 422, "cohort_fip_over_capacity")
    assert (error["fip"], error["free"]) == (5, 4)


def test_a_site_without_free_places_is_told_so(client: Any, build: Any, bearer: Any) -> None:
    site = _site(build, 25, capacity=None)
    coordinator = bearer(build.token("site_coordinator", site=site))
    _refused(_post(client, coordinator), 422, "cohort_no_free_places")
    _refused(_post(client, coordinator, fip=3), 422, "cohort_fip_over_capacity")


def test_free_places_count_the_fip_participants_already_in_care(build: Any) -> None:
    site = _site(build, 25, capacity=10)
    assert lottery.free_fip_places(site.id) == 10
    randomisation.allocate_cohort(site.id, 6, actor="test")
    assert lottery.free_fip_places(site.id) == 4  # six FIP participants wait for their manager
    caseload.assign_by_load(site, on=date.today(), actor="test")
    assert lottery.free_fip_places(site.id) == 4  # assigned now: still taken


def test_a_second_cohort_needs_a_research_admin_and_a_reason(
    client: Any, build: Any, bearer: Any
) -> None:
    site = _site(build, 25, capacity=20)
    coordinator = bearer(build.token("site_coordinator", site=site))
    admin = bearer(build.token("research_admin"))
    assert _post(client, coordinator, fip=5).status_code == 201
    for _ in range(22):
        build.participant(site)
    second = _post(client, coordinator, fip=5)
    assert second.status_code == 409 and second.json["error"]["code"] == "cohort_exists"
    short = _post(client, admin, fip=5, reason="why")
    assert short.status_code == 422 and short.json["error"]["code"] == "cohort_reason_required"
    assert "reason" in short.json["error"]["fields"]
    assert db.session.query(CohortRandomisation).count() == 1
    reason = "the second intake of the pilot, approved by the steering group"
    done = _post(client, admin, fip=5, reason=reason)
    assert done.status_code == 201, done.json
    entry = (
        db.session.query(AuditEntry)
        .filter_by(action="randomisation.cohort_committed")
        .order_by(AuditEntry.id.desc())
        .first()
    )
    assert entry is not None and entry.actor.startswith("token:")
    data = json.loads(entry.data)
    assert data["reason"] == reason and data["earlier_cohorts"] == 1


def test_later_arrivals_are_allocated_by_the_trials_method(
    client: Any, build: Any, bearer: Any
) -> None:
    site = _site(build, 25, capacity=20)
    randomisation.allocate_cohort(site.id, 5, actor="test")
    late = build.participant(site)
    response = client.post(
        f"/api/v1/participants/{late.id}/allocation",
        headers=bearer(build.token("site_coordinator", site=site)),
    )
    assert response.status_code == 201, response.json
    assert response.json["method"] == "permuted_blocks"
    assert randomisation.verify_trial(site.trial) == []


def test_every_participant_of_a_valid_cohort_can_get_either_arm() -> None:
    """The draw itself, many seeds: a stratum of one next to a large one, one FIP place, and
    one place less than the cohort. No participant is always FIP or always control."""
    strata = {"small": [1], "large": list(range(2, 21)), "pair": [21, 22]}
    for fip in (1, 21):
        fip_counts: Counter[int] = Counter()
        runs = 1500
        for _ in range(runs):
            chosen = randomisation.derive_cohort(new_seed(), strata, fip)
            fip_counts.update(pid for ids in chosen.values() for pid in ids)
        for pid in range(1, 23):
            assert 0 < fip_counts[pid] < runs, (fip, pid, fip_counts[pid])
