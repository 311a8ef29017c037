"""The rules of the lottery (cohort allocation): when a site may allocate its caseload at once.

The lottery must decide, not the coordinator. A coordinator who could run a cohort of one with
one FIP place, or give every participant but one a place, would choose the arms. So:

* **Every participant of a cohort has a FIP probability strictly between 0 and 1.** The cohort
  draw (``randomisation.derive_cohort``) gives each stratum the integer part of its share of
  the ``fip`` places and draws the leftover places over the strata with a positive remainder,
  without replacement, in proportion to the remainders. With ``0 < fip < n`` (``n`` drawn
  units) every stratum's quota is below its size, and every stratum whose quota is its share
  rounded down has a positive remainder while fewer leftover places than such strata remain,
  so no participant is certain of either arm. ``fip == 0`` or ``fip == n`` decides every arm;
  both are refused.
* **At least a minimum size** (``COHORT_MIN_SIZE``, environment ``FIPTRIAL_COHORT_MIN_SIZE``,
  default 20 drawn units): in a small cohort the coordinator effectively knows who gets FIP.
* **At most the free FIP capacity**: the site's client managers' places minus the FIP
  participants they (or nobody yet) carry. A FIP participant beyond it would have no client
  manager and no plan.
* **One cohort per site**: the lottery is the start of a site. Later arrivals are allocated one
  by one by the trial's method (permuted blocks or minimisation). A second cohort needs a
  research admin and a reason; the reason goes into the audit entry of the cohort.

Every refusal carries a code (``error.code``) that the API returns and the pages look up in the
catalogue (``web.messages``), with the numbers it needs.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, has_app_context
from sqlalchemy import func, select

from fiptrial.errors import Conflict, Unprocessable
from fiptrial.extensions import db
from fiptrial.models import CohortRandomisation, Site
from fiptrial.services import caseload

DEFAULT_MIN_SIZE = 20
MIN_REASON_LENGTH = 10


def minimum_size() -> int:
    """The configured minimum number of drawn units of a cohort (default 20)."""
    if has_app_context():
        return int(current_app.config.get("COHORT_MIN_SIZE", DEFAULT_MIN_SIZE))
    return DEFAULT_MIN_SIZE


def free_fip_places(site_id: int) -> int:
    """The site's FIP places not yet taken: capacity minus the FIP participants with a client
    manager now, minus those still waiting for one."""
    taken = sum(caseload.current_loads(site_id).values()) + len(caseload.unassigned_fip(site_id))
    return max(0, caseload.site_capacity(site_id) - taken)


def earlier_cohorts(site_id: int) -> int:
    return int(
        db.session.scalar(
            select(func.count(CohortRandomisation.id)).where(CohortRandomisation.site_id == site_id)
        )
        or 0
    )


@dataclass(frozen=True)
class CohortPermit:
    """What the rules allow: ``fip`` places for ``units`` drawn units."""

    fip: int
    units: int
    free_places: int
    earlier_cohorts: int
    reason: str | None


def check_second_cohort(site: Site, *, research_admin: bool, reason: str | None) -> int:
    """Refuse a second cohort unless a research admin gives a reason; the earlier count."""
    earlier = earlier_cohorts(site.id)
    if earlier == 0:
        return 0
    if not research_admin:
        raise Conflict(
            f"site {site.code} has had its cohort allocation; later participants are "
            "allocated one by one by the trial's method, and a further cohort needs a research "
            "admin and a reason",
            code="cohort_exists",
        )
    if reason is None or len(reason.strip()) < MIN_REASON_LENGTH:
        raise Unprocessable(
            f"a further cohort at a site needs a reason of at least {MIN_REASON_LENGTH} characters",
            code="cohort_reason_required",
            fields={"reason": [f"give a reason of at least {MIN_REASON_LENGTH} characters"]},
            minimum=MIN_REASON_LENGTH,
        )
    return earlier


def permit(
    site: Site,
    units: int,
    fip: int | None,
    *,
    research_admin: bool,
    reason: str | None = None,
) -> CohortPermit:
    """Check every rule for a cohort of ``units`` drawn units; the FIP number it may have.

    Without ``fip``: the free capacity, at most ``units - 1``. Raises the refusal otherwise.
    """
    earlier = check_second_cohort(site, research_admin=research_admin, reason=reason)
    minimum = minimum_size()
    if units < minimum:
        raise Unprocessable(
            f"a cohort needs at least {minimum} participants ready for allocation; the site "
            f"has {units}: allocate them one by one, or wait for more consents",
            code="cohort_too_small",
            caseload=units,
            minimum=minimum,
        )
    free = free_fip_places(site.id)
    if fip is None:
        if free == 0:
            raise Unprocessable(
                f"site {site.code} has no free FIP places: add client managers or capacity",
                code="cohort_no_free_places",
            )
        fip = min(free, units - 1)
    if not 0 < fip < units:
        raise Unprocessable(
            f"fip must lie between 1 and {units - 1}, so that every participant has a chance "
            "of both arms",
            code="cohort_fip_out_of_range",
            fields={"fip": [f"must lie between 1 and {units - 1}"]},
            caseload=units,
            highest=units - 1,
        )
    if fip > free:
        raise Unprocessable(
            f"fip {fip} is more than the site's {free} free FIP places",
            code="cohort_fip_over_capacity",
            fields={"fip": [f"must be at most the {free} free FIP places"]},
            fip=fip,
            free=free,
        )
    return CohortPermit(fip, units, free, earlier, reason.strip() if reason else None)


def refuses_second_cohort(site_id: int, *, research_admin: bool) -> bool:
    """For the page: would a further cohort be refused for this role whatever is filled in?"""
    return not research_admin and earlier_cohorts(site_id) > 0
