"""/api/v1/audit: verify the hash chain of the audit trail."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from fiptrial.api.auth import requires
from fiptrial.schemas import AuditVerifySchema
from fiptrial.services import audit

blp = Blueprint("audit", __name__, url_prefix="/api/v1", description="Audit trail")


@blp.get("/audit/verify")
@requires("audit.verify")
@blp.response(200, AuditVerifySchema)
def verify() -> dict[str, Any]:
    return audit.verify_chain().to_dict()
