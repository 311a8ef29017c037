"""/api/v1/participants/{id}: a participant, their consent history and their allocation."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from fiptrial.api.auth import principal, requires
from fiptrial.errors import NotFound
from fiptrial.models import Allocation, ConsentEvent, Participant
from fiptrial.schemas import (
    AllocationSchema,
    ConsentCreateSchema,
    ConsentEventSchema,
    ParticipantSchema,
)
from fiptrial.services import consent, randomisation
from fiptrial.services.access import visible_participant

blp = Blueprint(
    "participants", __name__, url_prefix="/api/v1", description="Participants, consent, allocation"
)


@blp.get("/participants/<int:participant_id>")
@requires("participant.read")
@blp.response(200, ParticipantSchema)
def get_participant(participant_id: int) -> Participant:
    who = principal()
    return visible_participant(who, participant_id)


@blp.post("/participants/<int:participant_id>/consents")
@requires("consent.record")
@blp.arguments(ConsentCreateSchema)
@blp.response(201, ConsentEventSchema)
def record_consent(data: dict[str, Any], participant_id: int) -> ConsentEvent:
    who = principal()
    participant = visible_participant(who, participant_id)
    return consent.record(
        participant,
        status=data["status"],
        version=data["version"],
        on=data["date"],
        actor=who.actor,
    )


@blp.get("/participants/<int:participant_id>/consents")
@requires("consent.read")
@blp.response(200, ConsentEventSchema(many=True))
def list_consents(participant_id: int) -> list[ConsentEvent]:
    who = principal()
    return consent.history(visible_participant(who, participant_id))


@blp.post("/participants/<int:participant_id>/allocation")
@requires("allocation.create")
@blp.response(201, AllocationSchema)
def allocate(participant_id: int) -> Allocation:
    who = principal()
    participant = visible_participant(who, participant_id)
    return randomisation.allocate(participant.id, actor=who.actor)


@blp.get("/participants/<int:participant_id>/allocation")
@requires("allocation.read")
@blp.response(200, AllocationSchema)
def get_allocation(participant_id: int) -> Allocation:
    who = principal()
    participant = visible_participant(who, participant_id)
    allocation = randomisation.existing_allocation(participant.id)
    if allocation is None:
        raise NotFound(f"participant {participant_id} is not allocated")
    return allocation
