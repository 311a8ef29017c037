"""Client managers and their caseloads.

Every FIP participant has one fixed client manager (the P of FIP). Participants are assigned by
load: to the manager with the most free places left. A reassignment closes the current
assignment and opens a new one with its reason; the history is never overwritten.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from sqlalchemy import func, select

from fiptrial.errors import Conflict, NotFound, Unprocessable, field_error
from fiptrial.extensions import db
from fiptrial.models import Allocation, CaseloadAssignment, Participant, Site, User
from fiptrial.services import audit, planning
from fiptrial.services.transaction import existing_row, locked, unit_of_work

CLIENT_MANAGER = "client_manager"
REASSIGNMENT_REASONS = ("leave", "workload", "client_request", "manager_left", "other")


def add_client_manager(
    site: Site, username: str, *, capacity: int = 180, display_name: str = "", actor: str
) -> User:
    """Create a client manager at ``site`` with ``capacity`` FIP places (no password yet)."""
    if capacity < 1:
        raise field_error("capacity", "must be at least 1")
    if not username or len(username) > 80:
        raise field_error("username", "must have 1 to 80 characters")
    with unit_of_work():
        if db.session.query(User).filter_by(username=username).first():
            raise Conflict(f"a user called {username!r} already exists", code="duplicate_user")
        user = User(
            username=username,
            display_name=display_name or username,
            role=CLIENT_MANAGER,
            site_id=site.id,
            capacity=capacity,
            active=True,
        )
        audit.record_created(
            "client_manager.created",
            user,
            actor=actor,
            site=site.code,
            data={"username": username, "capacity": capacity},
        )
    return user


def set_capacity(user_id: int, capacity: int, *, actor: str) -> User:
    """Change a client manager's number of FIP places (never below their current caseload)."""
    if capacity < 1:
        raise field_error("capacity", "must be at least 1", code="capacity_invalid")
    with unit_of_work():
        user = locked(db.session.query(User).filter_by(id=user_id)).one_or_none()
        if user is None or user.role != CLIENT_MANAGER:
            raise NotFound(f"client manager {user_id} does not exist")
        load = current_loads(user.site_id or 0).get(user.id, 0)
        if capacity < load:
            raise field_error(
                "capacity",
                f"the client manager has {load} clients now",
                code="capacity_below_load",
                load=load,
            )
        before = user.capacity
        user.capacity = capacity
        audit.record_about(
            "client_manager.capacity_changed",
            user,
            actor=actor,
            site=user.site.code if user.site else None,
            data={"username": user.username, "from": before, "to": capacity},
        )
    return user


def client_managers(site_id: int) -> list[User]:
    return (
        db.session.query(User)
        .filter_by(site_id=site_id, role=CLIENT_MANAGER, active=True)
        .order_by(User.id)
        .all()
    )


def site_capacity(site_id: int) -> int:
    """A site's FIP places: the sum of its active client managers' capacities."""
    total = db.session.scalar(
        select(func.coalesce(func.sum(User.capacity), 0)).where(
            User.site_id == site_id, User.role == CLIENT_MANAGER, User.active.is_(True)
        )
    )
    return int(total or 0)


def current_loads(site_id: int) -> dict[int, int]:
    """Client manager id -> number of participants currently assigned."""
    rows = db.session.execute(
        select(CaseloadAssignment.client_manager_id, func.count())
        .where(CaseloadAssignment.site_id == site_id, CaseloadAssignment.ended_on.is_(None))
        .group_by(CaseloadAssignment.client_manager_id)
    )
    return {manager_id: count for manager_id, count in rows}


def current_manager_id(participant_id: int) -> int | None:
    return db.session.scalar(
        select(CaseloadAssignment.client_manager_id).where(
            CaseloadAssignment.participant_id == participant_id,
            CaseloadAssignment.ended_on.is_(None),
        )
    )


def unassigned_fip(site_id: int) -> list[int]:
    """FIP participants of the site (active allocation) without a current client manager."""
    current = select(CaseloadAssignment.participant_id).where(CaseloadAssignment.ended_on.is_(None))
    return list(
        db.session.scalars(
            select(Allocation.participant_id)
            .where(
                Allocation.site_id == site_id,
                Allocation.arm == "fip",
                Allocation.status == "active",
                Allocation.participant_id.not_in(current),
            )
            .order_by(Allocation.participant_id)
        )
    )


