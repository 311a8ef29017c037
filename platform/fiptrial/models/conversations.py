"""FIP delivery: caseloads, conversation plans, conversation records, follow-up rounds, jobs.

The rules that fill these tables live in ``services.caseload``, ``services.planning``,
``services.conversations``, ``services.fidelity``, ``services.followup`` and
``fiptrial.scheduler``.

Free text (agreement text, notes, reasons typed by a client manager, provider names) stays at
the site. The one place that says so is the column's mark: :data:`FREE_TEXT` on typed text,
:data:`SITE_ONLY` on other site-only values (a correction's snapshot, a client number). A
pooled export leaves every marked column out, the privacy paperwork notes each one
(``services.privacy_docs``) and the retention schedule empties the free text
(:func:`free_text_columns`).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    Unicode,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fiptrial.extensions import db
from fiptrial.models.base import UTCDateTime, created_at_column
from fiptrial.models.participant import Participant

SITE_ONLY = {"site_only": True}
FREE_TEXT = {"site_only": True, "free_text": True}

PLANNED = "planned"
OVERDUE = "overdue"
HELD = "held"
MISSED = "missed"
CANCELLED = "cancelled"
OPEN_STATUSES = (PLANNED, OVERDUE)  # still to happen: the only ones a re-plan may move
PLAN_STATUSES = (PLANNED, OVERDUE, HELD, MISSED, CANCELLED)


class CaseloadAssignment(db.Model):  # type: ignore[name-defined]
    """One period in which a client manager is a participant's fixed client manager.

    A reassignment closes the current row (``ended_on``) and adds a new one with its reason;
    no row is ever deleted or given another client manager, so the history stays complete.
    """

    __tablename__ = "caseload_assignment"
    __table_args__ = (
        # At most one current assignment per participant, enforced by the database.
        Index(
            "uq_caseload_assignment_current",
            "participant_id",
            unique=True,
            sqlite_where=db.text("ended_on IS NULL"),
            postgresql_where=db.text("ended_on IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participant.id"), index=True)
    client_manager_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"), index=True)
    assigned_on: Mapped[date] = mapped_column(Date)
    ended_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    # A code ("initial", "leave", "workload", "client_request", "manager_left", "other") ...
    reason: Mapped[str] = mapped_column(String(40), default="initial")
    # ... and the client manager's own words, which never leave the site.
    reason_text: Mapped[str | None] = mapped_column(Text, nullable=True, info=FREE_TEXT)
    assigned_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = created_at_column()


class ConversationPlan(db.Model):  # type: ignore[name-defined]
    """A participant's intervention period and the plan parameters it was made with."""

    __tablename__ = "conversation_plan"

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participant.id"), unique=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"), index=True)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)  # exclusive
    conversations_per_year: Mapped[int] = mapped_column(Integer)
    intervention_years: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = created_at_column()


class PlannedConversation(db.Model):  # type: ignore[name-defined]
    """One conversation in a participant's plan; its status follows what happened."""

    __tablename__ = "planned_conversation"
    __table_args__ = (
        UniqueConstraint("participant_id", "sequence"),
        Index("ix_planned_conversation_manager_date", "client_manager_id", "planned_date"),
        Index("ix_planned_conversation_site_status", "site_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participant.id"))
    client_manager_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"))
    sequence: Mapped[int] = mapped_column(Integer)
    planned_date: Mapped[date] = mapped_column(Date)
    first_planned_date: Mapped[date] = mapped_column(Date)
    minutes: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default=PLANNED)
    # "HH:MM" when the time was set (a move, or a day whose times were fixed); otherwise the
    # agenda shows the day's next free time slot (services.timeslots).
    start_time: Mapped[str | None] = mapped_column(String(5), nullable=True)
    record_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversation_record.id"), nullable=True
    )
    replanned_count: Mapped[int] = mapped_column(Integer, default=0)

    participant: Mapped[Participant] = relationship(viewonly=True)


class ConversationRecord(db.Model):  # type: ignore[name-defined]
    """What a client manager records after a conversation (held) or about one that failed."""

    __tablename__ = "conversation_record"

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participant.id"), index=True)
    client_manager_id: Mapped[int | None] = mapped_column(
        ForeignKey("app_user.id"), nullable=True, index=True
    )
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"), index=True)
    planned_conversation_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    held_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20))  # held | missed
    duration_minutes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    missed_reason: Mapped[str | None] = mapped_column(String(40), nullable=True)
    notes: Mapped[str | None] = mapped_column(Text, nullable=True, info=FREE_TEXT)
    recorded_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = created_at_column()

    domains: Mapped[list[ConversationDomain]] = relationship(
        order_by="ConversationDomain.domain", cascade="all, delete-orphan"
    )
    agreements: Mapped[list[Agreement]] = relationship(
        foreign_keys="Agreement.record_id", order_by="Agreement.id"
    )


