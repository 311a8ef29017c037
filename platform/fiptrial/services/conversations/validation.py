"""What a conversation record may say, checked before anything is stored.

The code lists (life domains and intervention types, from ``fiptrial/data``), who may have
conversations at all (FIP participants, not after their withdrawal), and the checks of a
record's content. Recording and correcting share them, so a corrected record is held to the
same rules as a new one.
"""

from __future__ import annotations

import csv
from datetime import date
from functools import cache
from importlib import resources
from typing import Any

from fiptrial.errors import Conflict, field_error
from fiptrial.extensions import db
from fiptrial.models import Allocation, ConversationRecord, Participant
from fiptrial.models.conversations import HELD, MISSED
from fiptrial.plugins.parsing import contains_bsn
from fiptrial.services import consent

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


def validate_record(data: dict[str, Any], today: date) -> None:
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


def check_one_per_day(participant_id: int, held_on: date, exclude: int | None = None) -> None:
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
