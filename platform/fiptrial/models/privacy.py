"""What a municipality's data protection officer (FG) asks of the platform.

* The **read log** (:class:`ReadLogEntry`, :class:`ReadLogSubject`): every view of a
  participant's record, a conversation, a list page, an export or a report, and every login
  and failed login: who, when, what, and which participants or which query. Like the audit
  trail it is append-only in the database itself (triggers in migration 0016_privacy); unlike
  the audit trail it records reads, not changes, so it is a table of its own. The only rows
  that may ever be deleted are those older than the cut-off of :class:`ReadLogPurge`, which
  the retention run moves forward (and records in the audit chain).
* The per-trial **retention schedule** (:class:`RetentionSchedule`) and what the retention run
  deleted (:class:`RetentionRun`).
* **Two-factor sign-in** (:class:`UserTotp`, :class:`RecoveryCode`).
* **Export approvals** for the analyst role (:class:`ExportApproval`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from fiptrial.extensions import db
from fiptrial.models.base import UTCDateTime, created_at_column, utcnow


class ReadLogEntry(db.Model):  # type: ignore[name-defined]
    """One request that showed personal data, or one login attempt."""

    __tablename__ = "read_log_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    recorded_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, nullable=False, index=True
    )
    actor: Mapped[str] = mapped_column(String(80), index=True)  # user:NAME or token:PREFIX
    role: Mapped[str] = mapped_column(String(30), default="")
    # What was read: participant.view, participant.list, conversation.view, export, report,
    # login, login.failed, ...
    action: Mapped[str] = mapped_column(String(60), index=True)
    channel: Mapped[str] = mapped_column(String(10))  # web, api, cli
    endpoint: Mapped[str] = mapped_column(String(120), default="")
    path: Mapped[str] = mapped_column(String(500), default="")
    # The query as asked: the request's parameters with every run of 8 or more digits (a BSN
    # typed into a search box) replaced, so the log itself never holds a BSN.
    query: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[int] = mapped_column(Integer, default=200)
    trial_id: Mapped[int | None] = mapped_column(ForeignKey("trial.id"), nullable=True, index=True)
    site: Mapped[str | None] = mapped_column(String(40), nullable=True)
    participants: Mapped[int] = mapped_column(Integer, default=0)  # how many were shown
    remote_addr: Mapped[str] = mapped_column(String(64), default="")


class ReadLogSubject(db.Model):  # type: ignore[name-defined]
    """A participant shown by one read: the FG's question "who looked at this client?"."""

    __tablename__ = "read_log_subject"

    entry_id: Mapped[int] = mapped_column(ForeignKey("read_log_entry.id"), primary_key=True)
    participant_id: Mapped[int] = mapped_column(Integer, primary_key=True, index=True)


class ReadLogPurge(db.Model):  # type: ignore[name-defined]
    """Per trial (NULL: entries of no trial, such as logins), the moment before which the
    retention run may delete read-log entries. The triggers refuse every other deletion."""

    __tablename__ = "read_log_purge"
    __table_args__ = (UniqueConstraint("trial_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    trial_key: Mapped[int] = mapped_column(Integer)  # the trial's id, 0 for entries of no trial
    purge_before: Mapped[datetime] = mapped_column(UTCDateTime())


RETENTION_ITEMS = ("free_text", "import_files", "import_reports", "read_log", "pseudonym_key")


class RetentionSchedule(db.Model):  # type: ignore[name-defined]
    """How long after the trial's last follow-up each kind of data is kept, in months.

    The last follow-up of a trial is the latest registration plus its follow-up years (see
    ``services.retention``). NULL months: kept for as long as the trial exists.
    """

    __tablename__ = "retention_schedule"

    trial_id: Mapped[int] = mapped_column(ForeignKey("trial.id"), primary_key=True)
    free_text_months: Mapped[int | None] = mapped_column(Integer, nullable=True, default=0)
    import_files_months: Mapped[int | None] = mapped_column(Integer, nullable=True, default=0)
    import_reports_months: Mapped[int | None] = mapped_column(Integer, nullable=True, default=12)
    read_log_months: Mapped[int | None] = mapped_column(Integer, nullable=True, default=60)
    pseudonym_key_months: Mapped[int | None] = mapped_column(Integer, nullable=True, default=6)
    updated_by: Mapped[str] = mapped_column(String(80), default="")
    updated_at: Mapped[datetime] = created_at_column()


class RetentionRun(db.Model):  # type: ignore[name-defined]
    """What one retention run deleted for one trial (the same counts go into the audit chain)."""

    __tablename__ = "retention_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey("trial.id"), index=True)
    ran_at: Mapped[datetime] = created_at_column()
    actor: Mapped[str] = mapped_column(String(80))
    deleted: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class PseudonymKeyDestruction(db.Model):  # type: ignore[name-defined]
    """The trial's pseudonym key was destroyed: no BSN can be linked to the trial any more."""

    __tablename__ = "pseudonym_key_destruction"

    trial_id: Mapped[int] = mapped_column(ForeignKey("trial.id"), primary_key=True)
    destroyed_at: Mapped[datetime] = created_at_column()
    actor: Mapped[str] = mapped_column(String(80))


class UserTotp(db.Model):  # type: ignore[name-defined]
    """A user's TOTP secret (RFC 6238). ``confirmed_at`` is set once a code from the
    authenticator app has been accepted: until then the enrolment is not in force."""

    __tablename__ = "user_totp"

    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), primary_key=True)
    secret: Mapped[str] = mapped_column(String(64))
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # The time step of the last accepted code: a code is accepted once (no replay).
    last_step: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = created_at_column()


class RecoveryCode(db.Model):  # type: ignore[name-defined]
    """A one-time recovery code; only its argon2 hash is kept."""

    __tablename__ = "recovery_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(200))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


EXPORT_APPROVAL_STATUSES = ("requested", "approved", "refused", "used")


class ExportApproval(db.Model):  # type: ignore[name-defined]
    """An analyst's request for an export and the research admin's decision on it."""

    __tablename__ = "export_approval"

    id: Mapped[int] = mapped_column(primary_key=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey("trial.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))  # analysis export, spells, ...
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    purpose: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="requested")
    requested_by: Mapped[str] = mapped_column(String(80))
    requested_at: Mapped[datetime] = created_at_column()
    decided_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class SourceKey(db.Model):  # type: ignore[name-defined]
    """A version of a site's key for pseudonymisation at the source (``services.source_keys``).

    The key itself is never stored: it is derived from the platform key, site and version.
    Only its fingerprint is kept, to compare at hand-over; a retired version is refused."""

    __tablename__ = "source_key"
    __table_args__ = (UniqueConstraint("site_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    fingerprint: Mapped[str] = mapped_column(String(16))
    issued_by: Mapped[str] = mapped_column(String(80))
    issued_at: Mapped[datetime] = created_at_column()
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
