"""Consent: form versions per trial and the append-only history of each participant.

Two designs. ``consent_first``: consent ``given`` is required before allocation. ``zelen``:
randomise first and ask consent only in the FIP arm; refusals stay in the intention-to-treat
analysis. A withdrawal stops all data collection after its date and is final; what was
lawfully collected before it stays.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from fiptrial.errors import Unprocessable, field_error
from fiptrial.extensions import db
from fiptrial.models import Allocation, ConsentEvent, ConsentForm, Participant, Trial
from fiptrial.services import audit
from fiptrial.services.transaction import locked, unit_of_work

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
            raise field_error("version", f"consent form version {version!r} already exists")
        form = ConsentForm(
            trial_id=trial.id,
            version=version,
            valid_from=valid_from,
            requires_reconsent=requires_reconsent,
        )
        db.session.add(form)
        db.session.flush()
        audit.record(
            "consent_form.registered",
            actor=actor,
            entity="consent_form",
            entity_id=form.id,
            data={
                "trial": trial.code,
                "version": version,
                "valid_from": valid_from.isoformat(),
                "requires_reconsent": requires_reconsent,
            },
        )
    return form


def history(participant: Participant) -> list[ConsentEvent]:
    return (
        db.session.query(ConsentEvent)
        .filter_by(participant_id=participant.id)
        .order_by(ConsentEvent.id)
        .all()
    )


def current_state(participant: Participant, *, on: date | None = None) -> ConsentState:
    events = history(participant)
    withdrawn_on = next((e.date for e in events if e.status == "withdrawn"), None)
    if not events:
        return ConsentState(None, None, None, False, None)
    last = events[-1]
    needs = False
    if last.status == "given":
        needs = _reconsent_required(participant.trial_id, last.form_version, on or date.today())
    return ConsentState(last.status, last.form_version, last.date, needs, withdrawn_on)


def _reconsent_required(trial_id: int, version: str, on: date) -> bool:
    """True when a form valid on ``on`` that requires re-consent is newer than ``version``."""
    given = db.session.query(ConsentForm).filter_by(trial_id=trial_id, version=version).one()
    newer = (
        db.session.query(ConsentForm)
        .filter(
            ConsentForm.trial_id == trial_id,
            ConsentForm.requires_reconsent.is_(True),
            ConsentForm.valid_from <= on,
            ConsentForm.valid_from > given.valid_from,
        )
        .first()
    )
    return newer is not None


def withdrawal_date(participant_id: int) -> date | None:
    event = (
        db.session.query(ConsentEvent)
        .filter_by(participant_id=participant_id, status="withdrawn")
        .order_by(ConsentEvent.id)
        .first()
    )
    return event.date if event else None


def record(
    participant: Participant, *, status: str, version: str, on: date, actor: str
) -> ConsentEvent:
    """Append a consent event after checking that it makes sense in the trial's design."""
    with unit_of_work():
        # Serialise with allocation: a withdrawal must not slip past a running allocation.
        participant = locked(db.session.query(Participant).filter_by(id=participant.id)).one()
        trial = participant.trial
        if status not in CONSENT_STATUSES:
            raise field_error("status", f"must be one of {', '.join(CONSENT_STATUSES)}")
        if on > date.today():
            raise field_error("date", "lies in the future")
        form = db.session.query(ConsentForm).filter_by(trial_id=trial.id, version=version).first()
        if form is None:
            raise field_error("version", f"no consent form version {version!r} in this trial")
        if status == "given" and form.valid_from > on:
            raise field_error("version", f"form {version} is valid only from {form.valid_from}")
        events = history(participant)
        if events and events[-1].date > on:
            raise field_error("date", f"lies before the last consent event ({events[-1].date})")
        if any(e.status == "withdrawn" for e in events):
            raise Unprocessable(
                "consent was withdrawn; a withdrawal is final", code="consent_withdrawn"
            )
        if trial.consent_design == "zelen" and status in ("given", "declined"):
            allocation = db.session.query(Allocation).filter_by(participant_id=participant.id)
            first = allocation.first()
            if first is None or first.arm != "fip":
                raise Unprocessable(
                    "in a Zelen design consent is asked only of participants randomised to FIP",
                    code="zelen_consent_only_fip",
                )
        event = ConsentEvent(
            participant_id=participant.id,
            status=status,
            form_version=version,
            date=on,
            recorded_by=actor,
        )
        db.session.add(event)
        db.session.flush()
        audit.record(
            f"consent.{status}",
            actor=actor,
            entity="participant",
            entity_id=participant.id,
            site=participant.site.code,
            data={"event": event.id, "version": version, "date": on.isoformat()},
        )
    return event
