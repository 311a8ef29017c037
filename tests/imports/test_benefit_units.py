"""Benefit units (issue 10): partners on one benefit, enrolled from the Brabantse Wal export
with their Uitkeringsnummer, are randomised as one unit, over the API as a coordinator would.

A unit counts once: the second partner takes the first one's arm without a draw, uses no slot of
the stratum's block and is not counted by minimisation. Eligibility stays per person.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

import pytest
from dateutil.relativedelta import relativedelta
from import_helpers import Line, export_bytes

from fiptrial.extensions import db
from fiptrial.models import Allocation, MinimisationCount, Participant, StratumState
from fiptrial.services import consent, randomisation
from fiptrial.services.exports import build_export
from fiptrial.timezone import local_date
from lottery_support import allocate_cohort_with_places
from participant_lookup import find_by_bsn


def enrol_from_export(build: Any, site: Any, upload: Any, lines: list[Line]) -> list[Any]:
    """Enrol the lines' running benefits through the import, record consent for the eligible;
    returns the participants in line order (None for a line that was not registered)."""
    response = upload("participant", site.code, export_bytes(lines))
    assert response.status_code == 201, response.get_json()
    people = [find_by_bsn(site, line.bsn) for line in lines]
    for person in people:
        if person is not None and person.eligible and site.trial.consent_design == "consent_first":
            consent.record(person, status="given", version="v1", on=date.today(), actor="test")
    return people


@pytest.fixture
def api(client: Any, build: Any, bearer: Any, bw_site: Any) -> Any:
    headers = bearer(build.token("site_coordinator", site=bw_site))

    class Api:
        def allocate(self, person: Any) -> dict[str, Any]:
            response = client.post(f"/api/v1/participants/{person.id}/allocation", headers=headers)
            assert response.status_code == 201, response.get_json()
            return response.get_json()

        def refused(self, person: Any) -> dict[str, Any]:
            response = client.post(f"/api/v1/participants/{person.id}/allocation", headers=headers)
            assert response.status_code == 422, response.get_json()
            return response.get_json()["error"]

    return Api()


def test_two_partners_on_one_benefit_get_one_arm_and_count_once_in_their_block(
    app: Any, build: Any, bw_site: Any, upload: Any, api: Any
) -> None:
    first, second, alone = enrol_from_export(build, bw_site, upload, [
        Line(build.next_bsn(), unit="004711", code="01"),
        Line(build.next_bsn(), sex="M", unit="4711", code="01"),  # Excel dropped the zeros
        Line(build.next_bsn(), unit="4712", code="01"),
    ])  # fmt: skip
    assert first.stratum == second.stratum == alone.stratum  # the same block serves them
    assert first.unit_key == second.unit_key != alone.unit_key
    assert re.fullmatch("[0-9a-f]{64}", first.unit_key)  # a keyed pseudonym, not "4711"

    drawn = api.allocate(first)
    partner = api.allocate(second)

    assert partner["arm"] == drawn["arm"]
    assert (partner["method"], partner["unit_allocation"]) == ("unit", drawn["id"])
    assert drawn["unit"] == partner["unit"] == first.id
    state = db.session.query(StratumState).filter_by(stratum=first.stratum).one()
    assert (state.block_position, state.allocated) == (1, 2)  # one slot for the unit

    third = api.allocate(alone)
    assert third["method"] == "permuted_blocks" and third["unit"] == alone.id
    positions = {a.participant_id: a.block_position for a in db.session.query(Allocation).all()}
    assert positions == {first.id: 0, second.id: None, alone.id: 1}
    assert randomisation.verify_trial(bw_site.trial) == []
    # Swapping the partner's arm is caught by the verification.
    row = db.session.query(Allocation).filter_by(participant_id=second.id).one()
    row.arm = "control" if row.arm == "fip" else "fip"
    db.session.commit()
    assert randomisation.verify_trial(bw_site.trial) == [
        f"allocation {row.id}'s arm differs from its audit entry",
        f"allocation {row.id} differs from its benefit unit's allocation",
    ]


def test_eligibility_stays_per_person(
    app: Any, build: Any, bw_site: Any, upload: Any, api: Any
) -> None:
    adult, young = enrol_from_export(build, bw_site, upload, [
        Line(build.next_bsn(), unit="800", code="01"),
        Line(build.next_bsn(), unit="800", code="01", birth=f"01-01-{date.today().year - 17}",
             start=f"01-02-{date.today().year - 1}"),
    ])  # fmt: skip
    assert adult.eligible and not young.eligible
    assert api.allocate(adult)["method"] == "permuted_blocks"
    assert api.refused(young)["code"] == "not_eligible"  # the unit does not carry them in
    assert randomisation.existing_allocation(young.id) is None


def test_minimisation_counts_a_unit_once(app: Any, build: Any, upload: Any) -> None:
    trial = build.trial("tmin", method="minimisation")
    site = build.site(trial, "bw", "brabantse_wal")
    first, second = enrol_from_export(build, site, upload, [
        Line(build.next_bsn(), unit="77", code="01"),
        Line(build.next_bsn(), unit="77", code="01", sex="M"),
    ])  # fmt: skip
    a = randomisation.allocate(first.id, actor="test")
    b = randomisation.allocate(second.id, actor="test")
    assert (b.arm, b.method, b.unit_allocation_id) == (a.arm, "unit", a.id)
    counted = {
        (row.factor, row.arm): row.count for row in db.session.query(MinimisationCount).all()
    }
    factors = {factor for factor, _arm in counted}
    assert factors == {"site", "age_band", "benefit_duration_band"}
    assert all(count == 1 for count in counted.values())  # the unit, once per factor
    assert randomisation.verify_trial(trial) == []


def test_a_cohort_draws_units(app: Any, build: Any, upload: Any) -> None:
    trial = build.trial("tco", consent_design="zelen")
    site = build.site(trial, "bw", "brabantse_wal")
    lines = [Line(build.next_bsn(), unit=str(n), code="01") for n in range(1, 9)]
    lines += [Line(build.next_bsn(), sex="M", unit="1", code="01"),
              Line(build.next_bsn(), sex="M", unit="2", code="01")]  # fmt: skip
    people = enrol_from_export(build, site, upload, lines)

    cohort = allocate_cohort_with_places(site.id, 4)

    assert cohort.caseload == 8  # ten people in eight units
    arms = {a.participant_id: a for a in db.session.query(Allocation).all()}
    assert len(arms) == 10
    for one, other in ((people[0], people[8]), (people[1], people[9])):
        assert arms[one.id].arm == arms[other.id].arm
        assert arms[other.id].unit_allocation_id == arms[one.id].id
        assert arms[other.id].cohort_id == cohort.id
    drawn = [a for a in arms.values() if a.unit_allocation_id is None]
    assert sum(a.arm == "fip" for a in drawn) == 4  # fip counts units
    assert randomisation.verify_trial(trial) == []


def test_a_partner_registered_after_the_cohort_takes_the_units_arm(
    app: Any, build: Any, upload: Any
) -> None:
    trial = build.trial("tla", consent_design="zelen")
    site = build.site(trial, "bw", "brabantse_wal")
    people = enrol_from_export(build, site, upload, [
        Line(build.next_bsn(), unit=str(n), code="01") for n in range(1, 6)
    ])  # fmt: skip
    allocate_cohort_with_places(site.id, 1)
    (late,) = enrol_from_export(build, site, upload, [
        Line(build.next_bsn(), sex="M", unit="3", code="01")
    ])  # fmt: skip
    allocation = randomisation.allocate(late.id, actor="test")
    first = randomisation.existing_allocation(people[2].id)
    assert (allocation.arm, allocation.unit_allocation_id) == (first.arm, first.id)


def test_the_export_carries_the_unit_and_the_baseline_facts(
    app: Any, build: Any, bw_site: Any, upload: Any, api: Any
) -> None:
    first, second = enrol_from_export(build, bw_site, upload, [
        Line(build.next_bsn(), unit="31", code="01", birth="17-05-1980", start="01-01-2020"),
        Line(build.next_bsn(), unit="31", code="01", birth="29-02-1984", start="01-01-2020"),
    ])  # fmt: skip
    api.allocate(first)
    api.allocate(second)
    person = db.session.get(Participant, second.id)
    person.education, person.country_of_birth_region = "mbo_havo_vwo", "europe"
    db.session.commit()

    # The default cut-off is the trial's (Dutch) today, the day the allocations are dated.
    rows = {row["participant"]: row for row in build_export(bw_site.trial).rows}
    assert rows[first.id]["unit"] == rows[second.id]["unit"] == first.id
    allocated = rows[second.id]["allocated_on"]
    assert allocated == local_date(datetime.now(UTC))
    # dateutil as the independent reference for whole years and months.
    assert rows[second.id]["age_at_allocation"] == relativedelta(allocated, date(1984, 2, 29)).years
    since = relativedelta(allocated, date(2020, 1, 1))
    assert rows[second.id]["months_on_benefit_at_allocation"] == since.years * 12 + since.months
    aow = second.pension_age_date
    days = (date(aow.year, aow.month, 1) - allocated).days  # the first day of the AOW month
    assert rows[second.id]["aow_days_from_allocation"] == days > 0
    assert (rows[second.id]["education"], rows[second.id]["country_of_birth_region"]) == (
        "mbo_havo_vwo", "europe",
    )  # fmt: skip
    assert rows[first.id]["education"] is None


def test_a_unit_registered_over_the_api_is_kept_only_as_a_pseudonym(
    app: Any, build: Any, bw_site: Any, client: Any, bearer: Any, api: Any
) -> None:
    headers = bearer(build.token("site_coordinator", site=bw_site))
    raw = "UKEY-938172"
    people = []
    for number, sex in ((raw, "female"), (" ukey-938172 ", "male")):  # as typed: case, spaces
        response = client.post(
            "/api/v1/sites/bw/participants",
            headers=headers,
            json={"bsn": build.next_bsn(), "birth_date": "1980-05-17", "sex": sex,
                  "benefit_start": "2020-01-01", "unit_key": number},
        )  # fmt: skip
        assert response.status_code == 201, response.get_json()
        person = db.session.get(Participant, response.get_json()["id"])
        consent.record(person, status="given", version="v1", on=date.today(), actor="test")
        people.append(person)
    assert people[0].unit_key == people[1].unit_key is not None
    assert api.allocate(people[1])["arm"] == api.allocate(people[0])["arm"]

    from sqlalchemy import text

    with db.engine.connect() as connection:
        tables = [t for t in db.metadata.sorted_tables]
        for table in tables:
            for row in connection.execute(text(f'SELECT * FROM "{table.name}"')):
                assert "938172" not in " ".join(map(str, row)), table.name
