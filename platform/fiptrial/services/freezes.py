"""Data freezes: the export and its report stored once, hashed, and never changed.

``freeze_trial`` builds the analysis export at a cut-off, runs the report on the export's own CSV
bytes (exactly as ``python -m fiptrial_analysis report`` would) and stores the participant file,
the spells file and the report with their SHA-256 in ``data_freeze``, which the database refuses
to UPDATE or DELETE. ``verify_freeze`` recomputes the hashes and re-runs the report on the
stored bytes: a published figure is reproducible when the stored report and the re-run agree.
Freezes made before the spells file existed (migration 0008_spells) have no spells file.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from fiptrial.extensions import db
from fiptrial.models import DataFreeze, Trial
from fiptrial.services import audit
from fiptrial.services.analysis_plans import mark_unblinded_report
from fiptrial.services.exports import (
    analysis_version,
    build_export,
    canonical_json,
    report_from_csv,
)
from fiptrial.services.moments import past_moment
from fiptrial.services.transaction import existing_row, unit_of_work
from fiptrial.version import __version__ as platform_version

#: Relative tolerance under which a re-run figure still counts as reproduced (floating point
#: summation order may differ between numpy builds; anything larger is a real difference).
REPRODUCE_RTOL = 1e-9


def sha256(data: bytes | str) -> str:
    return hashlib.sha256(data.encode("utf-8") if isinstance(data, str) else data).hexdigest()


def freeze_trial(
    trial: Trial,
    actor: str,
    cutoff: date | None = None,
    *,
    frozen_at: datetime | date | None = None,
) -> DataFreeze:
    """Store an immutable snapshot of ``trial``'s export at ``cutoff`` with its report.

    ``frozen_at`` dates a freeze made earlier than it is entered (the demo's yearly freezes):
    not in the future and not before the cut-off (:mod:`fiptrial.services.moments`).

    Raises:
        Unprocessable: the report cannot be computed on the export (e.g. an arm is empty);
            nothing is stored.
    """
    with unit_of_work():
        export = build_export(trial, cutoff)
        moment = (
            None
            if frozen_at is None
            else past_moment(
                frozen_at,
                "frozen_at",
                not_before=export.cutoff,
                what="the data cut-off",
                code="frozen_before_cutoff",
            )
        )
        csv_bytes = export.csv_bytes()
        spells_bytes = export.spells_csv_bytes()
        report = report_from_csv(
            csv_bytes.decode("utf-8"),
            cost_per_benefit_year=export.cost_per_benefit_year,
            consort=export.consort,
            spells_text=spells_bytes.decode("utf-8"),
            plan_json=export.plan_json,
        )
        report_json = canonical_json(report)
        freeze = DataFreeze(
            trial_id=trial.id,
            cutoff=export.cutoff,
            participants=len(export.rows),
            export_csv=csv_bytes,
            export_sha256=sha256(csv_bytes),
            spells_csv=spells_bytes,
            spells_sha256=sha256(spells_bytes),
            plan_json=export.plan_json,
            plan_sha256=export.plan_sha256(),
            report_json=report_json,
            report_sha256=sha256(report_json),
            consort_json=canonical_json(export.consort),
            cost_per_benefit_year=export.cost_per_benefit_year,
            analysis_version=analysis_version(),
            platform_version=platform_version,
            created_by=actor,
            **({"created_at": moment} if moment is not None else {}),
        )
        audit.record_created(
            "analysis.frozen",
            freeze,
            actor=actor,
            data={
                "trial": trial.code,
                "cutoff": export.cutoff.isoformat(),
                "participants": freeze.participants,
                "export_sha256": freeze.export_sha256,
                "spells_sha256": freeze.spells_sha256,
                "spells": len(export.spells),
                "report_sha256": freeze.report_sha256,
                "analysis_version": freeze.analysis_version,
                "plan_sha256": freeze.plan_sha256,
                "plan_version": report["plan"]["version"],
                **({"frozen_at": moment.isoformat()} if moment is not None else {}),
            },
        )
        mark_unblinded_report(trial, actor)
    return freeze


def get_freeze(freeze_id: int) -> DataFreeze:
    return existing_row(DataFreeze, freeze_id, "data freeze")


def list_freezes(trial: Trial | None = None) -> list[DataFreeze]:
    query = db.session.query(DataFreeze).order_by(DataFreeze.id)
    if trial is not None:
        query = query.filter_by(trial_id=trial.id)
    return query.all()


def describe(freeze: DataFreeze) -> dict[str, Any]:
    """What a listing shows of a freeze (never the rows themselves)."""
    return {
        "id": freeze.id,
        "trial": freeze.trial.code,
        "cutoff": freeze.cutoff.isoformat(),
        "participants": freeze.participants,
        "export_sha256": freeze.export_sha256,
        "spells_sha256": freeze.spells_sha256,
        "report_sha256": freeze.report_sha256,
        "plan_sha256": freeze.plan_sha256,
        "analysis_version": freeze.analysis_version,
        "platform_version": freeze.platform_version,
        "cost_per_benefit_year": freeze.cost_per_benefit_year,
        "created_by": freeze.created_by,
        "created_at": freeze.created_at.isoformat(),
    }


@dataclass(frozen=True)
class FreezeVerification:
    freeze_id: int
    export_hash_ok: bool
    spells_hash_ok: bool  # True for a freeze made before spells files existed (none stored)
    report_hash_ok: bool
    identical: bool  # the re-run report is byte-for-byte the stored one
    reproduced: bool  # ... or every figure agrees within REPRODUCE_RTOL
    analysis_version_stored: str
    analysis_version_now: str
    differences: list[str] = field(default_factory=list)
    error: str | None = None
    plan_hash_ok: bool = True  # True for a freeze made before plans were stored (none)

    @property
    def ok(self) -> bool:
        return (
            self.export_hash_ok
            and self.spells_hash_ok
            and self.plan_hash_ok
            and self.report_hash_ok
            and self.reproduced
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "freeze": self.freeze_id,
            "ok": self.ok,
            "export_hash_ok": self.export_hash_ok,
            "spells_hash_ok": self.spells_hash_ok,
            "report_hash_ok": self.report_hash_ok,
            "plan_hash_ok": self.plan_hash_ok,
            "identical": self.identical,
            "reproduced": self.reproduced,
            "analysis_version_stored": self.analysis_version_stored,
            "analysis_version_now": self.analysis_version_now,
            "differences": self.differences,
            "error": self.error,
        }


def _differences(stored: Any, rerun: Any, path: str = "$", limit: int = 20) -> list[str]:
    """Paths where two JSON values differ (numbers beyond REPRODUCE_RTOL).

    A key only the re-run has is no difference: a later analysis version may add figures
    (the plan's estimates), and the stored report's hash guards what it holds."""
    out: list[str] = []
    if isinstance(stored, dict) and isinstance(rerun, dict):
        for key in sorted(set(stored) | set(rerun)):
            if key not in stored:
                continue  # a figure a later analysis version adds changes no stored figure
            if key not in rerun:
                out.append(f"{path}.{key}: present in only one report")
            else:
                out += _differences(stored[key], rerun[key], f"{path}.{key}", limit)
    elif isinstance(stored, list) and isinstance(rerun, list):
        if len(stored) != len(rerun):
            out.append(f"{path}: {len(stored)} items stored, {len(rerun)} now")
        else:
            for i, (a, b) in enumerate(zip(stored, rerun, strict=True)):
                out += _differences(a, b, f"{path}[{i}]", limit)
    elif (
        isinstance(stored, int | float)
        and isinstance(rerun, int | float)
        and not isinstance(stored, bool)
        and not isinstance(rerun, bool)
    ):
        if not math.isclose(stored, rerun, rel_tol=REPRODUCE_RTOL, abs_tol=1e-12):
            out.append(f"{path}: {stored!r} stored, {rerun!r} now")
    elif stored != rerun:
        out.append(f"{path}: {stored!r} stored, {rerun!r} now")
    return out[:limit]


def _spells_hash_ok(freeze: DataFreeze) -> bool:
    if freeze.spells_csv is None and freeze.spells_sha256 is None:
        return True  # frozen before the spells file existed
    if freeze.spells_csv is None or freeze.spells_sha256 is None:
        return False
    return sha256(freeze.spells_csv) == freeze.spells_sha256


def _plan_hash_ok(freeze: DataFreeze) -> bool:
    """The stored plan is the plan whose SHA-256 was stored (and recorded in the audit)."""
    if freeze.plan_json is None and freeze.plan_sha256 is None:
        return True  # frozen before plans were stored
    if freeze.plan_json is None or freeze.plan_sha256 is None:
        return False
    # The analysis package (numpy, scipy, pandas) loads only to check a stored plan.
    from fiptrial_analysis.plan import plan_from_dict

    try:
        return bool(
            plan_from_dict(json.loads(freeze.plan_json)["plan"]).sha256 == freeze.plan_sha256
        )
    except (KeyError, TypeError, ValueError):
        return False


def verify_freeze(freeze: DataFreeze) -> FreezeVerification:
    """Recompute both hashes and re-run the report on the stored export; read-only."""

    def result(
        identical: bool, reproduced: bool, differences: list[str], error: str | None = None
    ) -> FreezeVerification:
        return FreezeVerification(
            freeze_id=freeze.id,
            export_hash_ok=sha256(freeze.export_csv) == freeze.export_sha256,
            spells_hash_ok=_spells_hash_ok(freeze),
            plan_hash_ok=_plan_hash_ok(freeze),
            report_hash_ok=sha256(freeze.report_json) == freeze.report_sha256,
            identical=identical,
            reproduced=reproduced,
            analysis_version_stored=freeze.analysis_version,
            analysis_version_now=analysis_version(),
            differences=differences,
            error=error,
        )

    try:
        rerun = report_from_csv(
            bytes(freeze.export_csv).decode("utf-8"),
            cost_per_benefit_year=freeze.cost_per_benefit_year,
            consort=json.loads(freeze.consort_json),
            # Freezes before the plan (0014_analysis_plan) were reported without the spells.
            spells_text=bytes(freeze.spells_csv).decode("utf-8")
            if freeze.plan_json is not None and freeze.spells_csv is not None
            else None,
            plan_json=freeze.plan_json,
        )
    except Exception as error:  # the stored export no longer analyses: report, never raise
        return result(False, False, [], str(error))
    rerun_json = canonical_json(rerun)
    if rerun_json == freeze.report_json:
        return result(True, True, [])
    differences = _differences(json.loads(freeze.report_json), json.loads(rerun_json))
    return result(False, not differences, differences)


def download_freeze(freeze: DataFreeze, *, actor: str) -> tuple[str, bytes]:
    """The frozen export and its report as one zip (a disclosure, so audited)."""
    with unit_of_work():
        buffer = io.BytesIO()
        stem = f"{freeze.trial.code}-bevriezing-{freeze.id}"
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(f"{stem}-export.csv", bytes(freeze.export_csv))
            archive.writestr(f"{stem}-report.json", freeze.report_json)
            archive.writestr(f"{stem}-consort.json", freeze.consort_json)
            sums = [
                f"{freeze.export_sha256}  {stem}-export.csv",
                f"{freeze.report_sha256}  {stem}-report.json",
            ]
            # Named as the export writes them, so that the analysis package's command line
            # finds the spells and the plan next to the participant file.
            if freeze.spells_csv is not None:
                archive.writestr(f"{stem}-export_spells.csv", bytes(freeze.spells_csv))
                sums.append(f"{freeze.spells_sha256}  {stem}-export_spells.csv")
            if freeze.plan_json is not None:
                archive.writestr(f"{stem}-export.plan.json", freeze.plan_json)
            archive.writestr(f"{stem}-sha256.txt", "\n".join(sums) + "\n")
        audit.record_about(
            "analysis.freeze_downloaded",
            freeze,
            actor=actor,
            data={"trial": freeze.trial.code, "export_sha256": freeze.export_sha256},
        )
    return f"{stem}.zip", buffer.getvalue()
