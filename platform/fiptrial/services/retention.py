"""Retention: each trial keeps each kind of data for a fixed time after its last follow-up.

A trial's :class:`~fiptrial.models.RetentionSchedule` says, per kind, how many months after
the last follow-up it is kept (:data:`ITEMS`); :func:`run` (``fiptrial retention run`` and the
nightly ``retention`` job) deletes what is due, in one transaction per trial, and records the
counts in the audit chain and in :class:`~fiptrial.models.RetentionRun`.

What is deleted, and why that never touches what a freeze or the analysis needs:

* ``free_text``: the site-only free text of the conversations (notes, agreement texts, the
  provider of an intervention, correction reasons and the texts a correction kept). Columns
  marked ``site_only`` never enter an export or a freeze; the structured facts (dates,
  statuses, domains) stay.
* ``import_files``: uploaded files still spooled (failed or interrupted imports) and the file
  names people gave them. The batches (hash, plugin, mapping version) stay: every outcome
  event points at its batch.
* ``import_reports``: the line-by-line details of import reports (rejected lines, unmapped
  codes); the counts stay.
* ``read_log``: the trial's read-log entries (``services.readlog``: the database allows this
  deletion only once the cut-off has been moved past them).
* ``pseudonym_key``: the link from a BSN to a participant. The per-trial key is derived from
  the platform key and never stored, so "destroying" it means: every stored keyed hash of the
  trial (pseudonyms, benefit-unit keys) is replaced by a random token (one-to-one, so
  duplicates and units stay what they were), the sites' client numbers are erased, and from
  then on nothing can be registered, imported or looked up by BSN in the trial. Freezes hold
  no pseudonym (the analysis export uses the participant number).

Participants, consent events, allocations, outcome events, freezes and the audit chain are
never deleted: they are the trial's evidence. Withdrawal of consent deletes nothing either:
what was lawfully collected before it stays (and nothing is collected after it).
"""

from __future__ import annotations

import secrets
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from dateutil.relativedelta import relativedelta
from flask import current_app
from sqlalchemy import func, update

from fiptrial.errors import Conflict, field_error
from fiptrial.extensions import db
from fiptrial.models import (
    ConversationCorrection,
    ImportBatch,
    ImportTask,
    Participant,
    PseudonymKeyDestruction,
    RetentionRun,
    RetentionSchedule,
    Site,
    Trial,
)
from fiptrial.models.conversations import free_text_columns
from fiptrial.models.privacy import RETENTION_ITEMS
from fiptrial.services import audit, readlog
from fiptrial.services.transaction import rows_changed, unit_of_work
from fiptrial.timezone import local_today

ITEMS = RETENTION_ITEMS
ITEM_DESCRIPTIONS = {
    "free_text": "free text of conversations (notes, agreements, providers, correction texts)",
    "import_files": "uploaded export files still spooled, and their file names",
    "import_reports": "line-by-line details of import reports (the counts stay)",
    "read_log": "the trial's read-log entries",
    "pseudonym_key": "the link from BSN to participant (pseudonyms, unit keys, client numbers)",
}
DEFAULT_MONTHS = {
    "free_text": 0,
    "import_files": 0,
    "import_reports": 12,
    "read_log": 60,
    "pseudonym_key": 6,
}
MAX_MONTHS = 12 * 30
#: The parts of a correction's ``before`` snapshot that are free text.
FREE_TEXT_KEYS = ("notes", "agreements", "interventions_started", "reason_text")


class KeyDestroyed(Conflict):
    """The trial's pseudonym key was destroyed by the retention schedule."""

    code = "pseudonym_key_destroyed"


def schedule_of(trial: Trial) -> dict[str, int | None]:
    """Months after the last follow-up, per item (the defaults when none was set)."""
    row = db.session.get(RetentionSchedule, trial.id)
    if row is None:
        return dict(DEFAULT_MONTHS)
    return {item: getattr(row, f"{item}_months") for item in ITEMS}


