"""Consent forms and the append-only consent history of each participant."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from fiptrial.extensions import db
from fiptrial.models.base import created_at_column


class ConsentForm(db.Model):  # type: ignore[name-defined]
    __tablename__ = "consent_form"
    __table_args__ = (UniqueConstraint("trial_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey("trial.id"), index=True)
    version: Mapped[str] = mapped_column(String(40))
    valid_from: Mapped[date] = mapped_column(Date)
    requires_reconsent: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = created_at_column()


class ConsentEvent(db.Model):  # type: ignore[name-defined]
    """given, declined or withdrawn; never updated, a change is a new event."""

    __tablename__ = "consent_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participant.id"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    form_version: Mapped[str] = mapped_column(String(40))
    date: Mapped[date] = mapped_column(Date)
    recorded_by: Mapped[str] = mapped_column(String(80))
    # Who obtained the consent (a paper form collected by a client manager), when not the
    # person recording it; "user:<name>" like ``recorded_by``.
    obtained_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    recorded_at: Mapped[datetime] = created_at_column()
