"""Participants: pseudonymised from the first moment; the BSN itself is never stored."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fiptrial.extensions import db
from fiptrial.models.base import created_at_column
from fiptrial.models.trial import Site, Trial


class Participant(db.Model):  # type: ignore[name-defined]
    __tablename__ = "participant"
    __table_args__ = (
        UniqueConstraint("trial_id", "pseudonym"),
        Index("ix_participant_trial_id_unit_key", "trial_id", "unit_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey("trial.id"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"), index=True)
    # HMAC-SHA256 of the BSN under the trial's pseudonym key (hex); see services.pseudonyms.
    pseudonym: Mapped[str] = mapped_column(String(64))
    # The benefit unit (partners on one benefit): HMAC-SHA256 of the benefit's registration
    # number (BUS kenmerk 7) under the trial's key, or NULL for a unit of one. See
    # services.pseudonyms.unit_pseudonymiser; allocation gives a unit one arm
    # (services.randomisation, section "Benefit units").
    unit_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    birth_date: Mapped[date] = mapped_column(Date)
    sex: Mapped[str] = mapped_column(String(10))
    benefit_start: Mapped[date] = mapped_column(Date)
    municipality: Mapped[str | None] = mapped_column(String(6), nullable=True)
    education: Mapped[str | None] = mapped_column(String(30), nullable=True)
    country_of_birth_region: Mapped[str | None] = mapped_column(String(30), nullable=True)
    registered_on: Mapped[date] = mapped_column(Date)
    age_band: Mapped[str] = mapped_column(String(20))
    benefit_duration_band: Mapped[str] = mapped_column(String(20))
    stratum: Mapped[str] = mapped_column(String(200), index=True)
    eligible: Mapped[bool] = mapped_column(Boolean)
    ineligible_reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    pension_age_date: Mapped[date] = mapped_column(Date)
    registered_by: Mapped[str] = mapped_column(String(80))
    # The site's own registration number of the client (from its export, when the plugin
    # supplies one): shown to site staff next to the study number, never in pooled exports.
    client_number: Mapped[str | None] = mapped_column(
        String(40), nullable=True, info={"site_only": True}
    )
    created_at: Mapped[datetime] = created_at_column()

    trial: Mapped[Trial] = relationship()
    site: Mapped[Site] = relationship()
