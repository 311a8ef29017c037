"""Recording conversations through the API; caseloads and who sees what."""

from __future__ import annotations

from datetime import date
from typing import Any

from conversation_helpers import START, conversations_of

from fiptrial.extensions import db
from fiptrial.models import (
    Agreement,
    CaseloadAssignment,
    Intervention,
    Participant,
    PlannedConversation,
    User,
)
from fiptrial.services import caseload, consent, conversations


def managers() -> list[User]:
    return db.session.query(User).filter_by(role="client_manager").order_by(User.id).all()


def client_of(manager: User) -> int:
    return (
        db.session.query(CaseloadAssignment.participant_id)
        .filter_by(client_manager_id=manager.id, ended_on=None)
        .order_by(CaseloadAssignment.participant_id)
        .first()[0]
    )


def held_body(day: date, **extra: Any) -> dict[str, Any]:
    body = {
        "date": day.isoformat(),
        "status": "held",
        "duration_minutes": 50,
        "domains": [
            {"domain": "finances", "moved_forward": True},
            {"domain": "health", "moved_forward": False},
        ],
        "agreements": [
            {"description": "Call the debt helper", "responsible": "client", "due_on": "2026-12-15"}
        ],
        "interventions_started": [
            {"type": "financial", "provider": "Schuldhulp BoZ", "start": day.isoformat()}
        ],
        "notes": "Client worried about rent.",
    }
    body.update(extra)
    return body


def test_client_manager_records_and_follows_up(
    fip: Any, build: Any, client: Any, bearer: Any
) -> None:
    site = fip.planned_site(10)
    km = managers()[0]
    token = build.token("client_manager", site=site, user=km)
    pid = client_of(km)
    first, second = conversations_of(pid)[:2]
    answer = client.post(
        f"/api/v1/participants/{pid}/conversations",
        json=held_body(first.planned_date),
        headers=bearer(token),
    )
    assert answer.status_code == 201, answer.get_json()
    record = answer.get_json()
    assert record["client_manager_id"] == km.id
    assert {d["domain"] for d in record["domains"]} == {"finances", "health"}
    agreement = db.session.query(Agreement).filter_by(participant_id=pid).one()
    intervention = db.session.query(Intervention).filter_by(participant_id=pid).one()
    assert db.session.get(PlannedConversation, first.id).status == "held"
    # The follow-up lies in the real clock's future: recorded through the service with a
    # later "today"; the API refuses a date after today (tested below).
    too_early = client.post(
        f"/api/v1/participants/{pid}/conversations",
        json={"date": "2099-01-05", "duration_minutes": 45},
        headers=bearer(token),
    )
    assert too_early.status_code == 422 and "date" in too_early.get_json()["error"]["fields"]
    conversations.record(
        db.session.get(Participant, pid),
        {
            "date": second.planned_date,
            "duration_minutes": 45,
            "agreement_followups": [{"agreement_id": agreement.id, "kept": True}],
            "interventions_ended": [
                {"intervention_id": intervention.id, "end": second.planned_date}
            ],
        },
        actor="km",
        manager_id=km.id,
        today=date(2028, 1, 31),
    )
    db.session.expire_all()
    assert db.session.get(Agreement, agreement.id).kept is True
    assert db.session.get(Intervention, intervention.id).ended_on == second.planned_date
    listed = client.get(f"/api/v1/participants/{pid}/conversations", headers=bearer(token))
    assert [r["status"] for r in listed.get_json()] == ["held", "held"]


def test_only_fip_and_not_withdrawn(fip: Any, build: Any, client: Any, bearer: Any) -> None:
    site = fip.planned_site(4)
    control = fip.bulk_fip(site, 1, arm="control")[0]
    admin = build.token("research_admin")

    def refusal(participant_id: int) -> tuple[int, str]:
        """The status and error code of a conversation the research admin records."""
        answer = client.post(
            f"/api/v1/participants/{participant_id}/conversations",
            json={"date": START.isoformat(), "duration_minutes": 30},
            headers=bearer(admin),
        )
        return answer.status_code, answer.get_json()["error"]["code"]

    assert refusal(control) == (409, "not_fip")
    pid = client_of(managers()[0])
    participant = db.session.get(Participant, pid)
    consent.record(participant, status="given", version="v1", on=date(2026, 10, 1), actor="t")
    consent.record(participant, status="withdrawn", version="v1", on=date(2026, 10, 20), actor="t")
    assert refusal(pid) == (409, "participant_withdrawn")


def test_invalid_domain_and_type_name_the_field(
    fip: Any, build: Any, client: Any, bearer: Any
) -> None:
    site = fip.planned_site(4)
    pid = client_of(managers()[0])
    token = build.token("site_coordinator", site=site)
    day = START.isoformat()
    bad_domain = held_body(START, domains=[{"domain": "hobbies"}])
    answer = client.post(
        f"/api/v1/participants/{pid}/conversations", json=bad_domain, headers=bearer(token)
    )
    assert answer.status_code == 422
    assert "domains" in answer.get_json()["error"]["fields"]
    bad_type = held_body(START, interventions_started=[{"type": "yoga", "start": day}])
    answer = client.post(
        f"/api/v1/participants/{pid}/conversations", json=bad_type, headers=bearer(token)
    )
    assert "interventions_started" in answer.get_json()["error"]["fields"]
    missed = {"date": day, "status": "missed"}
    answer = client.post(
        f"/api/v1/participants/{pid}/conversations", json=missed, headers=bearer(token)
    )
    assert "missed_reason" in answer.get_json()["error"]["fields"]


