"""Recording a conversation right after it, in one call and one transaction.

The conversation, the life domains discussed and whether the client moved forward on each, new
agreements, the follow-up (kept or not) of earlier agreements, and the interventions started or
ended. The record closes the planned conversation it belongs to; a missed one re-plans the
conversations after it. Also: the reads of a participant's records and interventions, and an
intervention ended outside a conversation.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from fiptrial.errors import Conflict, field_error
from fiptrial.extensions import db
from fiptrial.models import (
    Agreement,
    ConversationDomain,
    ConversationPlan,
    ConversationRecord,
    Intervention,
    Participant,
    PlannedConversation,
)
from fiptrial.models.conversations import HELD, MISSED, OPEN_STATUSES
from fiptrial.services import audit, caseload, planning
from fiptrial.services.conversations.validation import (
    check_may_have_conversations,
    check_one_per_day,
    validate_record,
)
from fiptrial.services.transaction import locked, locked_again, locked_row, unit_of_work
from fiptrial.timezone import local_today

EARLY_DAYS_DEFAULT = 45  # without a plan: how early a conversation may be held and count


def _planned_for(
    participant_id: int, planned_id: int | None, held_on: date
) -> PlannedConversation | None:
    query = db.session.query(PlannedConversation).filter_by(participant_id=participant_id)
    if planned_id is not None:
        planned = locked(query.filter_by(id=planned_id)).one_or_none()
        if planned is None:
            raise field_error(
                "planned_conversation_id",
                "is not a conversation of this participant",
                code="planned_conversation_unknown",
            )
        if planned.record_id is not None:
            raise Conflict(
                "this planned conversation has already been recorded", code="already_recorded"
            )
        return planned
    # The earliest conversation still open (an automatically missed one may be recorded late),
    # but only when it is due: a conversation recorded long before the next planned one is an
    # extra conversation and leaves the plan as it is.
    planned = (
        locked(query.filter(PlannedConversation.status.in_(OPEN_STATUSES)))
        .order_by(PlannedConversation.sequence)
        .first()
    )
    if planned is not None and planned.planned_date > held_on + _early_limit(participant_id):
        return None
    return planned


def _early_limit(participant_id: int) -> timedelta:
    """How long before its date a planned conversation may be held and still count for it:
    half the spacing of the participant's plan (about six weeks at four a year)."""
    plan = db.session.query(ConversationPlan).filter_by(participant_id=participant_id).first()
    if plan is None:
        return timedelta(days=EARLY_DAYS_DEFAULT)
    total = max(1, plan.conversations_per_year * plan.intervention_years)
    return timedelta(days=(plan.ends_on - plan.starts_on).days / total / 2)


def record(
    participant: Participant,
    data: dict[str, Any],
    *,
    actor: str,
    manager_id: int | None = None,
    today: date | None = None,
) -> ConversationRecord:
    """Record one conversation (held or missed) with everything discussed; one transaction.

    One record per participant and day: a second one on the same day is refused (409
    ``conversation_same_day``), since it is nearly always the first one entered twice; a
    mistake in the first is mended with :func:`correct_record`.
    """
    today = today or local_today()
    validate_record(data, today)
    with unit_of_work():
        locked_again(participant)
        check_may_have_conversations(participant, data["date"])
        check_one_per_day(participant.id, data["date"])
        manager_id = manager_id or caseload.current_manager_id(participant.id)
        planned = _planned_for(participant.id, data.get("planned_conversation_id"), data["date"])
        status = data.get("status", HELD)
        row = ConversationRecord(
            participant_id=participant.id,
            client_manager_id=manager_id,
            site_id=participant.site_id,
            planned_conversation_id=planned.id if planned else None,
            held_on=data["date"],
            status=status,
            duration_minutes=data.get("duration_minutes") if status == HELD else None,
            missed_reason=data.get("missed_reason") if status == MISSED else None,
            notes=data.get("notes"),
            recorded_by=actor,
        )
        db.session.add(row)
        db.session.flush()
        set_domains(row, data.get("domains", []))
        for item in data.get("agreements", []):
            db.session.add(
                Agreement(
                    participant_id=participant.id,
                    record_id=row.id,
                    description=item["description"],
                    responsible=item.get("responsible", "client"),
                    due_on=item.get("due_on"),
                )
            )
        followed = _follow_up(participant.id, row, data.get("agreement_followups", []))
        started, ended = _interventions(participant, row, data)
        replanned = 0
        if planned is not None:
            planned.status = status
            planned.record_id = row.id
            db.session.flush()
            if status == MISSED:
                replanned = planning.replan_following(
                    participant.id, planned.sequence, data["date"], catch_up=True
                )
        audit.record_for_participant(
            f"conversation.{status}",
            participant,
            actor=actor,
            about=("conversation_record", row.id),
            data={
                "date": data["date"].isoformat(),
                "sequence": planned.sequence if planned else None,
                "domains": len(data.get("domains", [])),
                "agreements": len(data.get("agreements", [])),
                "followups": followed,
                "interventions_started": started,
                "interventions_ended": ended,
                "replanned": replanned,
            },
        )
    return row


