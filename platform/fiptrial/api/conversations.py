"""/api/v1: conversations of a participant, a client manager's agenda, a site's fidelity."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask_smorest import Blueprint

from fiptrial.api.auth import principal, requires
from fiptrial.errors import NotFound, field_error
from fiptrial.models import ConversationRecord, PlannedConversation, User
from fiptrial.schemas import (
    AgendaArgsSchema,
    ConversationCreateSchema,
    ConversationSchema,
    MoveSchema,
    NotificationSchema,
    PlannedConversationSchema,
)
from fiptrial.services import (
    conversation_reads,
    conversations,
    fidelity,
    followup,
    planning,
    trials,
    users,
)
from fiptrial.services.access import CLIENT_MANAGER, can_see_site, visible_participant, visible_site
from fiptrial.timezone import local_today

blp = Blueprint(
    "conversations",
    __name__,
    url_prefix="/api/v1",
    description="FIP conversations, agendas and fidelity",
)


@blp.post("/participants/<int:participant_id>/conversations")
@requires("conversation.record")
@blp.arguments(ConversationCreateSchema)
@blp.response(201, ConversationSchema)
def record_conversation(data: dict[str, Any], participant_id: int) -> ConversationRecord:
    who = principal()
    participant = visible_participant(who, participant_id)
    manager_id = who.user_id if who.role == CLIENT_MANAGER else None
    return conversations.record(participant, data, actor=who.actor, manager_id=manager_id)


@blp.get("/participants/<int:participant_id>/conversations")
@requires("conversation.read")
@blp.response(200)
def list_conversations(participant_id: int) -> list[dict[str, Any]]:
    who = principal()
    participant = visible_participant(who, participant_id)
    # Free text stays at the site: the field policy hides it from analysts.
    return ConversationSchema(many=True).dump(conversations.records(participant))


@blp.get("/participants/<int:participant_id>/plan")
@requires("plan.read")
@blp.response(200, PlannedConversationSchema(many=True))
def participant_plan(participant_id: int) -> list[PlannedConversation]:
    who = principal()
    participant = visible_participant(who, participant_id)
    return conversation_reads.plan_of(participant.id)


@blp.post("/participants/<int:participant_id>/plan/moves")
@requires("conversation.record")
@blp.arguments(MoveSchema)
@blp.response(200, PlannedConversationSchema(many=True))
def move(data: dict[str, Any], participant_id: int) -> list[PlannedConversation]:
    """Move an open conversation (by its sequence) to another working day; what follows is
    re-planned, held and missed conversations stay. Answers the participant's new plan."""
    who = principal()
    participant = visible_participant(who, participant_id)
    conversation = conversation_reads.planned_conversation(
        participant.id, sequence=data["sequence"]
    )
    if conversation is None:
        raise field_error("sequence", "the participant has no planned conversation with it")
    planning.move_conversation(conversation.id, data["date"], actor=who.actor)
    return conversation_reads.plan_of(participant.id)


def _visible_manager(who: Any, manager_id: int) -> User:
    """A client manager sees only themselves; site roles their own site; 404 otherwise."""
    manager = users.get_user(manager_id)
    if (
        manager is None
        or manager.role != CLIENT_MANAGER
        or (who.role == CLIENT_MANAGER and who.user_id != manager_id)
        or (manager.site is not None and not can_see_site(who, manager.site))
    ):
        raise NotFound(f"client manager {manager_id} does not exist")
    return manager


@blp.get("/client-managers/<int:manager_id>/agenda")
@requires("plan.read")
@blp.arguments(AgendaArgsSchema, location="query")
@blp.response(200, PlannedConversationSchema(many=True))
def agenda(args: dict[str, Any], manager_id: int) -> list[PlannedConversation]:
    """A client manager's planned conversations; a client manager sees only their own."""
    who = principal()
    _visible_manager(who, manager_id)
    first = args.get("from_") or local_today()
    last = args.get("to") or first + timedelta(days=6)
    return planning.agenda(manager_id, first, last)


@blp.get("/client-managers/<int:manager_id>/notifications")
@requires("notification.read")
@blp.response(200, NotificationSchema(many=True))
def notifications(manager_id: int) -> list[Any]:
    """The weekly agendas, overdue lists and AOW notices stored for one client manager: for
    the manager and their site's staff (never analysts); an AOW notice names the month."""
    who = principal()
    manager = _visible_manager(who, manager_id)
    return followup.notifications_for(manager)


@blp.get("/sites/<site_code>/fidelity")
@requires("conversation.read")
@blp.response(200)
def site_fidelity(site_code: str) -> dict[str, Any]:
    """Planned, held, held within two weeks, missed; share with 3 of 4 in the first year."""
    who = principal()
    site = visible_site(who, trials.find_site(site_code))
    # The field policy decides: per participant, and other client managers' user names.
    return fidelity.site_fidelity(site).to_dict(who)
