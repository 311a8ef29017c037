"""Correcting or deleting a recorded conversation: mended, never silently overwritten.

The earlier version is kept with the reason (at the site: it holds the notes), the change is
audited, and the plan after the record is re-derived when its date or status changed. A deleted
record takes its agreements and the interventions it started with it and reopens the planned
conversation it closed.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fiptrial.errors import Conflict, Unprocessable, field_error
from fiptrial.extensions import db
from fiptrial.models import (
    Agreement,
    ConversationCorrection,
    ConversationRecord,
    Intervention,
    Participant,
    PlannedConversation,
)
from fiptrial.models.conversations import HELD, MISSED, OVERDUE, PLANNED
from fiptrial.services import audit, planning
from fiptrial.services.conversations.recording import set_domains
from fiptrial.services.conversations.validation import (
    check_may_have_conversations,
    check_one_per_day,
    validate_record,
)
from fiptrial.services.transaction import locked, locked_row, unit_of_work
from fiptrial.timezone import local_today

CORRECTION_REASONS = ("wrong_date", "wrong_participant", "entered_twice", "typing_error", "other")
CORRECTABLE = ("date", "status", "duration_minutes", "missed_reason", "notes", "domains")


def _snapshot(row: ConversationRecord) -> dict[str, Any]:
    """What a record said, kept with its correction (site-only: it holds the notes)."""
    return {
        "date": row.held_on.isoformat(),
        "status": row.status,
        "duration_minutes": row.duration_minutes,
        "missed_reason": row.missed_reason,
        "notes": row.notes,
        "domains": [{"domain": d.domain, "moved_forward": d.moved_forward} for d in row.domains],
        "agreements": [a.description for a in row.agreements],
    }


def _check_reason(reason: str, reason_text: str | None) -> None:
    if reason not in CORRECTION_REASONS:
        raise field_error(
            "reason",
            f"must be one of {', '.join(CORRECTION_REASONS)}",
            code="correction_reason_required",
        )
    if reason == "other" and not (reason_text or "").strip():
        raise field_error(
            "reason_text", "explain the correction", code="correction_explanation_required"
        )


def _own_record(participant: Participant, record_id: int) -> ConversationRecord:
    """One of the participant's records, locked after the participant's row, which every
    recording and correction of the participant locks first: they cannot cross."""
    locked(db.session.query(Participant).filter_by(id=participant.id)).one()
    return locked_row(
        ConversationRecord, record_id, "conversation record", participant_id=participant.id
    )


def _rederive_plan(participant_id: int, planned: PlannedConversation | None, today: date) -> int:
    """Re-plan the open conversations after ``planned`` from its (new) state."""
    if planned is None:
        return 0
    if planned.record_id is None:
        anchor = max(planned.planned_date, today)
        catch_up = False
    else:
        record = db.session.get_one(ConversationRecord, planned.record_id)
        anchor, catch_up = record.held_on, record.status == MISSED
    return planning.replan_following(participant_id, planned.sequence, anchor, catch_up=catch_up)


def correct_record(
    participant: Participant,
    record_id: int,
    changes: dict[str, Any],
    *,
    reason: str,
    reason_text: str | None = None,
    actor: str,
    today: date | None = None,
) -> ConversationRecord:
    """Correct a wrongly recorded conversation: its date, whether it was held, its length,
    missed reason, note or life domains. The earlier version is kept with the reason; the
    conversations after it are re-planned when the date or the status changed."""
    today = today or local_today()
    unknown = sorted(set(changes) - set(CORRECTABLE))
    if unknown:
        raise field_error(
            unknown[0], "cannot be corrected; delete the record instead", code="not_correctable"
        )
    _check_reason(reason, reason_text)
    with unit_of_work():
        row = _own_record(participant, record_id)
        before = _snapshot(row)
        merged: dict[str, Any] = {
            "date": changes.get("date", row.held_on),
            "status": changes.get("status", row.status),
            "duration_minutes": changes.get("duration_minutes", row.duration_minutes),
            "missed_reason": changes.get("missed_reason", row.missed_reason),
            "domains": changes.get("domains", before["domains"]),
            "agreements": [],
            "interventions_started": [],
            "notes": changes.get("notes"),
        }
        if merged["status"] == MISSED:
            merged["domains"] = changes.get("domains", [])
            if row.agreements or _started_in(row):
                raise field_error(
                    "status",
                    "a conversation with agreements or interventions was held",
                    code="missed_has_content",
                )
        validate_record(merged, today)
        if merged["date"] != row.held_on:
            check_may_have_conversations(participant, merged["date"])
            check_one_per_day(participant.id, merged["date"], exclude=row.id)
        changed = sorted(
            name
            for name in CORRECTABLE
            if name in changes
            and (merged.get(name) if name != "notes" else changes["notes"]) != before[name]
        )
        if not changed:
            raise Unprocessable("the correction changes nothing", code="correction_changes_nothing")
        row.held_on = merged["date"]
        row.status = merged["status"]
        row.duration_minutes = merged["duration_minutes"] if row.status == HELD else None
        row.missed_reason = merged["missed_reason"] if row.status == MISSED else None
        if "notes" in changes:
            row.notes = changes["notes"]
        if "domains" in changed or row.status == MISSED:
            for domain in list(row.domains):
                db.session.delete(domain)
            db.session.flush()
            set_domains(row, merged["domains"])
        planned = _planned_of(row)
        replanned = 0
        if planned is not None:
            planned.status = row.status
        db.session.flush()
        if {"date", "status"} & set(changed):
            replanned = _rederive_plan(participant.id, planned, today)
        correction = _store_correction(row, "corrected", reason, reason_text, before, actor)
        db.session.expire(row, ["domains"])
        audit.record_for_participant(
            "conversation.corrected",
            participant,
            actor=actor,
            about=("conversation_record", row.id),
            data={
                "correction": correction.id,
                "reason": reason,
                "changed": changed,
                "replanned": replanned,
            },
        )
    return row


def delete_record(
    participant: Participant,
    record_id: int,
    *,
    reason: str,
    reason_text: str | None = None,
    actor: str,
    today: date | None = None,
) -> ConversationCorrection:
    """Delete a wrongly recorded conversation: the planned conversation it closed is open
    again, its agreements and the interventions it started go with it, follow-ups and ends it
    recorded are undone, and the plan after it is re-derived. What it said is kept with the
    reason (at the site), and the deletion is audited."""
    today = today or local_today()
    _check_reason(reason, reason_text)
    with unit_of_work():
        row = _own_record(participant, record_id)
        followed_later = [a for a in row.agreements if a.followup_record_id is not None]
        if followed_later:
            raise Conflict(
                "agreements of this conversation were followed up in a later one",
                code="record_agreements_followed_up",
            )
        before = _snapshot(row)
        correction = _store_correction(row, "deleted", reason, reason_text, before, actor)
        for agreement in db.session.query(Agreement).filter_by(followup_record_id=row.id):
            agreement.followup_record_id = None
            agreement.kept = None
        for intervention in db.session.query(Intervention).filter_by(ended_record_id=row.id):
            if intervention.started_record_id == row.id:
                continue
            intervention.ended_on = None
            intervention.ended_record_id = None
        for intervention in _started_in(row):
            db.session.delete(intervention)
        for agreement in list(row.agreements):
            db.session.delete(agreement)
        planned = _planned_of(row)
        if planned is not None:
            planned.record_id = None
            planned.status = OVERDUE if planned.planned_date < today else PLANNED
        db.session.flush()
        db.session.delete(row)
        db.session.flush()
        replanned = _rederive_plan(participant.id, planned, today)
        audit.record_for_participant(
            "conversation.deleted",
            participant,
            actor=actor,
            about=("conversation_record", record_id),
            data={
                "correction": correction.id,
                "reason": reason,
                "date": before["date"],
                "status": before["status"],
                "sequence": planned.sequence if planned else None,
                "replanned": replanned,
            },
        )
    return correction


def _planned_of(row: ConversationRecord) -> PlannedConversation | None:
    return locked(db.session.query(PlannedConversation).filter_by(record_id=row.id)).one_or_none()


def _started_in(row: ConversationRecord) -> list[Intervention]:
    return db.session.query(Intervention).filter_by(started_record_id=row.id).all()


def _store_correction(
    row: ConversationRecord,
    action: str,
    reason: str,
    reason_text: str | None,
    before: dict[str, Any],
    actor: str,
) -> ConversationCorrection:
    correction = ConversationCorrection(
        record_id=row.id,
        participant_id=row.participant_id,
        site_id=row.site_id,
        action=action,
        reason=reason,
        reason_text=(reason_text or "").strip()[:2000] or None,
        before=before,
        corrected_by=actor,
    )
    db.session.add(correction)
    db.session.flush()
    return correction


def corrections_of(participant_id: int) -> list[ConversationCorrection]:
    return (
        db.session.query(ConversationCorrection)
        .filter_by(participant_id=participant_id)
        .order_by(ConversationCorrection.id.desc())
        .all()
    )
