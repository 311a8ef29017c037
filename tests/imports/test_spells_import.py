"""Benefit spells through the real import path (issue 10): Brabantse Wal exports uploaded over
the API, spells read back over the API and in the analysis export.

Every expected spell is written next to the export lines that produce it; none is taken from
the platform's own output.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from import_helpers import Line, export_bytes

from fiptrial.extensions import db
from fiptrial.models import Allocation, OutcomeEvent
from fiptrial.services.exports import build_export

ENROLLED = date(2020, 1, 1)  # the builder's benefit start: spell 1 of everyone
ALLOCATED = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # the day of registration


@pytest.fixture
def spells(client: Any, build: Any, bearer: Any) -> Any:
    """``spells(participant)``: the participant's spells as the API gives them."""
    headers = bearer(build.token("research_admin"))

    def get(person: Any) -> list[dict[str, Any]]:
        response = client.get(f"/api/v1/participants/{person.id}/spells", headers=headers)
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    return get


@pytest.fixture
def outcomes(upload: Any) -> Any:
    """``outcomes(*lines)`` uploads one outcome export and returns its report."""

    def post(*lines: Line) -> dict[str, Any]:
        response = upload("outcome", "bw", export_bytes(list(lines)))
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    return post


def brief(spell: dict[str, Any]) -> tuple[Any, ...]:
    return (spell["start"], spell["end"], spell["end_code"], spell["municipality"],
            spell["transfers"])  # fmt: skip


def counts(report: dict[str, Any]) -> dict[str, int]:
    keys = ("exits", "transfers_within_site", "transfers_linked", "reentries", "corrections",
            "other_benefits")  # fmt: skip
    return {key: report[key] for key in keys if report[key]}


def backdate_allocations() -> None:
    """The allocations were made on the day of registration (the export's follow-up starts
    there, so that November's events fall inside it)."""
    for allocation in db.session.query(Allocation):
        allocation.allocated_at = ALLOCATED
    db.session.commit()


def export_spells(trial: Any) -> dict[int, list[tuple[Any, ...]]]:
    by_participant: dict[int, list[tuple[Any, ...]]] = {}
    for row in build_export(trial, date(2026, 11, 30)).spells:
        by_participant.setdefault(row[0], []).append(row[1:])
    return by_participant


def test_a_move_inside_the_site_without_new_municipality_is_one_spell(
    app: Any, enrol: Any, bw_site: Any, outcomes: Any, spells: Any
) -> None:
    person, bsn = enrol()

    # November: the ISD ends the benefit in Bergen op Zoom with VHG and no new municipality.
    first = outcomes(Line(bsn, end="06-11-2026", reason="VHG"))
    assert counts(first) == {"exits": 1} and first["exits_by_code"] == {"32": 1}
    assert [brief(s) for s in spells(person)] == [("2020-01-01", "2026-11-06", "32", "GM0748", 0)]

    # December: the same end again, and the new benefit in Woensdrecht three days later.
    second = outcomes(
        Line(bsn, end="06-11-2026", reason="VHG"),
        Line(bsn, municipality="0873", start="09-11-2026"),
    )
    assert counts(second) == {"transfers_linked": 1}
    (spell,) = spells(person)
    assert brief(spell) == ("2020-01-01", None, None, "GM0873", 1)
    # The exit is kept; the correction that made it a move names it.
    (correction,) = spell["corrections"]
    assert correction["to_move"] and correction["previous_end"] == "2026-11-06"
    assert correction["previous_code"] == "32"
    kinds = [e.kind for e in db.session.query(OutcomeEvent).order_by(OutcomeEvent.id)]
    assert kinds == ["exit", "correction"]

    # January: the benefit in Woensdrecht ends for work; still one spell, now ended.
    third = outcomes(Line(bsn, municipality="0873", start="09-11-2026", end="20-11-2026",
                          reason="ARB"))  # fmt: skip
    assert counts(third) == {"exits": 1}
    assert [brief(s) for s in spells(person)] == [("2020-01-01", "2026-11-20", "11", "GM0873", 1)]

    backdate_allocations()
    export = build_export(bw_site.trial, date(2026, 11, 30))
    (row,) = export.rows
    assert (row["exit_date"], row["exit_code"]) == (date(2026, 11, 20), "11")
    assert export.spells == [(person.id, 1, ENROLLED, date(2026, 11, 20), "11", "GM0873", 1)]


