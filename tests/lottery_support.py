"""Cohort allocation for tests that need an allocated site as their starting point.

The lottery gives FIP no more places than the site's client managers have free
(``services.lottery``); a test that only needs allocated participants gets a client manager
with the places first, as a site would before its lottery.
"""

from __future__ import annotations

from typing import Any


def allocate_cohort_with_places(site_id: int, fip: int | None = None, **options: Any) -> Any:
    """``randomisation.allocate_cohort`` after making sure ``fip`` places are free."""
    from fiptrial.extensions import db
    from fiptrial.models import Site
    from fiptrial.services import caseload, lottery, randomisation

    site = db.session.get(Site, site_id)
    assert site is not None
    missing = (fip or 1) - lottery.free_fip_places(site_id)
    if missing > 0:
        name = f"km-places-{site.code}-{len(caseload.client_managers(site_id))}"
        caseload.add_client_manager(site, name, capacity=missing, actor="test")
    return randomisation.allocate_cohort(
        site_id, fip, actor=options.pop("actor", "test"), **options
    )
