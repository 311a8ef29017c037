"""The client manager's agenda, participant history and quick conversation form."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from web_support import dmy, record_conversation


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
    form = web.client.get(f"/klantmanager/deelnemer/{person.id}/gesprek")
    assert form.status_code == 200
    assert dmy(date.today()) in form.text  # today is filled in
    response = record_conversation(
        web,
        person.id,
        **{
            "duration_minutes": "50",
            "domain-work_activity": "1",
            "moved-work_activity": "ja",
            "domain-finances": "1",
            "agreement-0-description": "Cv bijwerken",
            "agreement-0-responsible": "client",
            "agreement-0-due": dmy(date.today() + timedelta(days=14)),
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
    response = record_conversation(web, person.id, held_on="31-02-2026", duration_minutes="")
    assert response.status_code == 422
    assert 'id="held_on-error"' in response.text
    missed = record_conversation(web, person.id, status="missed", duration_minutes="")
    assert missed.status_code == 422
    assert 'id="missed_reason-error"' in missed.text


def test_a_client_manager_sees_only_their_own_caseload(
    staff: Any, caseload: list[Any], build: Any, web: Any
) -> None:
    stranger = build.participant(staff.bw)  # not allocated, not in km's caseload
    web.login("km")
    assert web.client.get(f"/klantmanager/deelnemer/{stranger.id}").status_code == 404
    assert web.client.get(f"/klantmanager/deelnemer/{stranger.id}/gesprek").status_code == 404
