"""Benefit units: partners of one household randomised as one.

A unit's first allocation draws its arm; a partner allocated later takes that arm without a
draw (``allocation.store_with_unit``). The rows of a unit are locked together, in id order, so
that two partners allocated at the same moment cannot both draw.
"""

from __future__ import annotations

from sqlalchemy.orm import joinedload

from fiptrial.errors import NotFound
from fiptrial.extensions import db
from fiptrial.models import Allocation, Participant, Site, Trial
from fiptrial.services.randomisation.rules import CORRECTION_KINDS
from fiptrial.services.transaction import locked


def _unit_member_ids(participant: Participant) -> list[int]:
    """Ids of the participants of the trial in ``participant``'s benefit unit, itself included."""
    if participant.unit_key is None:
        return [participant.id]
    return sorted(
        pid
        for (pid,) in db.session.query(Participant.id).filter(
            Participant.trial_id == participant.trial_id,
            Participant.unit_key == participant.unit_key,
        )
    )


def lock_with_unit(participant_id: int) -> tuple[Participant, Trial, Site]:
    """The participant with its row locked, and its partners' rows too, all in id order, so
    that two partners allocated at the same moment cannot both draw (the second waits and then
    takes the first one's arm). ``unit_key`` never changes, so it may be read before the lock.

    Its trial and site are returned with it: the locked read resets the participant's
    relationships, and the caller's references keep those rows in the session's (weak)
    identity map, where the next access to ``participant.trial`` finds them without a query.
    """
    # Its trial and site come with it (unlocked rows, as lazy loads would read them), so that
    # the checks and the draw need no query of their own.
    participant = db.session.get(
        Participant,
        participant_id,
        options=[joinedload(Participant.trial), joinedload(Participant.site)],
    )
    if participant is None:
        raise NotFound(f"participant {participant_id} does not exist")
    ids = _unit_member_ids(participant)
    trial, site = participant.trial, participant.site
    # Whole rows, so that the locked read refreshes the participant too (populate_existing).
    locked(
        db.session.query(Participant).filter(Participant.id.in_(ids)).order_by(Participant.id)
    ).all()
    return participant, trial, site


def unit_allocation(participant: Participant) -> Allocation | None:
    """The allocation that decided the arm of ``participant``'s benefit unit, if a partner was
    allocated already: the first drawn allocation of the unit that stands (not marked
    randomised in error)."""
    if participant.unit_key is None:
        return None
    return (
        db.session.query(Allocation)
        .join(Participant, Participant.id == Allocation.participant_id)
        .filter(
            Participant.trial_id == participant.trial_id,
            Participant.unit_key == participant.unit_key,
            Participant.id != participant.id,
            Allocation.unit_allocation_id.is_(None),
            Allocation.status.notin_(CORRECTION_KINDS),
        )
        .order_by(Allocation.id)
        .first()
    )