def set_domains(row: ConversationRecord, domains: list[dict[str, Any]]) -> None:
    for item in domains:
        db.session.add(
            ConversationDomain(
                record_id=row.id, domain=item["domain"], moved_forward=item.get("moved_forward")
            )
        )


def _follow_up(
    participant_id: int, row: ConversationRecord, followups: list[dict[str, Any]]
) -> int:
    for item in followups:
        agreement = locked(
            db.session.query(Agreement).filter_by(
                id=item["agreement_id"], participant_id=participant_id
            )
        ).one_or_none()
        if agreement is None or agreement.record_id == row.id:
            raise field_error(
                "agreement_followups",
                f"agreement {item['agreement_id']} is not an earlier agreement of this participant",
                code="agreement_unknown",
            )
        if agreement.followup_record_id is not None:
            raise field_error(
                "agreement_followups",
                f"agreement {item['agreement_id']} was already followed up",
                code="agreement_already_followed_up",
            )
        agreement.followup_record_id = row.id
        agreement.kept = bool(item["kept"])
    return len(followups)


def _interventions(
    participant: Participant, row: ConversationRecord, data: dict[str, Any]
) -> tuple[int, int]:
    for item in data.get("interventions_started", []):
        db.session.add(
            Intervention(
                participant_id=participant.id,
                site_id=participant.site_id,
                type=item["type"],
                provider=item.get("provider"),
                started_on=item["start"],
                ended_on=item.get("end"),
                started_record_id=row.id,
                ended_record_id=row.id if item.get("end") else None,
            )
        )
    for item in data.get("interventions_ended", []):
        intervention = locked(
            db.session.query(Intervention).filter_by(
                id=item["intervention_id"], participant_id=participant.id
            )
        ).one_or_none()
        if intervention is None:
            raise field_error(
                "interventions_ended",
                f"intervention {item['intervention_id']} is not one of this participant's",
                code="intervention_unknown",
            )
        _end(intervention, item["end"], "interventions_ended")
        intervention.ended_record_id = row.id
    db.session.flush()
    return len(data.get("interventions_started", [])), len(data.get("interventions_ended", []))


def records(participant: Participant) -> list[ConversationRecord]:
    return (
        db.session.query(ConversationRecord)
        .filter_by(participant_id=participant.id)
        .order_by(ConversationRecord.held_on, ConversationRecord.id)
        .all()
    )


def interventions_of(participant_id: int) -> list[Intervention]:
    return (
        db.session.query(Intervention)
        .filter_by(participant_id=participant_id)
        .order_by(Intervention.started_on, Intervention.id)
        .all()
    )


def _end(intervention: Intervention, end: date, field: str) -> None:
    if intervention.ended_on is not None:
        raise field_error(
            field,
            f"intervention {intervention.id} has already ended",
            code="intervention_already_ended",
        )
    if end < intervention.started_on:
        raise field_error(
            field, "an intervention ends after it starts", code="intervention_end_before_start"
        )
    intervention.ended_on = end


def end_intervention(
    participant: Participant, intervention_id: int, end: date, *, actor: str
) -> Intervention:
    """End a running intervention outside a conversation (a course finished, a job ended)."""
    if end > local_today():
        raise field_error("end", "lies in the future", code="date_in_future")
    with unit_of_work():
        intervention = locked_row(
            Intervention, intervention_id, "intervention", participant_id=participant.id
        )
        _end(intervention, end, "end")
        db.session.flush()
        audit.record_for_participant(
            "intervention.ended",
            participant,
            actor=actor,
            about=("intervention", intervention.id),
            data={"type": intervention.type, "end": end.isoformat()},
        )
    return intervention
