"""What a client manager's pages read of conversations: overdue ones, a participant's history.

Read only: conversations are planned, recorded and corrected through
:mod:`fiptrial.services.conversations` and :mod:`fiptrial.services.planning`.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fiptrial.extensions import db
from fiptrial.models import Agreement, Participant, PlannedConversation
from fiptrial.models.conversations import OPEN_STATUSES
from fiptrial.services import conversations


def overdue_conversations(manager_id: int | None, today: date) -> list[PlannedConversation]:
    """Open conversations of one client manager whose date has passed, oldest first."""
    return (
        db.session.query(PlannedConversation)
        .filter(
            PlannedConversation.client_manager_id == (manager_id or 0),
            PlannedConversation.status.in_(OPEN_STATUSES),
            PlannedConversation.planned_date < today,
        )
        .order_by(PlannedConversation.planned_date, PlannedConversation.id)
        .all()
    )


def plan_of(participant_id: int) -> list[PlannedConversation]:
    """A participant's planned conversations in their order (held, missed and open)."""
    return (
        db.session.query(PlannedConversation)
        .filter_by(participant_id=participant_id)
        .order_by(PlannedConversation.sequence)
        .all()
    )


def planned_conversation(
    participant_id: int, *, sequence: int | None = None, planned_id: int | None = None
) -> PlannedConversation | None:
    """One of the participant's planned conversations, by its sequence or its id (None when
    it is not theirs)."""
    query = db.session.query(PlannedConversation).filter_by(participant_id=participant_id)
    if sequence is not None:
        query = query.filter_by(sequence=sequence)
    if planned_id is not None:
        query = query.filter_by(id=planned_id)
    return query.one_or_none()


def conversation_history(participant: Participant) -> dict[str, Any]:
    """Records (newest first), the plan, open agreements and running interventions."""
    records = list(reversed(conversations.records(participant)))
    plan = plan_of(participant.id)
    open_agreements = (
        db.session.query(Agreement)
        .filter_by(participant_id=participant.id, followup_record_id=None)
        .order_by(Agreement.id)
        .all()
    )
    interventions = conversations.interventions_of(participant.id)
    return {
        "records": records,
        "plan": plan,
        "next_planned": next((p for p in plan if p.status in OPEN_STATUSES), None),
        "open_agreements": open_agreements,
        "interventions": interventions,
        "running_interventions": [i for i in interventions if i.ended_on is None],
    }


def open_conversations_from(participant_id: int, on: date) -> int:
    """How many of a participant's open planned conversations fall on or after ``on``."""
    return (
        db.session.query(PlannedConversation)
        .filter(
            PlannedConversation.participant_id == participant_id,
            PlannedConversation.status.in_(OPEN_STATUSES),
            PlannedConversation.planned_date >= on,
        )
        .count()
    )