def test_the_new_benefit_may_come_first_in_the_same_file(
    app: Any, enrol: Any, bw_site: Any, outcomes: Any, spells: Any
) -> None:
    person, bsn = enrol()
    report = outcomes(
        Line(bsn, municipality="GM0851", start="10-11-2026"),  # Steenbergen, listed first
        Line(bsn, end="07-11-2026", reason="VHG"),
    )
    assert counts(report) == {"exits": 1, "transfers_linked": 1}
    assert [brief(s) for s in spells(person)] == [("2020-01-01", None, None, "GM0851", 1)]


def test_what_is_not_a_move_inside_the_site(
    app: Any, enrol: Any, bw_site: Any, outcomes: Any, spells: Any
) -> None:
    late, late_bsn = enrol()  # the new benefit starts 44 days later: over the 31-day gap
    same, same_bsn = enrol()  # a new benefit in the same municipality is a re-entry
    work, work_bsn = enrol()  # only code 32 can be a move
    report = outcomes(
        Line(late_bsn, end="01-09-2026", reason="VHG"),
        Line(late_bsn, municipality="0873", start="15-10-2026"),
        Line(same_bsn, end="06-11-2026", reason="VHG"),
        Line(same_bsn, start="09-11-2026"),
        Line(work_bsn, end="06-11-2026", reason="ARB"),
        Line(work_bsn, municipality="0851", start="09-11-2026"),
    )
    assert counts(report) == {"exits": 3, "reentries": 3}
    assert [brief(s) for s in spells(late)] == [
        ("2020-01-01", "2026-09-01", "32", "GM0748", 0),
        ("2026-10-15", None, None, "GM0873", 0),
    ]
    assert len(spells(same)) == len(spells(work)) == 2


def test_the_move_gap_is_a_setting_of_the_trial(
    app: Any, build: Any, client: Any, bearer: Any, upload: Any, spells: Any
) -> None:
    from fiptrial.services import randomisation

    response = client.post(
        "/api/v1/trials",
        headers=bearer(build.token("research_admin")),
        json={"code": "t60", "name": "Sixty days", "move_gap_days": 60},
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["move_gap_days"] == 60
    assert response.get_json()["benefit_statistic_codes"] == ["01"]  # the documented default
    from fiptrial.services import consent
    from fiptrial.services.trials import get_trial

    trial = get_trial("t60")
    consent.register_form(trial, version="v1", valid_from=date(2020, 1, 1),
                          requires_reconsent=False, actor="test")  # fmt: skip
    site = build.site(trial, "bw", "brabantse_wal")
    bsn = build.next_bsn()
    person = build.participant(site, bsn=bsn)
    randomisation.allocate(person.id, actor="test")
    report = upload("outcome", "bw", export_bytes([
        Line(bsn, end="01-09-2026", reason="VHG"),
        Line(bsn, municipality="0873", start="15-10-2026"),  # 44 days: within 60
    ])).get_json()  # fmt: skip
    assert report["transfers_linked"] == 1 and report["reentries"] == 0
    assert [brief(s) for s in spells(person)] == [("2020-01-01", None, None, "GM0873", 1)]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"move_gap_days": -1}, "move_gap_days"),
        ({"move_gap_days": 400}, "move_gap_days"),
        ({"benefit_statistic_codes": ["12"]}, "benefit_statistic_codes"),  # special assistance
        ({"benefit_statistic_codes": ["14"]}, "benefit_statistic_codes"),  # Bbz
        ({"benefit_statistic_codes": []}, "benefit_statistic_codes"),
    ],
)
def test_impossible_spell_settings_are_refused_naming_the_field(
    app: Any, build: Any, client: Any, bearer: Any, body: dict[str, Any], field: str
) -> None:
    response = client.post(
        "/api/v1/trials",
        headers=bearer(build.token("research_admin")),
        json={"code": "bad", "name": "Bad", **body},
    )
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert list(error["fields"]) == [field]
    if body.get("benefit_statistic_codes"):
        assert "special assistance" in error["message"]


