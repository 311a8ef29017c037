"""Helpers for the conversation tests: sites with client managers and FIP participants.

Imported by module name (the tests folders are not packages).

``FipBuilder.site`` makes a trial and site with client managers through the services;
``bulk_fip`` inserts participants and FIP allocations directly, for the planning tests that
need hundreds of FIP clients and do not test registration or randomisation; ``planned_site``
does both, assigns the clients by load and plans their conversations.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

START = date(2026, 11, 2)


class FipBuilder:
    def __init__(self, build: Any) -> None:
        self.build = build
        self._seq = 0

    def site(
        self,
        *,
        managers: int = 2,
        capacity: int = 180,
        code: str = "bw",
        closing_days: list[str] | None = None,
        **trial_overrides: Any,
    ) -> Any:
        from fiptrial.extensions import db
        from fiptrial.services.caseload import add_client_manager

        trial = self.build.trial(start_date=START, **trial_overrides)
        site = self.build.site(trial, code=code)
        if closing_days:
            site.closing_days = closing_days
            db.session.commit()
        for n in range(managers):
            add_client_manager(site, f"{code}_km{n + 1}", capacity=capacity, actor="test")
        return site

    def bulk_fip(self, site: Any, count: int, *, arm: str = "fip") -> list[int]:
        """Insert ``count`` participants allocated to ``arm`` (no consent events needed)."""
        from fiptrial.extensions import db
        from fiptrial.models import Allocation, Participant

        rows = []
        for _ in range(count):
            self._seq += 1
            rows.append(
                {
                    "trial_id": site.trial_id,
                    "site_id": site.id,
                    "pseudonym": f"{self._seq:064x}",
                    "birth_date": date(1980, 1, 1),
                    "sex": "female",
                    "benefit_start": date(2020, 1, 1),
                    "registered_on": START,
                    "age_band": "45-54",
                    "benefit_duration_band": "60+",
                    "stratum": "s",
                    "eligible": True,
                    "ineligible_reasons": [],
                    "pension_age_date": date(2047, 4, 1),
                    "registered_by": "test",
                }
            )
        db.session.execute(Participant.__table__.insert(), rows)
        ids = [
            pid
            for (pid,) in db.session.query(Participant.id)
            .filter(Participant.site_id == site.id)
            .order_by(Participant.id)
            .all()
        ][-count:]
        db.session.execute(
            Allocation.__table__.insert(),
            [
                {
                    "trial_id": site.trial_id,
                    "site_id": site.id,
                    "participant_id": pid,
                    "arm": arm,
                    "stratum": "s",
                    "sequence": i + 1,
                    "method": "test",
                    "evidence": {},
                    "status": "active",
                    "allocated_by": "test",
                    "allocated_at": datetime(2026, 10, 30, 12, 0, tzinfo=UTC),
                }
                for i, pid in enumerate(ids)
            ],
        )
        db.session.commit()
        return ids

    def planned_site(self, count: int = 360, **kwargs: Any) -> Any:
        from fiptrial.services import caseload, planning

        site = self.site(**kwargs)
        self.bulk_fip(site, count)
        caseload.assign_by_load(site, on=START, actor="test")
        planning.plan_site(site, actor="test", starts_on=START)
        return site


def conversations_of(participant_id: int) -> list[Any]:
    """The participant's planned conversations in their order, as the pages and the API read
    them (:func:`fiptrial.services.conversation_reads.plan_of`)."""
    from fiptrial.services.conversation_reads import plan_of

    return plan_of(participant_id)
