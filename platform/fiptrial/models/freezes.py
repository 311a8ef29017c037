"""Data freezes: immutable, hashed snapshots of the analysis export and the report run on it.

A published figure must be reproducible years later, whatever was imported or corrected since,
so a freeze keeps the export's exact bytes with the report computed from them, the SHA-256 of
both, the analysis package version and the inputs the report took (cost per benefit-year and
the CONSORT sidecar). Like the audit trail, the table refuses UPDATE and DELETE in the
database itself (triggers in migration 0004_freezes).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, Float, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fiptrial.extensions import db
from fiptrial.models.base import created_at_column
from fiptrial.models.trial import Trial


class DataFreeze(db.Model):  # type: ignore[name-defined]
    __tablename__ = "data_freeze"

    id: Mapped[int] = mapped_column(primary_key=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey("trial.id"), index=True)
    cutoff: Mapped[date] = mapped_column(Date)
    participants: Mapped[int] = mapped_column(Integer)
    # The export CSV exactly as written (UTF-8) and the canonical JSON of its report.
    export_csv: Mapped[bytes] = mapped_column(LargeBinary)
    export_sha256: Mapped[str] = mapped_column(String(64))
    # The spells file's CSV bytes and hash (migration 0008_spells; NULL on earlier freezes).
    spells_csv: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    spells_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # The analysis plan the report followed (migration 0014_analysis_plan; NULL on earlier
    # freezes, whose report followed the default plan of their analysis version).
    plan_json: Mapped[str | None] = mapped_column(Text, nullable=True)
    plan_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    report_json: Mapped[str] = mapped_column(Text)
    report_sha256: Mapped[str] = mapped_column(String(64))
    # The report's other inputs, so that verify_freeze can re-run it exactly.
    consort_json: Mapped[str] = mapped_column(Text)
    cost_per_benefit_year: Mapped[float] = mapped_column(Float)
    analysis_version: Mapped[str] = mapped_column(String(40))
    platform_version: Mapped[str] = mapped_column(String(40))
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = created_at_column()

    trial: Mapped[Trial] = relationship()
