"""Recording conversations: held or missed, life domains, agreements, interventions.

A client manager records a conversation right after it (FIP: no screen during the talk), so a
record is one call: the conversation, the life domains discussed and whether the client moved
forward on each, new agreements, the follow-up (kept or not) of earlier agreements, and the
interventions started or ended. The record closes the planned conversation it belongs to; a
missed one re-plans the conversations after it.

Only FIP participants have conversations, and a withdrawn participant gets none after the
withdrawal. Free text (notes, agreement text, provider names) stays at the site.
"""

from __future__ import annotations

import csv
from datetime import date
from functools import cache
from importlib import resources
from typing import Any

from fiptrial.errors import Conflict, field_error
from fiptrial.extensions import db
from fiptrial.models import (
    Agreement,
    Allocation,
    ConversationDomain,
    ConversationRecord,
    Intervention,
    Participant,
    PlannedConversation,
)
from fiptrial.models.conversations import HELD, MISSED, OPEN_STATUSES
from fiptrial.services import audit, caseload, consent, planning
from fiptrial.services.transaction import locked, unit_of_work

MISSED_REASONS = ("no_show", "cancelled_by_client", "cancelled_by_manager", "ill", "other")
RESPONSIBLE = ("client", "client_manager", "other")


def _codes(filename: str) -> tuple[str, ...]:
    text = resources.files("fiptrial.data").joinpath(filename).read_text(encoding="utf-8")
    return tuple(row["code"] for row in csv.DictReader(text.splitlines()))


@cache
def life_domains() -> tuple[str, ...]:
    return _codes("life_domains.csv")


@cache
def intervention_types() -> tuple[str, ...]:
    return _codes("intervention_types.csv")


def check_may_have_conversations(participant: Participant, on: date | None = None) -> None:
    """409 unless the participant is in FIP (active allocation) and has not withdrawn."""
    allocation = db.session.query(Allocation).filter_by(participant_id=participant.id).one_or_none()
    if allocation is None or allocation.arm != "fip" or allocation.status != "active":
        raise Conflict("only FIP participants have conversations", code="not_fip")
    withdrawn_on = consent.withdrawal_date(participant.id)
    if withdrawn_on is not None and (on is None or on >= withdrawn_on):
        raise Conflict(
            f"the participant withdrew on {withdrawn_on}; no conversations after it",
            code="participant_withdrawn",
        )


def _validate(data: dict[str, Any], today: date) -> None:
    status = data.get("status", HELD)
    if status not in (HELD, MISSED):
        raise field_error("status", "must be held or missed")
    if data["date"] > today:
        raise field_error("date", "a conversation is recorded after it took place")
    if status == HELD:
        if not data.get("duration_minutes"):
            raise field_error("duration_minutes", "is required for a held conversation")
    else:
        if data.get("missed_reason") not in MISSED_REASONS:
            raise field_error("missed_reason", f"must be one of {', '.join(MISSED_REASONS)}")
        if data.get("domains") or data.get("agreements") or data.get("interventions_started"):
            raise field_error(
                "status", "a missed conversation has no domains, agreements or interventions"
            )
    seen: set[str] = set()
    for item in data.get("domains", []):
        if item["domain"] not in life_domains():
            raise field_error(
                "domains",
                f"unknown life domain {item['domain']!r}; one of {', '.join(life_domains())}",
            )
        if item["domain"] in seen:
            raise field_error("domains", f"life domain {item['domain']!r} given twice")
        seen.add(item["domain"])
    for item in data.get("agreements", []):
        if item.get("responsible", "client") not in RESPONSIBLE:
            raise field_error("agreements", f"responsible must be one of {', '.join(RESPONSIBLE)}")
    for item in data.get("interventions_started", []):
        if item["type"] not in intervention_types():
            raise field_error(
                "interventions_started",
                f"unknown intervention type "
                f"{item['type']!r}; one of {', '.join(intervention_types())}",
            )
        if item.get("end") and item["end"] < item["start"]:
            raise field_error("interventions_started", "an intervention ends after it starts")


def _planned_for(participant_id: int, planned_id: int | None) -> PlannedConversation | None:
    query = db.session.query(PlannedConversation).filter_by(participant_id=participant_id)
    if planned_id is not None:
        planned = locked(query.filter_by(id=planned_id)).one_or_none()
        if planned is None:
            raise field_error(
                "planned_conversation_id", "is not a conversation of this participant"
            )
        if planned.record_id is not None:
            raise Conflict(
                "this planned conversation has already been recorded", code="already_recorded"
            )
        return planned
    # The earliest conversation still open (an automatically missed one may be recorded late).
    return (
        locked(query.filter(PlannedConversation.status.in_(OPEN_STATUSES)))
        .order_by(PlannedConversation.sequence)
        .first()
    )


def record(
    participant: Participant,
    data: dict[str, Any],
    *,
    actor: str,
    manager_id: int | None = None,
    today: date | None = None,
) -> ConversationRecord:
    """Record one conversation (held or missed) with everything discussed; one transaction."""
    today = today or date.today()
    _validate(data, today)
    with unit_of_work():
        locked(db.session.query(Participant).filter_by(id=participant.id)).one()
        check_may_have_conversations(participant, data["date"])
        manager_id = manager_id or caseload.current_manager_id(participant.id)
        planned = _planned_for(participant.id, data.get("planned_conversation_id"))
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
        for item in data.get("domains", []):
            db.session.add(
                ConversationDomain(
                    record_id=row.id, domain=item["domain"], moved_forward=item.get("moved_forward")
                )
            )
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
        audit.record(
            f"conversation.{status}",
            actor=actor,
            entity="conversation_record",
            entity_id=row.id,
            site=participant.site.code,
            data={
                "participant_id": participant.id,
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
            )
        if agreement.followup_record_id is not None:
            raise field_error(
                "agreement_followups", f"agreement {item['agreement_id']} was already followed up"
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
            )
        if intervention.ended_on is not None:
            raise field_error(
                "interventions_ended", f"intervention {item['intervention_id']} has already ended"
            )
        if item["end"] < intervention.started_on:
            raise field_error("interventions_ended", "an intervention ends after it starts")
        intervention.ended_on = item["end"]
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
