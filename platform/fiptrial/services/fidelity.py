"""Fidelity: was FIP delivered as intended? Counted from the plan and the records.

Definitions (stated once, used by the API, the analysis export and the dashboard):

- planned: conversations in the plan, cancelled ones (after a withdrawal) left out;
- held: planned conversations recorded as held;
- held_in_window: held no more than ``WINDOW_DAYS`` (14) days before or after the date the
  conversation was planned on when it was held;
- missed: recorded as missed, or counted missed by the nightly job when the window passed;
- open: still to happen (planned or overdue);
- first_year_share: of the FIP participants with a plan, the share with at least
  ``ceil(0.75 * conversations_per_year)`` (3 of 4) conversations held in the first year of
  their plan (participants whose first year is still running count as not (yet) met).

Per client manager, conversations count for the manager who had them planned; a participant
(and the first-year share) counts for the manager of their latest planned conversation.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any

from dateutil.relativedelta import relativedelta
from sqlalchemy import select

from fiptrial.extensions import db
from fiptrial.models import ConversationPlan, ConversationRecord, PlannedConversation, Site, User
from fiptrial.models.conversations import CANCELLED, HELD, MISSED, OPEN_STATUSES
from fiptrial.services.access import Principal, may_see

WINDOW_DAYS = 14


@dataclass
class Figures:
    planned: int = 0
    held: int = 0
    held_in_window: int = 0
    missed: int = 0
    open: int = 0
    participants: int = 0
    first_year_met: int = 0

    @property
    def first_year_share(self) -> float | None:
        return round(self.first_year_met / self.participants, 4) if self.participants else None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "first_year_share": self.first_year_share}


@dataclass
class SiteFidelity:
    site: str
    window_days: int
    total: Figures
    per_client_manager: dict[str, Figures] = field(default_factory=dict)
    per_participant: dict[int, Figures] = field(default_factory=dict)
    #: user name -> user number of the client managers in per_client_manager.
    manager_ids: dict[str, int] = field(default_factory=dict)

    def manager_label(self, username: str, who: Principal) -> str:
        """The user name where the field policy shows it (or it is one's own), else a number."""
        if may_see(who, "fidelity", "manager_names") or self.manager_ids.get(username) == (
            who.user_id
        ):
            return username
        return f"client-manager-{self.manager_ids[username]}"

    def per_manager_for(self, who: Principal) -> dict[str, Figures]:
        return {self.manager_label(k, who): v for k, v in self.per_client_manager.items()}

    def to_dict(self, who: Principal) -> dict[str, Any]:
        """The figures as ``who`` may see them (services.access.FIELD_POLICY['fidelity'])."""
        data: dict[str, Any] = {
            "site": self.site,
            "window_days": self.window_days,
            **self.total.to_dict(),
            "per_client_manager": {k: v.to_dict() for k, v in self.per_manager_for(who).items()},
        }
        if may_see(who, "fidelity", "per_participant"):
            data["per_participant"] = {str(k): v.to_dict() for k, v in self.per_participant.items()}
        return data


def site_fidelity(site: Site) -> SiteFidelity:
    """Fidelity figures of one site: two queries, then one pass over its conversations."""
    plans = {
        pid: (starts_on, per_year)
        for pid, starts_on, per_year in db.session.execute(
            select(
                ConversationPlan.participant_id,
                ConversationPlan.starts_on,
                ConversationPlan.conversations_per_year,
            ).where(ConversationPlan.site_id == site.id)
        )
    }
    rows = db.session.execute(
        select(
            PlannedConversation.participant_id,
            User.username,
            User.id,
            PlannedConversation.status,
            PlannedConversation.planned_date,
            ConversationRecord.held_on,
        )
        .join(User, User.id == PlannedConversation.client_manager_id)
        .outerjoin(ConversationRecord, ConversationRecord.id == PlannedConversation.record_id)
        .where(PlannedConversation.site_id == site.id)
        .order_by(PlannedConversation.participant_id, PlannedConversation.sequence)
    )
    per_participant: dict[int, Figures] = defaultdict(Figures)
    per_manager: dict[str, Figures] = defaultdict(Figures)
    manager_of: dict[int, str] = {}
    manager_ids: dict[str, int] = {}
    held_first_year: dict[int, int] = defaultdict(int)
    window = timedelta(days=WINDOW_DAYS)
    for pid, username, user_id, status, planned_date, held_on in rows:
        if status == CANCELLED:
            continue
        manager_ids[username] = user_id
        manager_of[pid] = username  # a participant counts for their latest manager
        for figures in (per_participant[pid], per_manager[username]):
            figures.planned += 1
            if status == HELD:
                figures.held += 1
                if held_on is not None and abs(held_on - planned_date) <= window:
                    figures.held_in_window += 1
            elif status == MISSED:
                figures.missed += 1
            elif status in OPEN_STATUSES:
                figures.open += 1
        if status == HELD and pid in plans:
            starts_on = plans[pid][0]
            when = held_on or planned_date
            if when < starts_on + relativedelta(years=1):
                held_first_year[pid] += 1
    total = Figures()
    for pid, figures in per_participant.items():
        figures.participants = 1
        per_year = plans[pid][1] if pid in plans else 4
        figures.first_year_met = int(held_first_year[pid] >= math.ceil(0.75 * per_year))
        manager = per_manager[manager_of[pid]]
        manager.participants += 1
        manager.first_year_met += figures.first_year_met
        for name in (
            "planned",
            "held",
            "held_in_window",
            "missed",
            "open",
            "participants",
            "first_year_met",
        ):
            setattr(total, name, getattr(total, name) + getattr(figures, name))
    return SiteFidelity(
        site.code,
        WINDOW_DAYS,
        total,
        dict(sorted(per_manager.items())),
        dict(sorted(per_participant.items())),
        manager_ids,
    )
