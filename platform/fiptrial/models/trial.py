"""Trials, their arms and their sites."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fiptrial.extensions import db
from fiptrial.models.base import created_at_column

DEFAULT_AGE_BAND_EDGES = [18, 27, 35, 45, 55]
DEFAULT_DURATION_BAND_EDGES_MONTHS = [6, 12, 24, 60]
#: Days between the end of a benefit with BUS code 32 and a new benefit in another member
#: municipality within which the two are one spell (a move inside the site).
DEFAULT_MOVE_GAP_DAYS = 31
#: BUS statistiekcodes (kenmerk 8) of the benefit in the trial: 01 algemene bijstand.
DEFAULT_BENEFIT_STATISTIC_CODES = ["01"]


class Trial(db.Model):  # type: ignore[name-defined]
    """One randomised trial: its design is fixed before the first allocation."""

    __tablename__ = "trial"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    method: Mapped[str] = mapped_column(String(30), default="permuted_blocks")
    block_multipliers: Mapped[list[int]] = mapped_column(JSON, default=lambda: [1, 2])
    stratify_by: Mapped[list[str]] = mapped_column(
        JSON, default=lambda: ["site", "age_band", "benefit_duration_band"]
    )
    minimisation_probability: Mapped[float] = mapped_column(Float, default=0.8)
    consent_design: Mapped[str] = mapped_column(String(20), default="consent_first")
    followup_years: Mapped[int] = mapped_column(Integer, default=3)
    cost_per_benefit_year: Mapped[int] = mapped_column(Integer, default=14000)
    # FIP delivery (migration 0002_conversations): the plan each FIP client gets.
    conversations_per_year: Mapped[int] = mapped_column(Integer, default=4, server_default="4")
    intervention_years: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    conversations_per_day: Mapped[int] = mapped_column(Integer, default=3, server_default="3")
    first_conversation_minutes: Mapped[int] = mapped_column(
        Integer, default=60, server_default="60"
    )
    later_conversation_minutes: Mapped[int] = mapped_column(
        Integer, default=45, server_default="45"
    )
    # Minutes of a client manager's working day that conversations may take.
    working_day_minutes: Mapped[int] = mapped_column(Integer, default=180, server_default="180")
    age_band_edges: Mapped[list[int]] = mapped_column(
        JSON, default=lambda: list(DEFAULT_AGE_BAND_EDGES)
    )
    duration_band_edges_months: Mapped[list[int]] = mapped_column(
        JSON, default=lambda: list(DEFAULT_DURATION_BAND_EDGES_MONTHS)
    )
    start_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    # Benefit spells (migration 0008_spells): see services.spells.
    move_gap_days: Mapped[int] = mapped_column(
        Integer, default=DEFAULT_MOVE_GAP_DAYS, server_default=str(DEFAULT_MOVE_GAP_DAYS)
    )
    benefit_statistic_codes: Mapped[list[str]] = mapped_column(
        JSON, default=lambda: list(DEFAULT_BENEFIT_STATISTIC_CODES), server_default='["01"]'
    )
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = created_at_column()

    arms: Mapped[list[TrialArm]] = relationship(
        back_populates="trial", order_by="TrialArm.position", cascade="all, delete-orphan"
    )
    sites: Mapped[list[Site]] = relationship(back_populates="trial", order_by="Site.code")

    def ratios(self) -> dict[str, int]:
        return {arm.code: arm.ratio for arm in self.arms}


class TrialArm(db.Model):  # type: ignore[name-defined]
    __tablename__ = "trial_arm"
    __table_args__ = (UniqueConstraint("trial_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey("trial.id"), index=True)
    code: Mapped[str] = mapped_column(String(30))
    ratio: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer, default=0)

    trial: Mapped[Trial] = relationship(back_populates="arms")


class Site(db.Model):  # type: ignore[name-defined]
    """A municipality or inter-municipal service taking part in a trial through its plugin."""

    __tablename__ = "site"

    id: Mapped[int] = mapped_column(primary_key=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey("trial.id"), index=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    plugin: Mapped[str] = mapped_column(String(80))
    municipalities: Mapped[list[str]] = mapped_column(JSON, default=list)
    # A site may override the trial's ratio: its FIP capacity depends on its client managers.
    arm_ratios: Mapped[dict[str, int] | None] = mapped_column(JSON, nullable=True)
    closing_days: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = created_at_column()

    trial: Mapped[Trial] = relationship(back_populates="sites")

    def ratios(self) -> dict[str, int]:
        return dict(self.arm_ratios) if self.arm_ratios else self.trial.ratios()

    def describe(self) -> dict[str, Any]:
        return {"code": self.code, "name": self.name, "plugin": self.plugin}
