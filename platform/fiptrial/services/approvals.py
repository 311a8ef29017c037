"""Export approvals: an analyst's export leaves the platform only after a research admin said yes.

The analyst asks (trial, format, purpose); a research admin approves or refuses; the approved
request is good for one download, which is small-cell suppressed (``services.minimisation``).
Every step is recorded in the audit chain, so the FG can see who asked for what, why, and who
let it go. A research admin's own exports need no approval (the admin is the controller's
delegate), but are audited as always.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fiptrial.errors import Conflict, Forbidden, NotFound, field_error
from fiptrial.extensions import db
from fiptrial.models import ExportApproval, Trial
from fiptrial.services import audit
from fiptrial.services.access import ADMIN, ANALYST, Principal
from fiptrial.services.exports import FORMATS
from fiptrial.services.transaction import locked_row, unit_of_work

PURPOSE_MIN, PURPOSE_MAX = 10, 2000


def _audit(action: str, approval: ExportApproval, actor: str, **data: Any) -> None:
    audit.record_about(
        action,
        approval,
        actor=actor,
        data={
            "trial_id": approval.trial_id,
            "kind": approval.kind,
            "parameters": approval.parameters,
            "status": approval.status,
            **data,
        },
    )


def request_export(trial: Trial, fmt: str, purpose: str, *, principal: Principal) -> ExportApproval:
    """An analyst asks for an export (422 naming the field; 403 for other roles)."""
    if principal.role != ANALYST:
        raise Forbidden("only analysts request exports; research admins export directly")
    if fmt not in FORMATS:
        raise field_error("format", f"must be one of {', '.join(FORMATS)}")
    purpose = (purpose or "").strip()
    if not PURPOSE_MIN <= len(purpose) <= PURPOSE_MAX:
        raise field_error(
            "purpose",
            f"say in {PURPOSE_MIN} to {PURPOSE_MAX} characters what the export is for",
            code="purpose_length",
        )
    with unit_of_work():
        approval = ExportApproval(
            trial_id=trial.id,
            kind="analysis_export",
            parameters={"format": fmt},
            purpose=purpose,
            status="requested",
            requested_by=principal.actor,
        )
        db.session.add(approval)
        db.session.flush()
        _audit("export.requested", approval, principal.actor, purpose=purpose)
    return approval


def decide(approval_id: int, *, approve: bool, principal: Principal) -> ExportApproval:
    """A research admin approves or refuses a request (409 once decided)."""
    if principal.role != ADMIN:
        raise Forbidden("only a research admin decides on export requests")
    with unit_of_work():
        approval = locked_row(ExportApproval, approval_id, "export request")
        if approval.status != "requested":
            raise Conflict(
                f"export request {approval_id} was already {approval.status}",
                code="approval_decided",
            )
        approval.status = "approved" if approve else "refused"
        approval.decided_by = principal.actor
        approval.decided_at = datetime.now(UTC)
        _audit("export.approved" if approve else "export.refused", approval, principal.actor)
    return approval


def use(approval_id: int, *, principal: Principal) -> ExportApproval:
    """The requesting analyst's one download of an approved request (403/404/409 otherwise)."""
    with unit_of_work():
        approval = locked_row(ExportApproval, approval_id, "export request")
        if approval.requested_by != principal.actor:
            raise NotFound(f"export request {approval_id} does not exist")
        if approval.status != "approved":
            raise Conflict(
                f"export request {approval_id} is {approval.status}, not approved",
                code="approval_not_usable",
            )
        approval.status = "used"
        approval.used_at = datetime.now(UTC)
        _audit("export.approval_used", approval, principal.actor)
    return approval


def get_request(approval_id: int) -> ExportApproval | None:
    return db.session.get(ExportApproval, approval_id)


def trial_of(approval: ExportApproval) -> Trial:
    return db.session.get_one(Trial, approval.trial_id)


def requests_for(principal: Principal) -> list[ExportApproval]:
    """The admin sees every request; an analyst their own."""
    query = db.session.query(ExportApproval).order_by(ExportApproval.id.desc())
    if principal.role != ADMIN:
        query = query.filter_by(requested_by=principal.actor)
    return query.limit(200).all()
