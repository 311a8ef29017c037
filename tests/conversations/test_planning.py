"""Conversation planning: the issue's "Done when" for a site with two managers and 360 clients."""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from datetime import date, timedelta
from typing import Any

import pytest
from conversation_helpers import START, conversations_of

from fiptrial.extensions import db
from fiptrial.models import CaseloadAssignment, PlannedConversation
from fiptrial.services import planning

CLOSED = {
    date(2026, 12, 25),
    date(2026, 12, 26),
    date(2027, 1, 1),
    date(2027, 4, 27),
    date(2027, 5, 5),
    date(2027, 5, 6),
    date(2027, 5, 17),
    date(2027, 3, 29),
}
SITE_CLOSING_DAY = "2027-02-15"  # a Monday, the site's own closing day


def all_planned() -> list[PlannedConversation]:
    return db.session.query(PlannedConversation).all()


def test_plan_for_two_managers_and_360_clients(fip: Any) -> None:
    fip.planned_site(360, closing_days=[SITE_CLOSING_DAY])
    rows = all_planned()
    by_participant: dict[int, list[PlannedConversation]] = defaultdict(list)
    for row in rows:
        by_participant[row.participant_id].append(row)
    assert len(by_participant) == 360
    end = date(2027, 11, 2)
    for conversations in by_participant.values():
        conversations.sort(key=lambda c: c.sequence)
        assert [c.sequence for c in conversations] == [1, 2, 3, 4]
        assert [c.minutes for c in conversations] == [60, 45, 45, 45]
        days = [c.planned_date for c in conversations]
        assert days[0] >= START and days[-1] < end, "all four within the intervention year"
        gaps = [(b - a).days for a, b in itertools.pairwise(days)]
        assert all(70 <= gap <= 112 for gap in gaps), f"about a quarter apart: {gaps}"
    for row in rows:
        assert row.planned_date.weekday() < 5
        assert row.planned_date not in CLOSED
        assert row.planned_date != date.fromisoformat(SITE_CLOSING_DAY)
    per_day = Counter((r.client_manager_id, r.planned_date) for r in rows)
    assert max(per_day.values()) <= 3
    minutes: Counter[tuple[int, date]] = Counter()
    for r in rows:
        minutes[(r.client_manager_id, r.planned_date)] += r.minutes
    assert max(minutes.values()) <= 180
    # each manager carries 180 clients, and the load is even over the year
    load = Counter(a.client_manager_id for a in db.session.query(CaseloadAssignment))
    assert sorted(load.values()) == [180, 180]
    for manager_id in load:
        per_quarter = Counter(
            (r.planned_date - START).days // 92 for r in rows if r.client_manager_id == manager_id
        )
        assert all(170 <= n <= 190 for n in per_quarter.values() if n), per_quarter


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2027, 4, 27), False),  # Koningsdag
        (date(2027, 5, 5), False),  # Bevrijdingsdag: closed every year since 2024
        (date(2026, 5, 5), False),
        (date(2026, 12, 25), False),
        (date(2026, 12, 28), True),
        (date(2027, 4, 2), True),  # Good Friday is not an office closing day
        (date(2027, 5, 6), False),  # Hemelvaartsdag
        (date(2026, 11, 7), False),  # Saturday
        (date(2026, 11, 9), True),
    ],
)
def test_working_days(day: date, working: bool) -> None:
    assert planning.is_working_day(day) is working


def test_site_closing_days_are_not_working_days() -> None:
    assert planning.is_working_day(date(2026, 11, 9), ["2026-11-09"]) is False


def test_plan_is_made_once(fip: Any) -> None:
    site = fip.planned_site(20)
    again = planning.plan_site(site, actor="test", starts_on=START)
    assert again == {"participants": 0, "conversations": 0}
    assert len(all_planned()) == 80


def test_existing_load_is_respected_when_planning_later_clients(fip: Any) -> None:
    """A second batch fills around the first: still never more than 3 a day per manager."""
    from fiptrial.services import caseload

    site = fip.planned_site(200)
    fip.bulk_fip(site, 160)
    caseload.assign_by_load(site, on=START, actor="test")
    planning.plan_site(site, actor="test", starts_on=START)
    rows = all_planned()
    assert len(rows) == 360 * 4
    assert max(Counter((r.client_manager_id, r.planned_date) for r in rows).values()) <= 3


def test_conversations_per_year_and_years_are_configurable(fip: Any) -> None:
    fip.planned_site(30, conversations_per_year=6, intervention_years=2)
    for pid in {r.participant_id for r in all_planned()}:
        days = [c.planned_date for c in conversations_of(pid)]
        assert len(days) == 12
        assert days[-1] < date(2028, 11, 2)
        assert all(40 <= (b - a).days <= 80 for a, b in itertools.pairwise(days))


def test_core_plans_linearly_without_database() -> None:
    """The in-memory core alone: 4,000 clients of 25 managers, all constraints hold."""
    rules = planning.PlanRules()
    calendar = planning.WorkingCalendar(START, date(2028, 3, 1))
    clients = [planning.ClientToPlan(i, i % 25, START) for i in range(4000)]
    slots = planning.plan_clients(clients, rules, calendar, {})
    assert len(slots) == 16000
    assert max(Counter((s.manager_id, s.day) for s in slots).values()) <= 3
    assert all(planning.is_working_day(s.day) for s in slots)


