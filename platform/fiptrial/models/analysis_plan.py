"""The analysis plan of a trial, one row per version (migration 0014_analysis_plan).

The plan itself is the JSON of :class:`fiptrial_analysis.plan.AnalysisPlan` (estimand, horizons,
sustained-exit rule, the class of every BUS end code, costs of FIP); the platform only keeps its
history: who wrote each version, its SHA-256, when it was frozen (after which no new version is
accepted) and when the first unblinded report was run on it, so that a report can say loudly
that the plan changed after the results were seen.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fiptrial.extensions import db
from fiptrial.models.base import UTCDateTime, created_at_column
from fiptrial.models.trial import Trial


class AnalysisPlanVersion(db.Model):  # type: ignore[name-defined]
    __tablename__ = "analysis_plan"
    __table_args__ = (UniqueConstraint("trial_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey("trial.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    plan_json: Mapped[str] = mapped_column(Text)  # canonical JSON, exactly what is hashed
    plan_sha256: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = created_at_column()
    frozen_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    frozen_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    first_report_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    trial: Mapped[Trial] = relationship()