def choose_by_load(free: dict[int, int], loads: dict[int, int]) -> int | None:
    """The manager with the most free places; ties go to the lower load, then the lower id."""
    candidates = [m for m, places in free.items() if places > 0]
    if not candidates:
        return None
    return max(candidates, key=lambda m: (free[m], -loads.get(m, 0), -m))


def assign_by_load(
    site: Site, participant_ids: Iterable[int] | None = None, *, on: date, actor: str
) -> dict[int, int]:
    """Assign FIP participants without a client manager to the site's managers, by load.

    Returns participant id -> client manager id for the new assignments. Participants beyond
    the site's free places stay unassigned (and are reported in the audit entry).
    """
    with unit_of_work():
        locked(db.session.query(Site).filter_by(id=site.id)).one()
        managers = client_managers(site.id)
        if not managers:
            raise Unprocessable(
                f"site {site.code} has no client managers", code="no_client_managers"
            )
        loads = current_loads(site.id)
        free = {m.id: m.capacity - loads.get(m.id, 0) for m in managers}
        pending = unassigned_fip(site.id) if participant_ids is None else list(participant_ids)
        assigned: dict[int, int] = {}
        rows = []
        for pid in pending:
            manager_id = choose_by_load(free, loads)
            if manager_id is None:
                break
            free[manager_id] -= 1
            loads[manager_id] = loads.get(manager_id, 0) + 1
            assigned[pid] = manager_id
            rows.append(
                {
                    "participant_id": pid,
                    "client_manager_id": manager_id,
                    "site_id": site.id,
                    "assigned_on": on,
                    "reason": "initial",
                    "assigned_by": actor,
                }
            )
        if rows:
            db.session.execute(CaseloadAssignment.__table__.insert(), rows)
        audit.record_for_site(
            "caseload.assigned",
            site,
            actor=actor,
            data={
                "assigned": len(assigned),
                "left_unassigned": len(pending) - len(assigned),
                "per_manager": {str(m): loads.get(m, 0) for m in free},
            },
        )
    return assigned


def reassign(
    participant_id: int,
    new_manager_id: int,
    *,
    reason: str,
    on: date,
    actor: str,
    reason_text: str | None = None,
) -> CaseloadAssignment:
    """Give a participant another fixed client manager from ``on``; the old row is kept.

    The participant's open planned conversations move to the new manager's agenda on their
    dates (capacity permitting; otherwise re-planned by ``services.planning``).
    """
    if reason not in REASSIGNMENT_REASONS:
        raise field_error("reason", f"must be one of {', '.join(REASSIGNMENT_REASONS)}")
    with unit_of_work():
        participant = existing_row(Participant, participant_id, "participant")
        manager = db.session.get(User, new_manager_id)
        if (
            manager is None
            or manager.role != CLIENT_MANAGER
            or not manager.active
            or manager.site_id != participant.site_id
        ):
            raise field_error("client_manager", "must be an active client manager of the site")
        current = locked(
            db.session.query(CaseloadAssignment).filter_by(
                participant_id=participant_id, ended_on=None
            )
        ).one_or_none()
        if current is not None and current.client_manager_id == new_manager_id:
            raise Conflict(
                "the participant already has this client manager", code="same_client_manager"
            )
        if current is not None:
            if on < current.assigned_on:
                raise field_error("date", "must not lie before the current assignment began")
            current.ended_on = on
            db.session.flush()
        row = CaseloadAssignment(
            participant_id=participant_id,
            client_manager_id=new_manager_id,
            site_id=participant.site_id,
            assigned_on=on,
            reason=reason,
            reason_text=reason_text,
            assigned_by=actor,
        )
        db.session.add(row)
        db.session.flush()
        moved = planning.move_open_conversations(participant, new_manager_id, from_date=on)
        audit.record_for_participant(
            "caseload.reassigned",
            participant,
            actor=actor,
            data={
                "from": current.client_manager_id if current else None,
                "to": new_manager_id,
                "reason": reason,
                "on": on.isoformat(),
                "conversations_moved": moved,
            },
        )
    return row


def history(participant_id: int) -> list[CaseloadAssignment]:
    return (
        db.session.query(CaseloadAssignment)
        .filter_by(participant_id=participant_id)
        .order_by(CaseloadAssignment.assigned_on, CaseloadAssignment.id)
        .all()
    )