class ConversationDomain(db.Model):  # type: ignore[name-defined]
    """A life domain (life_domains.csv) discussed in a conversation, and whether it moved."""

    __tablename__ = "conversation_domain"
    __table_args__ = (UniqueConstraint("record_id", "domain"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("conversation_record.id"), index=True)
    domain: Mapped[str] = mapped_column(String(30))
    moved_forward: Mapped[bool | None] = mapped_column(Boolean, nullable=True)


class Agreement(db.Model):  # type: ignore[name-defined]
    """An agreement made in a conversation, followed up (kept or not) in a later one."""

    __tablename__ = "agreement"

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participant.id"), index=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("conversation_record.id"), index=True)
    description: Mapped[str] = mapped_column(Text, info=FREE_TEXT)
    responsible: Mapped[str] = mapped_column(String(20))  # client | client_manager | other
    due_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    followup_record_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversation_record.id"), nullable=True
    )
    kept: Mapped[bool | None] = mapped_column(Boolean, nullable=True)


class Intervention(db.Model):  # type: ignore[name-defined]
    """A big or small intervention (intervention_types.csv) started for a participant."""

    __tablename__ = "intervention"

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participant.id"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"), index=True)
    type: Mapped[str] = mapped_column(String(40))
    provider: Mapped[str | None] = mapped_column(String(200), nullable=True, info=FREE_TEXT)
    started_on: Mapped[date] = mapped_column(Date)
    ended_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    started_record_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversation_record.id"), nullable=True
    )
    ended_record_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversation_record.id"), nullable=True
    )


class ConversationCorrection(db.Model):  # type: ignore[name-defined]
    """A correction or deletion of a conversation record: why, by whom, and what it said.

    ``record_id`` is a plain number, not a foreign key: a deleted record is gone, its
    correction stays. ``before`` holds the record's notes and agreement texts, so it is
    site-only like them; the audit trail has the reason code and which fields changed.
    """

    __tablename__ = "conversation_correction"

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(Integer, index=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participant.id"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"), index=True)
    action: Mapped[str] = mapped_column(String(20))  # corrected | deleted
    reason: Mapped[str] = mapped_column(String(40))
    reason_text: Mapped[str | None] = mapped_column(Text, nullable=True, info=FREE_TEXT)
    before: Mapped[dict[str, Any]] = mapped_column(JSON, info=SITE_ONLY)
    corrected_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = created_at_column()


class FollowupRound(db.Model):  # type: ignore[name-defined]
    """One round of outcome collection at a site: the export for ``period`` is due."""

    __tablename__ = "followup_round"
    __table_args__ = (UniqueConstraint("site_id", "period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"), index=True)
    period: Mapped[str] = mapped_column(String(7))  # "YYYY-MM"
    opened_on: Mapped[date] = mapped_column(Date)
    deadline: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default="open")  # open|received|late
    export_received_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    batch_id: Mapped[str | None] = mapped_column(String(80), nullable=True)
    flagged_on: Mapped[date | None] = mapped_column(Date, nullable=True)


class Notification(db.Model):  # type: ignore[name-defined]
    """A message the platform shows a user (or a site's coordinators when user_id is None).

    ``key`` makes each notification unique, so a job that runs twice stores it once.
    """

    __tablename__ = "notification"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(40), index=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("app_user.id"), nullable=True, index=True
    )
    site_id: Mapped[int | None] = mapped_column(ForeignKey("site.id"), nullable=True, index=True)
    title: Mapped[str] = mapped_column(String(200))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = created_at_column()
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class JobRun(db.Model):  # type: ignore[name-defined]
    """One run of a scheduled job: written as "running" first, then closed with its outcome.

    A run left "running" by a killed scheduler is marked "interrupted" at the next start; its
    work was one transaction, so it was rolled back as a whole.
    """

    __tablename__ = "job_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[str] = mapped_column(String(120), index=True)
    # The period the run covers ("2026-11-24", "2026-W48"): a job succeeds once per key.
    run_key: Mapped[str] = mapped_column(String(80), default="")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    outcome: Mapped[str] = mapped_column(String(20), default="running")
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    message: Mapped[str | None] = mapped_column(Text, nullable=True)
    host: Mapped[str] = mapped_column(String(200), default="")


class SchedulerLock(db.Model):  # type: ignore[name-defined]
    """The lock row that keeps a second scheduler idle on SQLite (PostgreSQL: advisory lock)."""

    __tablename__ = "scheduler_lock"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime())


# APScheduler's SQLAlchemyJobStore table, in APScheduler 3's own layout. Declared here so that
# the migration creates it and autogenerate knows it; only APScheduler reads and writes it.
apscheduler_jobs = Table(
    "apscheduler_jobs",
    db.metadata,
    Column("id", Unicode(191), primary_key=True),
    Column("next_run_time", Float(25), index=True),
    Column("job_state", LargeBinary, nullable=False),
)


def free_text_columns() -> list[Column[Any]]:
    """The columns of typed free text (marked :data:`FREE_TEXT`), each in a table with a
    ``participant_id``: what the retention schedule empties."""
    return [
        column
        for table in db.metadata.sorted_tables
        for column in table.columns
        if column.info.get("free_text")
    ]