def test_a_re_entry_after_60_days_opens_a_second_spell(
    app: Any, enrol: Any, bw_site: Any, outcomes: Any, spells: Any
) -> None:
    person, bsn = enrol()
    assert counts(outcomes(Line(bsn, end="01-09-2026", reason="ARB"))) == {"exits": 1}
    report = outcomes(
        Line(bsn, end="01-09-2026", reason="ARB"),  # repeated from last month: nothing new
        Line(bsn, start="31-10-2026"),  # back on benefit 60 days later
    )
    assert counts(report) == {"reentries": 1}
    assert [brief(s) for s in spells(person)] == [
        ("2020-01-01", "2026-09-01", "11", "GM0748", 0),
        ("2026-10-31", None, None, "GM0748", 0),
    ]
    backdate_allocations()
    # The first spell ended before the allocation on 2 November: the spells file starts with
    # the benefit the participant was on when allocated.
    assert export_spells(bw_site.trial) == {
        person.id: [(1, date(2026, 10, 31), None, None, "GM0748", 0)]
    }


def test_a_corrected_end_date_is_applied_in_file_order_and_shown_on_its_spell(
    app: Any, enrol: Any, bw_site: Any, outcomes: Any, spells: Any
) -> None:
    person, bsn = enrol()
    outcomes(Line(bsn, end="20-11-2026", reason="ARB"))
    report = outcomes(Line(bsn, end="15-11-2026", reason="ARB"))  # the ISD corrects the date
    assert counts(report) == {"corrections": 1}
    (spell,) = spells(person)
    assert brief(spell) == ("2020-01-01", "2026-11-15", "11", "GM0748", 0)
    assert [(c["previous_end"], c["end"], c["code"]) for c in spell["corrections"]] == [
        ("2026-11-20", "2026-11-15", "11")
    ]
    # Two rows of the same benefit in one file: the later line wins.
    report = outcomes(
        Line(bsn, end="16-11-2026", reason="INK"),
        Line(bsn, end="17-11-2026", reason="INK"),
    )
    assert counts(report) == {"corrections": 2}
    (spell,) = spells(person)
    assert (spell["end"], spell["end_code"]) == ("2026-11-17", "19")
    assert [(c["previous_end"], c["end"]) for c in spell["corrections"]] == [
        ("2026-11-20", "2026-11-15"), ("2026-11-15", "2026-11-16"), ("2026-11-16", "2026-11-17"),
    ]  # fmt: skip
    stored = db.session.query(OutcomeEvent).filter_by(participant_id=person.id).count()
    assert stored == 4  # the exit and three corrections: nothing overwritten


def test_a_special_assistance_record_is_neither_a_spell_nor_enrolled(
    app: Any, build: Any, enrol: Any, bw_site: Any, outcomes: Any, upload: Any, spells: Any
) -> None:
    person, bsn = enrol()
    report = outcomes(
        Line(bsn, unit="5001", code="01"),
        Line(bsn, start="03-11-2026", end="10-11-2026", reason="OVR", unit="9001", code="12"),
    )
    assert counts(report) == {"other_benefits": 1}
    assert report["matched"] == 1 and report["rows"] == 2
    assert [brief(s) for s in spells(person)] == [("2020-01-01", None, None, None, 0)]
    assert db.session.query(OutcomeEvent).count() == 0

    only_special = build.next_bsn()
    enrolment = upload("participant", "bw", export_bytes([
        Line(only_special, start="01-03-2026", unit="9002", code="12"),
        Line(build.next_bsn(), unit="5002", code="01"),
    ])).get_json()  # fmt: skip
    assert enrolment["other_benefits"] == 1 and enrolment["registered"] == 1
    from participant_lookup import find_by_bsn

    assert find_by_bsn(bw_site, only_special) is None


def test_the_spell_settings_can_change_until_the_first_allocation(
    app: Any, build: Any, bw_site: Any, enrol: Any
) -> None:
    from fiptrial.errors import Unprocessable
    from fiptrial.services import trials

    trial = bw_site.trial
    trials.update_settings(
        trial, {"move_gap_days": 45, "benefit_statistic_codes": ["01", "02"]}, actor="test"
    )
    assert (trial.move_gap_days, trial.benefit_statistic_codes) == (45, ["01", "02"])
    with pytest.raises(Unprocessable) as refused:
        trials.update_settings(trial, {"benefit_statistic_codes": ["01", "14"]}, actor="test")
    assert refused.value.code == "benefit_code_not_studied"
    enrol()  # the first allocation fixes them
    with pytest.raises(Unprocessable) as locked:
        trials.update_settings(trial, {"move_gap_days": 10}, actor="test")
    assert locked.value.code == "settings_locked"
