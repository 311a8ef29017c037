"""The client manager's agenda, participant history and quick conversation form."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from web_support import csrf_token

from lottery_support import allocate_cohort_with_places


@pytest.fixture
def caseload(staff: Any, build: Any) -> list[Any]:
    """Four FIP participants of bw, assigned to the client manager km and planned."""
    from fiptrial.services import caseload as caseloads
    from fiptrial.services import planning

    people = [build.participant(staff.bw) for _ in range(8)]
    allocate_cohort_with_places(staff.bw.id, 4)
    start = date.today() - timedelta(days=30)
    caseloads.assign_by_load(staff.bw, on=start, actor="test")
    planning.plan_site(staff.bw, actor="test", starts_on=start)
    return [p for p in people if caseloads.current_manager_id(p.id) is not None]


def test_agenda_and_overdue_list(caseload: list[Any], web: Any) -> None:
    web.login("km")
    agenda = web.client.get("/klantmanager/agenda")
    assert agenda.status_code == 200 and "Mijn agenda" in agenda.text
    overdue = web.client.get("/klantmanager/achterstand")
    assert overdue.status_code == 200
    assert "Deelnemer" in overdue.text  # a plan that started a month ago has overdue talks


def test_record_a_conversation_and_find_it_in_the_history(caseload: list[Any], web: Any) -> None:
    from fiptrial.extensions import db
    from fiptrial.models import ConversationRecord

    person = caseload[0]
    web.login("km")
    url = f"/klantmanager/deelnemer/{person.id}/gesprek"
    form = web.client.get(url)
    assert form.status_code == 200
    assert date.today().strftime("%d-%m-%Y") in form.text  # today is filled in
    response = web.client.post(
        url,
        data={
            "csrf_token": csrf_token(form.text),
            "held_on": date.today().strftime("%d-%m-%Y"),
            "status": "held",
            "duration_minutes": "50",
            "domain-work_activity": "1",
            "moved-work_activity": "ja",
            "domain-finances": "1",
            "agreement-0-description": "Cv bijwerken",
            "agreement-0-responsible": "client",
            "agreement-0-due": (date.today() + timedelta(days=14)).strftime("%d-%m-%Y"),
            "intervention-0-type": "volunteering",
            "intervention-0-provider": "Buurthuis",
        },
    )
    assert response.status_code == 302, response.text
    record = db.session.query(ConversationRecord).one()
    assert record.recorded_by == "user:km" and record.duration_minutes == 50
    assert {d.domain: d.moved_forward for d in record.domains} == {
        "work_activity": True,
        "finances": None,
    }
    history = web.client.get(f"/klantmanager/deelnemer/{person.id}")
    assert "Cv bijwerken" in history.text
    assert "Werk en activiteit ↑" in history.text and "Financiën" in history.text
    assert "Buurthuis" in history.text and "Vrijwilligerswerk" in history.text


def test_errors_stay_next_to_their_field(caseload: list[Any], web: Any) -> None:
    person = caseload[0]
    web.login("km")
    url = f"/klantmanager/deelnemer/{person.id}/gesprek"
    form = web.client.get(url)
    response = web.client.post(
        url, data={"csrf_token": csrf_token(form.text), "held_on": "31-02-2026", "status": "held"}
    )
    assert response.status_code == 422
    assert 'id="held_on-error"' in response.text
    missed = web.client.post(
        url,
        data={
            "csrf_token": csrf_token(form.text),
            "held_on": date.today().strftime("%d-%m-%Y"),
            "status": "missed",
        },
    )
    assert missed.status_code == 422
    assert 'id="missed_reason-error"' in missed.text


def test_a_client_manager_sees_only_their_own_caseload(
    staff: Any, caseload: list[Any], build: Any, web: Any
) -> None:
    stranger = build.participant(staff.bw)  # not allocated, not in km's caseload
    web.login("km")
    assert web.client.get(f"/klantmanager/deelnemer/{stranger.id}").status_code == 404
    assert web.client.get(f"/klantmanager/deelnemer/{stranger.id}/gesprek").status_code == 404