def test_missed_conversation_replans_what_follows_and_keeps_held(fip: Any) -> None:
    from fiptrial.services import conversations

    fip.planned_site(360)
    pid = all_planned()[0].participant_id
    from fiptrial.models import Participant

    participant = db.session.get(Participant, pid)
    first, second, _third, _fourth = conversations_of(pid)
    conversations.record(
        participant,
        {"date": first.planned_date, "status": "held", "duration_minutes": 55},
        actor="km",
        today=date(2027, 12, 31),
    )
    before = {c.sequence: c.planned_date for c in conversations_of(pid)}
    missed_on = second.planned_date
    conversations.record(
        participant,
        {"date": missed_on, "status": "missed", "missed_reason": "no_show"},
        actor="km",
        today=date(2027, 12, 31),
    )
    after = conversations_of(pid)
    assert after[0].status == "held" and after[0].planned_date == before[1]
    assert after[1].status == "missed" and after[1].planned_date == before[2]
    assert after[2].planned_date != before[3], "the next conversation is re-planned"
    assert missed_on < after[2].planned_date <= missed_on + timedelta(days=28), "caught up soon"
    assert after[2].planned_date < after[3].planned_date < date(2027, 11, 2)
    assert all(planning.is_working_day(c.planned_date) for c in after)
    per_day = Counter((r.client_manager_id, r.planned_date) for r in all_planned())
    assert max(per_day.values()) <= 3


def test_moving_a_conversation_replans_only_what_follows(fip: Any) -> None:
    from fiptrial.errors import Conflict
    from fiptrial.services import conversations

    fip.planned_site(40)
    pid = all_planned()[0].participant_id
    from fiptrial.models import Participant

    first, second, _, _ = conversations_of(pid)
    conversations.record(
        db.session.get(Participant, pid),
        {"date": first.planned_date, "duration_minutes": 60},
        actor="km",
        today=date(2027, 12, 31),
    )
    held_date = first.planned_date
    new_date = second.planned_date + timedelta(days=21)
    while not planning.is_working_day(new_date):
        new_date += timedelta(days=1)
    planning.move_conversation(second.id, new_date, actor="km")
    after = conversations_of(pid)
    assert after[0].planned_date == held_date and after[0].status == "held"
    assert after[1].planned_date == new_date
    assert new_date < after[2].planned_date < after[3].planned_date < date(2027, 11, 2)
    with pytest.raises(Conflict):
        planning.move_conversation(after[0].id, new_date + timedelta(days=1), actor="km")


def test_moving_to_a_closed_day_names_the_field(fip: Any) -> None:
    from fiptrial.errors import PlatformError

    fip.planned_site(4)
    conversation = conversations_of(all_planned()[0].participant_id)[1]
    with pytest.raises(PlatformError) as raised:
        planning.move_conversation(conversation.id, date(2027, 4, 27), actor="km")
    assert "date" in raised.value.fields


def test_nightly_marks_overdue_then_missed_and_is_idempotent(fip: Any) -> None:
    fip.planned_site(30)
    today = START + timedelta(days=40)
    with db.session.begin_nested():
        first = planning.mark_overdue(today)
    db.session.commit()
    statuses = Counter(r.status for r in all_planned())
    past = [r for r in all_planned() if r.sequence == 1]
    assert first["overdue"] > 0 and first["missed"] > 0
    assert statuses["missed"] == first["missed"]
    assert all(r.status in ("overdue", "missed") for r in past if r.first_planned_date < today)
    snapshot = sorted((r.id, r.status, r.planned_date) for r in all_planned())
    planning.mark_overdue(today)
    db.session.commit()
    assert sorted((r.id, r.status, r.planned_date) for r in all_planned()) == snapshot


def test_reconfiguring_the_trial_replans_open_conversations(fip: Any) -> None:
    site = fip.planned_site(20)
    pid = all_planned()[0].participant_id
    from fiptrial.models import Participant
    from fiptrial.services import conversations

    first = conversations_of(pid)[0]
    conversations.record(
        db.session.get(Participant, pid),
        {"date": first.planned_date, "duration_minutes": 60},
        actor="km",
        today=date(2027, 12, 31),
    )
    today = first.planned_date + timedelta(days=1)
    counts = planning.reconfigure_trial(
        site.trial, {"conversations_per_year": 6}, actor="admin", today=today
    )
    assert counts["participants"] == 20
    after = conversations_of(pid)
    assert [c.sequence for c in after] == [1, 2, 3, 4, 5, 6]
    assert after[0].status == "held" and after[0].planned_date == first.planned_date
    assert all(c.planned_date >= today for c in after[1:])
    assert after[-1].planned_date < date(2027, 11, 2)
    assert max(Counter((r.client_manager_id, r.planned_date) for r in all_planned()).values()) <= 3


def test_reconfiguring_with_a_bad_value_names_the_field(fip: Any) -> None:
    from fiptrial.errors import PlatformError

    site = fip.site()
    with pytest.raises(PlatformError) as raised:
        planning.reconfigure_trial(site.trial, {"conversations_per_day": 0}, actor="admin")
    assert "conversations_per_day" in raised.value.fields
