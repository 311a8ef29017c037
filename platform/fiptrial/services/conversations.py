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
from datetime import date, timedelta
from functools import cache
from importlib import resources
from typing import Any

from fiptrial.errors import Conflict, NotFound, Unprocessable, field_error
from fiptrial.extensions import db
from fiptrial.models import (
    Agreement,
    Allocation,
    ConversationCorrection,
    ConversationDomain,
    ConversationPlan,
    ConversationRecord,
    Intervention,
    Participant,
    PlannedConversation,
)
from fiptrial.models.conversations import HELD, MISSED, OPEN_STATUSES, OVERDUE, PLANNED
from fiptrial.plugins.parsing import contains_bsn
from fiptrial.services import audit, caseload, consent, planning
from fiptrial.services.transaction import locked, unit_of_work
from fiptrial.timezone import local_today

MISSED_REASONS = ("no_show", "cancelled_by_client", "cancelled_by_manager", "ill", "other")
RESPONSIBLE = ("client", "client_manager", "other")
CORRECTION_REASONS = ("wrong_date", "wrong_participant", "entered_twice", "typing_error", "other")
EARLY_DAYS_DEFAULT = 45  # without a plan: how early a conversation may be held and count


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
            withdrawn_on=withdrawn_on.isoformat(),
        )


def _check_free_text(data: dict[str, Any]) -> None:
    """Free text stays at the site, but a BSN must not be in it at all: the participant is
    known by their number. Refused, naming the field, never quoting the text."""
    texts = [("notes", data.get("notes"))]
    texts += [("agreements", item.get("description")) for item in data.get("agreements", [])]
    for field, text in texts:
        if isinstance(text, str) and contains_bsn(text):
            raise field_error(
                field,
                "contains a BSN: refer to the participant by their number, never by BSN",
                code="bsn_in_free_text",
            )


def _validate(data: dict[str, Any], today: date) -> None:
    _check_free_text(data)
    status = data.get("status", HELD)
    if status not in (HELD, MISSED):
        raise field_error("status", "must be held or missed", code="invalid_choice")
    if data["date"] > today:
        raise field_error(
            "date", "a conversation is recorded after it took place", code="conversation_in_future"
        )
    if status == HELD:
        if not data.get("duration_minutes"):
            raise field_error(
                "duration_minutes", "is required for a held conversation", code="duration_required"
            )
    else:
        if data.get("missed_reason") not in MISSED_REASONS:
            raise field_error(
                "missed_reason",
                f"must be one of {', '.join(MISSED_REASONS)}",
                code="missed_reason_required",
            )
        if data.get("domains") or data.get("agreements") or data.get("interventions_started"):
            raise field_error(
                "status",
                "a missed conversation has no domains, agreements or interventions",
                code="missed_has_content",
            )
    seen: set[str] = set()
    for item in data.get("domains", []):
        if item["domain"] not in life_domains():
            raise field_error(
                "domains",
                f"unknown life domain {item['domain']!r}; one of {', '.join(life_domains())}",
                code="unknown_life_domain",
            )
        if item["domain"] in seen:
            raise field_error(
                "domains",
                f"life domain {item['domain']!r} given twice",
                code="duplicate_life_domain",
                domain=item["domain"],
            )
        seen.add(item["domain"])
    for number, item in enumerate(data.get("agreements", []), start=1):
        if item.get("responsible", "client") not in RESPONSIBLE:
            raise field_error(
                "agreements",
                f"responsible must be one of {', '.join(RESPONSIBLE)}",
                code="invalid_choice",
            )
        if item.get("due_on") is not None and item["due_on"] < data["date"]:
            raise field_error(
                "agreements",
                f"agreement {number} is due before the conversation it was made in",
                code="agreement_due_in_past",
                number=number,
            )
    for item in data.get("interventions_started", []):
        if item["type"] not in intervention_types():
            raise field_error(
                "interventions_started",
                f"unknown intervention type "
                f"{item['type']!r}; one of {', '.join(intervention_types())}",
                code="unknown_intervention_type",
            )
        if item.get("end") and item["end"] < item["start"]:
            raise field_error(
                "interventions_started",
                "an intervention ends after it starts",
                code="intervention_end_before_start",
            )


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


def _check_one_per_day(participant_id: int, held_on: date, exclude: int | None = None) -> None:
    query = db.session.query(ConversationRecord.id).filter(
        ConversationRecord.participant_id == participant_id,
        ConversationRecord.held_on == held_on,
    )
    if exclude is not None:
        query = query.filter(ConversationRecord.id != exclude)
    existing = query.first()
    if existing is not None:
        raise Conflict(
            f"a conversation on {held_on} is already recorded; correct that one instead",
            code="conversation_same_day",
            fields={"date": ["a conversation on this day is already recorded"]},
            date=held_on.isoformat(),
            record=existing[0],
        )


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
    _validate(data, today)
    with unit_of_work():
        locked(db.session.query(Participant).filter_by(id=participant.id)).one()
        check_may_have_conversations(participant, data["date"])
        _check_one_per_day(participant.id, data["date"])
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
        _set_domains(row, data.get("domains", []))
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


def _set_domains(row: ConversationRecord, domains: list[dict[str, Any]]) -> None:
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
        intervention = locked(
            db.session.query(Intervention).filter_by(
                id=intervention_id, participant_id=participant.id
            )
        ).one_or_none()
        if intervention is None:
            raise NotFound(f"intervention {intervention_id} does not exist")
        _end(intervention, end, "end")
        db.session.flush()
        audit.record(
            "intervention.ended",
            actor=actor,
            entity="intervention",
            entity_id=intervention.id,
            site=participant.site.code,
            data={
                "participant_id": participant.id,
                "type": intervention.type,
                "end": end.isoformat(),
            },
        )
    return intervention


# --- Corrections ------------------------------------------------------------------------------

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
    row = locked(
        db.session.query(ConversationRecord).filter_by(id=record_id, participant_id=participant.id)
    ).one_or_none()
    if row is None:
        raise NotFound(f"conversation record {record_id} does not exist")
    return row


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
        locked(db.session.query(Participant).filter_by(id=participant.id)).one()
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
        _validate(merged, today)
        if merged["date"] != row.held_on:
            check_may_have_conversations(participant, merged["date"])
            _check_one_per_day(participant.id, merged["date"], exclude=row.id)
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
            _set_domains(row, merged["domains"])
        planned = _planned_of(row)
        replanned = 0
        if planned is not None:
            planned.status = row.status
        db.session.flush()
        if {"date", "status"} & set(changed):
            replanned = _rederive_plan(participant.id, planned, today)
        correction = _store_correction(row, "corrected", reason, reason_text, before, actor)
        db.session.expire(row, ["domains"])
        audit.record(
            "conversation.corrected",
            actor=actor,
            entity="conversation_record",
            entity_id=row.id,
            site=participant.site.code,
            data={
                "participant_id": participant.id,
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
        locked(db.session.query(Participant).filter_by(id=participant.id)).one()
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
        audit.record(
            "conversation.deleted",
            actor=actor,
            entity="conversation_record",
            entity_id=record_id,
            site=participant.site.code,
            data={
                "participant_id": participant.id,
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
