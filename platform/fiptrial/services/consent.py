"""Consent: form versions per trial and the append-only history of each participant.

Two designs. ``consent_first``: consent ``given`` is required before allocation. ``zelen``:
randomise first and ask consent only in the FIP arm; refusals stay in the intention-to-treat
analysis. A withdrawal stops all data collection after its date and is final; what was
lawfully collected before it stays, and only consent given can be withdrawn. Paper consent
forms collected for many clients are recorded in one step (:func:`record_many`), each as its
own event with its own audit entry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy.exc import NoResultFound

from fiptrial.errors import Unprocessable, field_error
from fiptrial.extensions import db
from fiptrial.models import (
    Allocation,
    ConsentEvent,
    ConsentForm,
    Participant,
    PlannedConversation,
    Site,
    Trial,
)
from fiptrial.services import audit, planning
from fiptrial.services.participants import unallocated_eligible
from fiptrial.services.transaction import locked, locked_again, unit_of_work
from fiptrial.timezone import local_today

CONSENT_STATUSES = ("given", "declined", "withdrawn")
CONSENT_DESIGNS = ("consent_first", "zelen")


@dataclass(frozen=True)
class ConsentState:
    status: str | None
    version: str | None
    event_date: date | None
    needs_reconsent: bool
    withdrawn_on: date | None


def register_form(
    trial: Trial, *, version: str, valid_from: date, requires_reconsent: bool, actor: str
) -> ConsentForm:
    with unit_of_work():
        if db.session.query(ConsentForm).filter_by(trial_id=trial.id, version=version).first():
            raise field_error(
                "version",
                f"consent form version {version!r} already exists",
                code="duplicate_consent_form",
                version=version,
            )
        form = ConsentForm(
            trial_id=trial.id,
            version=version,
            valid_from=valid_from,
            requires_reconsent=requires_reconsent,
        )
        audit.record_created(
            "consent_form.registered",
            form,
            actor=actor,
            data={
                "trial": trial.code,
                "version": version,
                "valid_from": valid_from.isoformat(),
                "requires_reconsent": requires_reconsent,
            },
        )
    return form


def forms_of(trial: Trial) -> list[ConsentForm]:
    """The trial's consent form versions, in the order they were registered."""
    return db.session.query(ConsentForm).filter_by(trial_id=trial.id).order_by(ConsentForm.id).all()


def history(participant: Participant) -> list[ConsentEvent]:
    return (
        db.session.query(ConsentEvent)
        .filter_by(participant_id=participant.id)
        .order_by(ConsentEvent.id)
        .all()
    )


def current_state(participant: Participant, *, on: date | None = None) -> ConsentState:
    return _state(history(participant), participant.trial_id, on, {})


def current_states(
    participants: Sequence[Participant], *, on: date | None = None
) -> dict[int, ConsentState]:
    """:func:`current_state` of each participant, by id: their events in a query per thousand
    participants and each trial's forms in one query, instead of queries per participant."""
    events: dict[int, list[ConsentEvent]] = {p.id: [] for p in participants}
    ids = list(events)
    for start in range(0, len(ids), 1000):
        for event in (
            db.session.query(ConsentEvent)
            .filter(ConsentEvent.participant_id.in_(ids[start : start + 1000]))
            .order_by(ConsentEvent.id)
        ):
            events[event.participant_id].append(event)
    forms: dict[int, list[ConsentForm]] = {}
    return {p.id: _state(events[p.id], p.trial_id, on, forms) for p in participants}


def _state(
    events: list[ConsentEvent],
    trial_id: int,
    on: date | None,
    forms: dict[int, list[ConsentForm]],
) -> ConsentState:
    """The consent state from a participant's events in id order; ``forms`` caches the forms
    of each trial by its id (filled on first use)."""
    withdrawn_on = next((e.date for e in events if e.status == "withdrawn"), None)
    if not events:
        return ConsentState(None, None, None, False, None)
    last = events[-1]
    needs = False
    if last.status == "given":
        if trial_id not in forms:
            forms[trial_id] = _forms(trial_id)
        needs = _reconsent_needed(forms[trial_id], last.form_version, on or local_today())
    return ConsentState(last.status, last.form_version, last.date, needs, withdrawn_on)


