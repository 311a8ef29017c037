"""Fidelity figures against hand-counted records."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from conversation_helpers import conversations_of

from fiptrial.extensions import db
from fiptrial.models import Participant, PlannedConversation
from fiptrial.services import conversations, fidelity

LATER = date(2028, 1, 31)  # the recording "today": every planned date lies before it


def record(pid: int, day: date, status: str = "held") -> None:
    data: dict[str, Any] = {"date": day, "status": status}
    if status == "held":
        data["duration_minutes"] = 45
    else:
        data["missed_reason"] = "no_show"
    conversations.record(db.session.get(Participant, pid), data, actor="km", today=LATER)


def test_fidelity_matches_the_records(fip: Any, client: Any, build: Any, bearer: Any) -> None:
    site = fip.planned_site(6)
    pids = sorted({r.participant_id for r in db.session.query(PlannedConversation)})
    a, b, c = pids[:3]
    for conversation in conversations_of(a):  # all four, on the day
        record(a, conversation.planned_date)
    first, second, _, _ = conversations_of(b)
    record(b, first.planned_date)
    record(b, second.planned_date + timedelta(days=20))  # held, outside the 2-week window
    record(b, conversations_of(b)[2].planned_date, status="missed")
    record(b, conversations_of(b)[3].planned_date + timedelta(days=3))  # re-planned, in window
    record(c, conversations_of(c)[0].planned_date - timedelta(days=14))  # edge of the window
    record(c, conversations_of(c)[1].planned_date)

    figures = fidelity.site_fidelity(site)
    per = figures.per_participant
    assert per[a].to_dict() | {} == {
        "planned": 4,
        "held": 4,
        "held_in_window": 4,
        "missed": 0,
        "open": 0,
        "participants": 1,
        "first_year_met": 1,
        "first_year_share": 1.0,
    }
    assert (per[b].held, per[b].held_in_window, per[b].missed, per[b].first_year_met) == (
        3,
        2,
        1,
        1,
    )
    assert (per[c].held, per[c].held_in_window, per[c].open, per[c].first_year_met) == (2, 2, 2, 0)
    total = figures.total
    assert total.planned == 24 and total.participants == 6
    assert total.held == 9 and total.held_in_window == 8 and total.missed == 1
    assert total.open == 24 - 9 - 1
    assert figures.total.first_year_share == round(2 / 6, 4)
    assert sum(m.held for m in figures.per_client_manager.values()) == 9

    answer = client.get(
        f"/api/v1/sites/{site.code}/fidelity", headers=bearer(build.token("analyst"))
    )
    assert answer.status_code == 200
    body = answer.get_json()
    assert (body["held"], body["held_in_window"], body["missed"]) == (9, 8, 1)