def set_schedule(trial: Trial, months: dict[str, int | None], *, actor: str) -> dict[str, Any]:
    """Change a trial's schedule (422 naming the item; audited)."""
    for item, value in months.items():
        if item not in ITEMS:
            raise field_error(item, f"is not a retention item ({', '.join(ITEMS)})")
        if value is not None and not 0 <= value <= MAX_MONTHS:
            raise field_error(item, f"must be between 0 and {MAX_MONTHS} months, or empty")
    with unit_of_work():
        row = db.session.get(RetentionSchedule, trial.id)
        if row is None:
            row = RetentionSchedule(
                trial_id=trial.id, **{f"{k}_months": v for k, v in DEFAULT_MONTHS.items()}
            )
            db.session.add(row)
        for item, value in months.items():
            setattr(row, f"{item}_months", value)
        row.updated_by = actor
        row.updated_at = datetime.now(UTC)
        db.session.flush()
        new = {item: getattr(row, f"{item}_months") for item in ITEMS}
        audit.record(
            "retention.schedule_set", actor=actor, entity="trial", entity_id=trial.code, data=new
        )
    return new


def last_followup(trial: Trial) -> date | None:
    """The last day of follow-up: the trial's start or its latest registration, plus the
    follow-up years (None while the trial has neither: then nothing is ever due)."""
    latest = (
        db.session.query(func.max(Participant.registered_on))
        .filter(Participant.trial_id == trial.id)
        .scalar()
    )
    starts = [d for d in (trial.start_date, latest) if d is not None]
    if not starts:
        return None
    return max(starts) + relativedelta(years=trial.followup_years)


@dataclass(frozen=True)
class Due:
    item: str
    due_on: date | None  # None: kept while the trial exists

    def is_due(self, today: date) -> bool:
        return self.due_on is not None and self.due_on <= today


def due_dates(trial: Trial) -> list[Due]:
    end = last_followup(trial)
    months = schedule_of(trial)
    return [
        Due(
            item,
            None
            if end is None or months[item] is None
            else end + relativedelta(months=months[item]),
        )
        for item in ITEMS
    ]


def key_destroyed(trial_id: int) -> bool:
    return db.session.get(PseudonymKeyDestruction, trial_id) is not None


def ensure_key_available_for(trial_code: str) -> None:
    """Refuse any use of the BSN in a trial whose pseudonym key was destroyed (409); no-op for
    an unknown trial."""
    destroyed = (
        db.session.query(PseudonymKeyDestruction.trial_id)
        .join(Trial, Trial.id == PseudonymKeyDestruction.trial_id)
        .filter(Trial.code == trial_code)
        .first()
    )
    if destroyed is not None:
        raise KeyDestroyed(
            f"the pseudonym key of trial {trial_code} was destroyed after its follow-up ended: "
            "no BSN can be linked to it any more"
        )


# --- What each item deletes (in the caller's transaction; each returns a count) ---------------


def _site_ids(trial: Trial) -> list[int]:
    return [site_id for (site_id,) in db.session.query(Site.id).filter_by(trial_id=trial.id)]


def _participants_of(trial: Trial) -> Any:
    return db.session.query(Participant.id).filter(Participant.trial_id == trial.id)


def delete_free_text(trial: Trial) -> int:
    """Empty the trial's free text: every column marked ``FREE_TEXT`` in the models, and the
    free-text parts of the correction snapshots. Returns the number of rows changed."""
    people = _participants_of(trial).scalar_subquery()
    count = 0
    for column in free_text_columns():
        table = column.table
        count += rows_changed(
            update(table)
            .where(table.c.participant_id.in_(people), column.is_not(None), column != "")
            .values({column.name: None if column.nullable else ""})
        )
    for correction in db.session.query(ConversationCorrection).filter(
        ConversationCorrection.participant_id.in_(people)
    ):
        before = dict(correction.before or {})
        if any(key in before for key in FREE_TEXT_KEYS):
            correction.before = {k: v for k, v in before.items() if k not in FREE_TEXT_KEYS}
            count += 1
    return count


def delete_import_files(trial: Trial) -> int:
    # Not at the top: import_tasks reaches this module through imports and pseudonyms (the
    # one cycle the acyclic contract in .importlinter ignores).
    from fiptrial.services.import_tasks import upload_folder

    count = 0
    folder = upload_folder()
    for task in db.session.query(ImportTask).filter(
        ImportTask.site_id.in_(_site_ids(trial)), ImportTask.status.in_(("done", "failed"))
    ):
        path = folder / task.spool_name
        if path.exists():
            path.unlink()
            count += 1
        if task.filename:
            task.filename = ""
            count += 1
    return count


