"""Allocation state. The rules that fill these tables live in ``services.randomisation``.

``StratumState`` is the single row per stratum that every allocation in that stratum locks: it
holds the next sequence number and the position in the current block, so an allocation costs
the same whether the stratum has ten or a hundred thousand earlier allocations.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fiptrial.extensions import db
from fiptrial.models.base import created_at_column
from fiptrial.models.participant import Participant


class RandomisationBlock(db.Model):  # type: ignore[name-defined]
    """A permuted block, derived from ``seed`` so that an auditor can re-derive it."""

    __tablename__ = "randomisation_block"
    __table_args__ = (UniqueConstraint("trial_id", "stratum", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey("trial.id"), index=True)
    stratum: Mapped[str] = mapped_column(String(200))
    number: Mapped[int] = mapped_column(Integer)
    seed: Mapped[str] = mapped_column(String(64))
    ratios: Mapped[dict[str, int]] = mapped_column(JSON)
    multipliers: Mapped[list[int]] = mapped_column(JSON)
    arms: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = created_at_column()


class StratumState(db.Model):  # type: ignore[name-defined]
    __tablename__ = "stratum_state"
    __table_args__ = (UniqueConstraint("trial_id", "stratum"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey("trial.id"), index=True)
    stratum: Mapped[str] = mapped_column(String(200))
    allocated: Mapped[int] = mapped_column(Integer, default=0)
    block_count: Mapped[int] = mapped_column(Integer, default=0)
    block_id: Mapped[int | None] = mapped_column(
        ForeignKey("randomisation_block.id"), nullable=True
    )
    block_position: Mapped[int] = mapped_column(Integer, default=0)

    block: Mapped[RandomisationBlock | None] = relationship()


class MinimisationCount(db.Model):  # type: ignore[name-defined]
    """Marginal counts per factor level and arm, kept current so minimisation never scans."""

    __tablename__ = "minimisation_count"
    __table_args__ = (UniqueConstraint("trial_id", "factor", "level", "arm"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey("trial.id"), index=True)
    factor: Mapped[str] = mapped_column(String(40))
    level: Mapped[str] = mapped_column(String(80))
    arm: Mapped[str] = mapped_column(String(30))
    count: Mapped[int] = mapped_column(Integer, default=0)


class CohortRandomisation(db.Model):  # type: ignore[name-defined]
    """One cohort allocation of a site's caseload, with the seed that reproduces it."""

    __tablename__ = "cohort_randomisation"

    id: Mapped[int] = mapped_column(primary_key=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey("trial.id"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"), index=True)
    fip: Mapped[int] = mapped_column(Integer)
    caseload: Mapped[int] = mapped_column(Integer)
    seed: Mapped[str] = mapped_column(String(64))
    per_stratum: Mapped[dict[str, Any]] = mapped_column(JSON)
    performed_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = created_at_column()


class Allocation(db.Model):  # type: ignore[name-defined]
    __tablename__ = "allocation"

    id: Mapped[int] = mapped_column(primary_key=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey("trial.id"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"), index=True)
    # Unique: a participant is allocated exactly once, whatever races the requests run.
    participant_id: Mapped[int] = mapped_column(ForeignKey("participant.id"), unique=True)
    arm: Mapped[str] = mapped_column(String(30))
    stratum: Mapped[str] = mapped_column(String(200))
    sequence: Mapped[int] = mapped_column(Integer)
    method: Mapped[str] = mapped_column(String(30))
    block_id: Mapped[int | None] = mapped_column(
        ForeignKey("randomisation_block.id"), nullable=True
    )
    block_position: Mapped[int | None] = mapped_column(Integer, nullable=True)
    cohort_id: Mapped[int | None] = mapped_column(
        ForeignKey("cohort_randomisation.id"), nullable=True
    )
    # A partner allocated with the benefit unit: the allocation of the unit's first allocated
    # member, whose arm this one takes without a draw (method "unit"). NULL otherwise.
    unit_allocation_id: Mapped[int | None] = mapped_column(
        ForeignKey("allocation.id"), nullable=True, index=True
    )
    # What an auditor needs to re-verify this allocation (random draws, scores, seeds).
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(30), default="active")
    allocated_by: Mapped[str] = mapped_column(String(80))
    allocated_at: Mapped[datetime] = created_at_column()

    participant: Mapped[Participant] = relationship()
    unit_allocation: Mapped[Allocation | None] = relationship(remote_side=[id])
    corrections: Mapped[list[AllocationCorrection]] = relationship(
        back_populates="allocation", order_by="AllocationCorrection.id"
    )


class AllocationCorrection(db.Model):  # type: ignore[name-defined]
    """A research admin's correction: the allocation stays, marked, with the reason why."""

    __tablename__ = "allocation_correction"

    id: Mapped[int] = mapped_column(primary_key=True)
    allocation_id: Mapped[int] = mapped_column(ForeignKey("allocation.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(Text)
    corrected_by: Mapped[str] = mapped_column(String(80))
    corrected_at: Mapped[datetime] = created_at_column()

    allocation: Mapped[Allocation] = relationship(back_populates="corrections")