def _forms(trial_id: int) -> list[ConsentForm]:
    return db.session.query(ConsentForm).filter_by(trial_id=trial_id).all()


def _reconsent_needed(forms: Sequence[ConsentForm], version: str, on: date) -> bool:
    """True when a form of ``forms`` (one trial's) valid on ``on`` that requires re-consent is
    newer than ``version``."""
    given = [form for form in forms if form.version == version]
    if len(given) != 1:
        raise NoResultFound(f"no consent form {version!r} in the trial")
    valid_from = given[0].valid_from
    return any(form.requires_reconsent and valid_from < form.valid_from <= on for form in forms)


def withdrawal_date(participant_id: int) -> date | None:
    event = (
        db.session.query(ConsentEvent)
        .filter_by(participant_id=participant_id, status="withdrawn")
        .order_by(ConsentEvent.id)
        .first()
    )
    return event.date if event else None


def _check(participant: Participant, *, status: str, version: str, on: date) -> None:
    """Why this consent event cannot be recorded (a 422 with a code), or nothing."""
    trial = participant.trial
    if status not in CONSENT_STATUSES:
        raise field_error(
            "status", f"must be one of {', '.join(CONSENT_STATUSES)}", code="invalid_choice"
        )
    if on > local_today():
        raise field_error("date", "lies in the future", code="date_in_future")
    form = db.session.query(ConsentForm).filter_by(trial_id=trial.id, version=version).first()
    if form is None:
        raise field_error(
            "version",
            f"no consent form version {version!r} in this trial",
            code="consent_form_unknown",
            version=version,
        )
    if status == "given" and form.valid_from > on:
        raise field_error(
            "version",
            f"form {version} is valid only from {form.valid_from}",
            code="consent_form_not_yet_valid",
            version=version,
            valid_from=form.valid_from.isoformat(),
        )
    events = history(participant)
    if any(e.status == "withdrawn" for e in events):
        raise Unprocessable(
            "consent was withdrawn; a withdrawal is final",
            code="consent_withdrawn",
            withdrawn_on=next(e.date for e in events if e.status == "withdrawn").isoformat(),
        )
    if events and events[-1].date > on:
        raise field_error(
            "date",
            f"lies before the last consent event ({events[-1].date})",
            code="consent_before_last_event",
            last=events[-1].date.isoformat(),
        )
    if status == "withdrawn" and not any(e.status == "given" for e in events):
        raise Unprocessable(
            "no consent was given, so there is none to withdraw",
            code="withdrawal_without_consent",
        )
    if trial.consent_design == "zelen" and status in ("given", "declined"):
        allocation = db.session.query(Allocation).filter_by(participant_id=participant.id)
        first = allocation.first()
        if first is None or first.arm != "fip":
            raise Unprocessable(
                "in a Zelen design consent is asked only of participants randomised to FIP",
                code="zelen_consent_only_fip",
            )


def _append(
    participant: Participant,
    *,
    status: str,
    version: str,
    on: date,
    actor: str,
    obtained_by: str | None,
    audit_extra: dict[str, object] | None = None,
) -> ConsentEvent:
    event = ConsentEvent(
        participant_id=participant.id,
        status=status,
        form_version=version,
        date=on,
        recorded_by=actor,
        obtained_by=obtained_by,
    )
    db.session.add(event)
    db.session.flush()
    cancelled = _cancel_conversations_after(participant.id, on) if status == "withdrawn" else 0
    data: dict[str, object] = {"event": event.id, "version": version, "date": on.isoformat()}
    if obtained_by:
        data["obtained_by"] = obtained_by
    if cancelled:
        data["conversations_cancelled"] = cancelled
    audit.record_for_participant(
        f"consent.{status}",
        participant,
        actor=actor,
        data={**data, **(audit_extra or {})},
    )
    return event