def test_client_manager_sees_only_own_caseload_and_agenda(
    fip: Any, build: Any, client: Any, bearer: Any
) -> None:
    site = fip.planned_site(6)
    mine, theirs = managers()
    token = build.token("client_manager", site=site, user=mine)
    other_client = client_of(theirs)
    assert (
        client.get(
            f"/api/v1/participants/{other_client}/conversations", headers=bearer(token)
        ).status_code
        == 404
    )
    assert (
        client.get(
            f"/api/v1/participants/{client_of(mine)}/conversations", headers=bearer(token)
        ).status_code
        == 200
    )
    window = "from=2026-11-02&to=2027-11-01"
    own = client.get(f"/api/v1/client-managers/{mine.id}/agenda?{window}", headers=bearer(token))
    assert own.status_code == 200
    assert len(own.get_json()) == 3 * 4
    assert {row["client_manager_id"] for row in own.get_json()} == {mine.id}
    assert (
        client.get(
            f"/api/v1/client-managers/{theirs.id}/agenda?{window}", headers=bearer(token)
        ).status_code
        == 404
    )
    coordinator = build.token("site_coordinator", site=site)
    assert (
        client.get(
            f"/api/v1/client-managers/{theirs.id}/agenda?{window}", headers=bearer(coordinator)
        ).status_code
        == 200
    )


def test_analyst_never_sees_free_text(fip: Any, build: Any, client: Any, bearer: Any) -> None:
    fip.planned_site(4)
    pid = client_of(managers()[0])
    admin = build.token("research_admin")
    first = conversations_of(pid)[0]
    assert (
        client.post(
            f"/api/v1/participants/{pid}/conversations",
            json=held_body(first.planned_date),
            headers=bearer(admin),
        ).status_code
        == 201
    )
    seen = client.get(
        f"/api/v1/participants/{pid}/conversations", headers=bearer(build.token("analyst"))
    ).get_json()
    assert "notes" not in seen[0] and "description" not in seen[0]["agreements"][0]
    full = client.get(f"/api/v1/participants/{pid}/conversations", headers=bearer(admin))
    assert full.get_json()[0]["notes"] == "Client worried about rent."


def test_free_text_columns_are_marked_site_only() -> None:
    """The marks on the columns are the rule; this literal table is what a reviewer checks."""
    from fiptrial.extensions import db
    from fiptrial.models.conversations import free_text_columns

    site_only: dict[str, list[str]] = {}
    for table in db.metadata.sorted_tables:
        for column in table.columns:
            if column.info.get("site_only"):
                site_only.setdefault(table.name, []).append(column.name)
    assert site_only == {
        "participant": ["client_number"],
        "caseload_assignment": ["reason_text"],
        "conversation_record": ["notes"],
        "agreement": ["description"],
        "intervention": ["provider"],
        "conversation_correction": ["reason_text", "before"],
    }
    assert sorted(f"{c.table.name}.{c.name}" for c in free_text_columns()) == [
        "agreement.description",
        "caseload_assignment.reason_text",
        "conversation_correction.reason_text",
        "conversation_record.notes",
        "intervention.provider",
    ]


def test_reassignment_keeps_history_and_moves_the_agenda(
    fip: Any, build: Any, client: Any, bearer: Any
) -> None:
    site = fip.planned_site(6)
    old, new = managers()
    pid = client_of(old)
    caseload.reassign(
        pid,
        new.id,
        reason="leave",
        on=date(2027, 1, 4),
        actor="coordinator",
        reason_text="long leave",
    )
    rows = caseload.history(pid)
    assert [(r.client_manager_id, r.ended_on) for r in rows] == [
        (old.id, date(2027, 1, 4)),
        (new.id, None),
    ]
    assert rows[1].reason == "leave"
    after = conversations_of(pid)
    assert all(c.client_manager_id == new.id for c in after if c.planned_date >= date(2027, 1, 4))
    assert all(c.client_manager_id == old.id for c in after if c.planned_date < date(2027, 1, 4))
    token = build.token("client_manager", site=site, user=old)
    assert (
        client.get(f"/api/v1/participants/{pid}/conversations", headers=bearer(token)).status_code
        == 404
    )


def test_assignment_by_load_fills_free_places_evenly(fip: Any) -> None:
    site = fip.site(managers=3, capacity=10)
    fip.bulk_fip(site, 25)
    assigned = caseload.assign_by_load(site, on=START, actor="test")
    per_manager = sorted(list(assigned.values()).count(m.id) for m in managers())
    assert per_manager == [8, 8, 9]
    assert caseload.site_capacity(site.id) == 30
    fip.bulk_fip(site, 10)
    more = caseload.assign_by_load(site, on=START, actor="test")
    assert len(more) == 5, "only the free places are filled"


def test_moving_through_the_api(fip: Any, build: Any, client: Any, bearer: Any) -> None:
    from datetime import timedelta

    from fiptrial.services.planning import is_working_day

    site = fip.planned_site(4)
    pid = client_of(managers()[0])
    token = build.token("site_coordinator", site=site)
    second = conversations_of(pid)[1]
    new_date = second.planned_date + timedelta(days=7)
    while not is_working_day(new_date):
        new_date += timedelta(days=1)
    answer = client.post(
        f"/api/v1/participants/{pid}/plan/moves",
        json={"sequence": 2, "date": new_date.isoformat()},
        headers=bearer(token),
    )
    assert answer.status_code == 200, answer.get_json()
    plan = answer.get_json()
    assert plan[1]["date"] == new_date.isoformat()
    assert plan[1]["date"] < plan[2]["date"] < plan[3]["date"]
    answer = client.post(
        f"/api/v1/participants/{pid}/plan/moves",
        json={"sequence": 9, "date": new_date.isoformat()},
        headers=bearer(token),
    )
    assert answer.status_code == 422 and "sequence" in answer.get_json()["error"]["fields"]
