"""/api/v1/sites/{site}: a site, its participants, its cohort allocation and allocations."""

from __future__ import annotations

from typing import Any

from flask import url_for
from flask_smorest import Blueprint

from fiptrial.api.auth import principal, requires
from fiptrial.models import Participant, Site
from fiptrial.schemas import (
    AllocationPageSchema,
    CohortCreateSchema,
    CohortSchema,
    PageArgsSchema,
    ParticipantCreatedSchema,
    ParticipantCreateSchema,
    ParticipantSchema,
    SiteSchema,
)
from fiptrial.services import participants, randomisation, site_reads, trials
from fiptrial.services.access import visible_site

blp = Blueprint("sites", __name__, url_prefix="/api/v1", description="Sites and their caseload")


def _site(code: str) -> tuple[Any, Site]:
    who = principal()
    return who, visible_site(who, trials.find_site(code))


@blp.get("/sites/<site_code>")
@requires("site.read")
@blp.response(200, SiteSchema)
def get_site(site_code: str) -> Site:
    return _site(site_code)[1]


@blp.post("/sites/<site_code>/participants")
@requires("participant.register")
@blp.arguments(ParticipantCreateSchema)
@blp.response(201, ParticipantCreatedSchema)
def register_participant(data: dict[str, Any], site_code: str) -> Participant:
    who, site = _site(site_code)
    return participants.register(site, data, actor=who.actor)


@blp.get("/sites/<site_code>/participants")
@requires("participant.list")
@blp.arguments(PageArgsSchema, location="query")
@blp.response(200, ParticipantSchema(many=True))
def list_participants(page: dict[str, int], site_code: str) -> list[Participant]:
    who, site = _site(site_code)
    return site_reads.participants_after(who, site, after=page["after"], limit=page["limit"])


@blp.post("/sites/<site_code>/cohort-allocation")
@requires("cohort.create")
@blp.arguments(CohortCreateSchema)
@blp.response(201, CohortSchema)
def cohort_allocation(data: dict[str, Any], site_code: str) -> dict[str, Any]:
    """The lottery of a site's caseload; the rules and their error codes are in
    ``services.lottery`` (cohort_too_small, cohort_fip_out_of_range, cohort_fip_over_capacity,
    cohort_no_free_places, cohort_exists, cohort_reason_required)."""
    who, site = _site(site_code)
    cohort = randomisation.allocate_cohort(
        site.id,
        data["fip"],
        actor=who.actor,
        research_admin=who.role == "research_admin",
        reason=data["reason"],
    )
    allocations = site_reads.cohort_allocations(cohort.id)
    return {
        "id": cohort.id,
        "site_code": site.code,
        "fip": cohort.fip,
        "caseload": cohort.caseload,
        "allocations": allocations,
    }


@blp.get("/sites/<site_code>/allocations")
@requires("allocation.list")
@blp.arguments(PageArgsSchema, location="query")
@blp.response(200, AllocationPageSchema)
def list_allocations(page: dict[str, int], site_code: str) -> dict[str, Any]:
    """The site's allocations in keyset pages (``after`` an id, ``limit``, a ``next`` link)
    rather than page numbers, so that a client paging through them while allocations are
    added sees each exactly once."""
    _who, site = _site(site_code)
    limit = min(page["limit"], 1000)
    items = site_reads.allocations_after(site, after=page["after"], limit=limit + 1)
    more = len(items) > limit
    items = items[:limit]
    next_url = (
        url_for(
            "sites.list_allocations",
            site_code=site.code,
            after=items[-1].id,
            limit=limit,
            _external=True,
        )
        if more
        else None
    )
    return {"items": items, "next": next_url}
