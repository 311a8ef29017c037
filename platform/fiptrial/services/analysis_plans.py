"""The trial's analysis plan: show it, change it until it is frozen, freeze it.

The plan is :class:`fiptrial_analysis.plan.AnalysisPlan`; this module keeps its versions in
``analysis_plan`` and decides the rules:

- Until a version is stored the trial has the default plan (with the trial's conversation
  minutes), shown as version 1 and stored as such the first time it is frozen or reported on.
- ``set_plan`` writes the next version; refused once the plan is frozen.
- ``freeze_plan`` marks the current version frozen and records the plan with its SHA-256 in the
  audit chain; a frozen plan never changes.
- ``mark_unblinded_report`` notes the first report that compared the arms on each version, so
  that a later version says it was changed after results were seen.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

from fiptrial.errors import Conflict, field_error
from fiptrial.extensions import db
from fiptrial.models import AnalysisPlanVersion, Trial
from fiptrial.services import audit
from fiptrial.services.moments import past_moment
from fiptrial.services.transaction import locked, unit_of_work


def _plan_module() -> Any:
    # The analysis package (numpy, scipy, pandas) loads when a plan is read, not with the app.
    from fiptrial_analysis import plan

    return plan


def trial_default(trial: Trial) -> Any:
    """The default plan of ``trial``: the package defaults with the trial's own conversation
    lengths (``Trial.first_conversation_minutes`` and ``later_conversation_minutes``)."""
    return _plan_module().AnalysisPlan(
        trial=trial.code,
        first_conversation_minutes=int(trial.first_conversation_minutes),
        later_conversation_minutes=int(trial.later_conversation_minutes),
    )


def _versions(trial: Trial) -> list[AnalysisPlanVersion]:
    return (
        db.session.query(AnalysisPlanVersion)
        .filter_by(trial_id=trial.id)
        .order_by(AnalysisPlanVersion.version)
        .all()
    )


def _plan_of(row: AnalysisPlanVersion) -> Any:
    return _plan_module().plan_from_dict(json.loads(row.plan_json))


def current_plan(trial: Trial) -> Any:
    """The plan the trial's reports follow now (its latest version, or the default)."""
    versions = _versions(trial)
    return _plan_of(versions[-1]) if versions else trial_default(trial)


def plan_file(trial: Trial) -> Any:
    """The current plan with its history, as the export and the report carry it."""
    versions = _versions(trial)
    if not versions:
        return _plan_module().PlanFile(plan=trial_default(trial))
    last = versions[-1]
    return _plan_module().PlanFile(
        plan=_plan_of(last),
        frozen=last.frozen_at is not None,
        frozen_at=last.frozen_at.isoformat() if last.frozen_at else None,
        changed_after_report=any(v.first_report_at is not None for v in versions[:-1]),
    )


def describe(trial: Trial) -> dict[str, Any]:
    """What ``fiptrial analysis-plan show`` prints: the plan, its hash, status and history."""
    versions = _versions(trial)
    return {
        "trial": trial.code,
        **plan_file(trial).describe(),
        "stored": bool(versions),
        "history": [
            {
                "version": v.version,
                "sha256": v.plan_sha256,
                "created_by": v.created_by,
                "created_at": v.created_at.isoformat(),
                "frozen_at": v.frozen_at.isoformat() if v.frozen_at else None,
                "first_unblinded_report_at": v.first_report_at.isoformat()
                if v.first_report_at
                else None,
            }
            for v in versions
        ],
    }


def _lock_trial(trial: Trial) -> None:
    locked(db.session.query(Trial).filter_by(id=trial.id)).one()


def _store(trial: Trial, plan: Any, actor: str) -> AnalysisPlanVersion:
    row = AnalysisPlanVersion(
        trial_id=trial.id,
        version=plan.version,
        plan_json=plan.canonical_json(),
        plan_sha256=plan.sha256,
        created_by=actor,
    )
    db.session.add(row)
    db.session.flush()
    return row


def _latest_or_default(trial: Trial, actor: str) -> AnalysisPlanVersion:
    versions = _versions(trial)
    return versions[-1] if versions else _store(trial, trial_default(trial), actor)


def set_plan(trial: Trial, values: dict[str, Any], actor: str) -> Any:
    """Store the current plan with ``values`` changed as the next version.

    Raises:
        Conflict: the plan is frozen.
        Unprocessable: a value is refused (the message names the field).
    """
    if not values:
        raise field_error("plan", "give at least one setting to change")
    with unit_of_work():
        _lock_trial(trial)
        versions = _versions(trial)
        if versions and versions[-1].frozen_at is not None:
            raise Conflict(
                f"the analysis plan of {trial.code} is frozen (version {versions[-1].version}); "
                "it can no longer be changed",
                code="analysis_plan_frozen",
            )
        current = _plan_of(versions[-1]) if versions else trial_default(trial)
        if "trial" in values or "version" in values:
            raise field_error("plan", "trial and version are set by the platform")
        try:
            plan = current.changed(**values)
        except (TypeError, ValueError) as error:
            raise field_error("plan", str(error), code="analysis_plan_invalid") from None
        if not versions:
            plan = _plan_module().plan_from_dict({**plan.to_dict(), "version": 1})
        _store(trial, plan, actor)
        _audit_plan("changed", trial, actor, plan.version, plan.sha256, changed=sorted(values))
    return plan


def freeze_plan(trial: Trial, actor: str, *, frozen_at: datetime | date | None = None) -> Any:
    """Freeze the current plan: its JSON and SHA-256 go into the audit chain.

    ``frozen_at`` dates a freeze made earlier than it is entered (the demo's plan, frozen before
    its first allocation three years ago): not in the future (:mod:`fiptrial.services.moments`).

    Raises:
        Conflict: the plan is already frozen.
    """
    with unit_of_work():
        _lock_trial(trial)
        row = _latest_or_default(trial, actor)
        if row.frozen_at is not None:
            raise Conflict(
                f"the analysis plan of {trial.code} was already frozen (version {row.version})",
                code="analysis_plan_frozen",
            )
        moment = None if frozen_at is None else past_moment(frozen_at, "frozen_at")
        row.frozen_at = moment or datetime.now(UTC)
        row.frozen_by = actor
        _audit_plan(
            "frozen",
            trial,
            actor,
            row.version,
            row.plan_sha256,
            plan=json.loads(row.plan_json),
            **({"frozen_at": moment.isoformat()} if moment is not None else {}),
        )
    return plan_file(trial)


def mark_unblinded_report(trial: Trial, actor: str) -> None:
    """Note the first report comparing the arms on the current plan version (audited once)."""
    with unit_of_work():
        _lock_trial(trial)
        row = _latest_or_default(trial, actor)
        if row.first_report_at is not None:
            return
        row.first_report_at = datetime.now(UTC)
        _audit_plan("first_unblinded_report", trial, actor, row.version, row.plan_sha256)


def _audit_plan(
    step: str, trial: Trial, actor: str, version: int, sha256: str, **data: Any
) -> None:
    """Audit a step of the trial's analysis plan, naming the plan version and its hash, so that
    the trail shows which plan each step was about."""
    audit.record(
        f"analysis_plan.{step}",
        actor=actor,
        entity="trial",
        entity_id=trial.code,
        data={"version": version, "sha256": sha256, **data},
    )