def delete_import_reports(trial: Trial) -> int:
    count = 0
    for batch in db.session.query(ImportBatch).filter(ImportBatch.site_id.in_(_site_ids(trial))):
        report = dict(batch.report or {})
        if report.get("details_deleted"):
            continue
        kept = {k: v for k, v in report.items() if isinstance(v, int | float | bool | str)}
        batch.report = {**kept, "details_deleted": True}
        count += 1
    return count


def delete_read_log(trial: Trial, due_on: date) -> int:
    before = datetime.combine(due_on, time(0), tzinfo=UTC)
    readlog.allow_purge_before(trial.id, before)
    return readlog.purge(trial.id, before)


def destroy_pseudonym_key(trial: Trial, *, actor: str) -> int:
    """Replace every keyed hash of the trial by a random token (one-to-one) and erase the
    sites' client numbers; mark the key destroyed."""
    if key_destroyed(trial.id):
        return 0
    units: dict[str, str] = {}
    count = 0
    for person in db.session.query(Participant).filter_by(trial_id=trial.id):
        person.pseudonym = "x" + secrets.token_hex(31)
        if person.unit_key is not None:
            person.unit_key = units.setdefault(person.unit_key, "x" + secrets.token_hex(31))
        person.client_number = None
        count += 1
    db.session.add(PseudonymKeyDestruction(trial_id=trial.id, actor=actor))
    return count


# --- The run ------------------------------------------------------------------------------------


def run_trial(
    trial: Trial, today: date, *, actor: str, dry_run: bool = False, own_transaction: bool = True
) -> dict[str, Any]:
    """Delete what is due for one trial; the counts, per item (``{}`` when nothing is due).

    Its own unit of work, unless ``own_transaction`` is false (a scheduled job's transaction)."""
    due = [d for d in due_dates(trial) if d.is_due(today)]
    if not due or dry_run:
        return {d.item: "due" for d in due}
    deleted: dict[str, Any] = {}
    with unit_of_work() if own_transaction else nullcontext():
        db.session.get(Trial, trial.id)  # the trial as it is now, under the write lock
        for item in due:
            if item.item == "free_text":
                count = delete_free_text(trial)
            elif item.item == "import_files":
                count = delete_import_files(trial)
            elif item.item == "import_reports":
                count = delete_import_reports(trial)
            elif item.item == "read_log":
                assert item.due_on is not None
                count = delete_read_log(trial, item.due_on)
            else:
                count = destroy_pseudonym_key(trial, actor=actor)
            if count:
                deleted[item.item] = count
        if deleted:
            db.session.add(RetentionRun(trial_id=trial.id, actor=actor, deleted=deleted))
            audit.record(
                "retention.deleted",
                actor=actor,
                entity="trial",
                entity_id=trial.code,
                data={"deleted": deleted, "today": today.isoformat()},
            )
    return deleted


def purge_platform_read_log(today: date, *, actor: str, own_transaction: bool = True) -> int:
    """Read-log entries of no trial (logins, pages of no trial) older than the platform's
    ``READ_LOG_KEEP_MONTHS`` (default 60); audited when any were deleted."""
    months = int(current_app.config.get("READ_LOG_KEEP_MONTHS", DEFAULT_MONTHS["read_log"]))
    before = datetime.combine(today - relativedelta(months=months), time(0), tzinfo=UTC)
    with unit_of_work() if own_transaction else nullcontext():
        readlog.allow_purge_before(None, before)
        count = readlog.purge(None, before)
        if count:
            audit.record(
                "retention.deleted",
                actor=actor,
                entity="read_log",
                entity_id="platform",
                data={"deleted": {"read_log": count}, "before": before.isoformat()},
            )
    return count


def run(
    today: date | None = None,
    *,
    actor: str,
    trial_code: str | None = None,
    dry_run: bool = False,
    own_transaction: bool = True,
) -> dict[str, dict[str, Any]]:
    """Every trial (or one): what was deleted (or, with ``dry_run``, what is due)."""
    today = today or local_today()
    trials = db.session.query(Trial).order_by(Trial.code)
    if trial_code:
        trials = trials.filter(Trial.code == trial_code)
    result = {}
    for trial in trials.all():
        result[trial.code] = run_trial(
            trial, today, actor=actor, dry_run=dry_run, own_transaction=own_transaction
        )
    if not trial_code and not dry_run:
        purged = purge_platform_read_log(today, actor=actor, own_transaction=own_transaction)
        if purged:
            result["(platform)"] = {"read_log": purged}
    current_app.logger.info("retention run %s: %s", today.isoformat(), result)
    return result