def _cancel_conversations_after(participant_id: int, on: date) -> int:
    """A withdrawal ends the conversations from its date on at once (not at the nightly run)."""
    return planning.cancel_open_conversations(
        PlannedConversation.participant_id == participant_id,
        PlannedConversation.planned_date >= on,
    )


def record(
    participant: Participant,
    *,
    status: str,
    version: str,
    on: date,
    actor: str,
    obtained_by: str | None = None,
) -> ConsentEvent:
    """Append a consent event after checking that it makes sense in the trial's design.

    A withdrawal needs consent given earlier and is final: the open conversations from its
    date on are cancelled in the same transaction.
    """
    with unit_of_work():
        # Serialise with allocation: a withdrawal must not slip past a running allocation.
        participant = locked_again(participant)
        _check(participant, status=status, version=version, on=on)
        return _append(
            participant, status=status, version=version, on=on, actor=actor, obtained_by=obtained_by
        )


@dataclass(frozen=True)
class BulkRefusal:
    """One participant of a bulk recording that could not be recorded, and why."""

    participant_id: int
    error: Unprocessable


class BulkConsentRefused(Unprocessable):
    """Not one event of a bulk recording is stored when any of them is refused."""

    code = "bulk_consent_refused"

    def __init__(self, refusals: list[BulkRefusal]) -> None:
        super().__init__(
            f"consent could not be recorded for {len(refusals)} participant(s); nothing stored",
            refused=[r.participant_id for r in refusals],
        )
        self.refusals = refusals


def record_many(
    site: Site,
    participant_ids: list[int],
    *,
    version: str,
    on: date,
    actor: str,
    obtained_by: str | None = None,
) -> list[ConsentEvent]:
    """Record paper consent forms ("given") for a list of the site's participants at once.

    Each participant gets an event and an audit entry of their own, exactly as one by one;
    the list is one transaction, so either every event is stored or, when any is refused
    (:class:`BulkConsentRefused` lists which and why), none.
    """
    ids = sorted(set(participant_ids))
    if not ids:
        raise field_error("participants", "choose at least one participant", code="none_chosen")
    with unit_of_work():
        people = (
            locked(db.session.query(Participant).filter(Participant.id.in_(ids)))
            .order_by(Participant.id)
            .all()
        )
        found = {p.id: p for p in people if p.site_id == site.id}
        refusals = [
            BulkRefusal(pid, Unprocessable("not a participant of this site", code="not_found"))
            for pid in ids
            if pid not in found
        ]
        for pid, person in found.items():
            try:
                _check(person, status="given", version=version, on=on)
            except Unprocessable as error:
                refusals.append(BulkRefusal(pid, error))
        if refusals:
            raise BulkConsentRefused(sorted(refusals, key=lambda r: r.participant_id))
        return [
            _append(
                found[pid],
                status="given",
                version=version,
                on=on,
                actor=actor,
                obtained_by=obtained_by,
                audit_extra={"bulk": len(ids)},
            )
            for pid in ids
        ]


def awaiting_consent(site: Site) -> list[Participant]:
    """Eligible, not yet allocated participants of a consent-first trial without valid consent:
    no consent event yet, or consent given on a form that now requires re-consent."""
    if site.trial.consent_design != "consent_first":
        return []
    candidates = unallocated_eligible(site)
    latest = _latest_events([p.id for p in candidates])
    forms: dict[int, list[ConsentForm]] = {}
    waiting = []
    for participant in candidates:
        event = latest.get(participant.id)
        if event is None or _state([event], participant.trial_id, None, forms).needs_reconsent:
            waiting.append(participant)
    return waiting


def _latest_events(participant_ids: list[int]) -> dict[int, ConsentEvent]:
    latest: dict[int, ConsentEvent] = {}
    for start in range(0, len(participant_ids), 1000):
        chunk = participant_ids[start : start + 1000]
        for event in (
            db.session.query(ConsentEvent)
            .filter(ConsentEvent.participant_id.in_(chunk))
            .order_by(ConsentEvent.id)
        ):
            latest[event.participant_id] = event
    return latest
