"""/api/v1/allocations/{id}/corrections: research admins mark allocations made in error."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from fiptrial.api.auth import principal, requires
from fiptrial.models import Allocation
from fiptrial.schemas import AllocationSchema, CorrectionCreateSchema
from fiptrial.services import randomisation

blp = Blueprint("allocations", __name__, url_prefix="/api/v1", description="Allocation corrections")


@blp.post("/allocations/<int:allocation_id>/corrections")
@requires("allocation.correct")
@blp.arguments(CorrectionCreateSchema)
@blp.response(201, AllocationSchema)
def correct(data: dict[str, Any], allocation_id: int) -> Allocation:
    who = principal()
    return randomisation.correct_allocation(
        allocation_id, kind=data["kind"], reason=data["reason"], actor=who.actor
    )
