"""The planning parameters of a trial and the rules they set (report, chapter 3).

- ``conversations_per_year`` (default 4) for ``intervention_years`` (default 1) per client,
  the first one ``first_conversation_minutes`` (60), later ones ``later_conversation_minutes``.
- A client manager has at most ``conversations_per_day`` (3) and no more minutes than
  ``working_day_minutes`` on one day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from dateutil.relativedelta import relativedelta

from fiptrial.errors import field_error
from fiptrial.models import Trial

CATCH_UP_DAYS = 14  # after a missed conversation, the next one is planned about 2 weeks later
SLACK_DAYS = 120  # calendar days beyond the latest plan end kept in the capacity arrays
PLAN_FIELDS = (
    "conversations_per_year",
    "intervention_years",
    "conversations_per_day",
    "first_conversation_minutes",
    "later_conversation_minutes",
    "working_day_minutes",
)


@dataclass(frozen=True)
class PlanRules:
    """A trial's planning parameters (columns of ``trial``, migration 0002_conversations)."""

    conversations_per_year: int = 4
    intervention_years: int = 1
    conversations_per_day: int = 3
    first_conversation_minutes: int = 60
    later_conversation_minutes: int = 45
    working_day_minutes: int = 180

    @classmethod
    def of(cls, trial: Trial) -> PlanRules:
        return cls(**{name: getattr(trial, name) for name in PLAN_FIELDS})

    @property
    def conversations(self) -> int:
        return self.conversations_per_year * self.intervention_years

    def minutes(self, sequence: int) -> int:
        return self.first_conversation_minutes if sequence == 1 else self.later_conversation_minutes


def validate_rules(values: dict[str, Any]) -> None:
    """422 naming the field when a planning parameter cannot give a workable plan."""
    limits = {
        "conversations_per_year": (1, 52),
        "intervention_years": (1, 10),
        "conversations_per_day": (1, 20),
        "first_conversation_minutes": (5, 480),
        "later_conversation_minutes": (5, 480),
        "working_day_minutes": (15, 720),
    }
    for name, value in values.items():
        if name not in limits:
            raise field_error(name, "is not a planning parameter")
        low, high = limits[name]
        if not isinstance(value, int) or not low <= value <= high:
            raise field_error(name, f"must be a whole number from {low} to {high}")


def plan_period_end(starts_on: date, rules: PlanRules) -> date:
    """The day after a client's intervention period (``intervention_years`` after the start)."""
    return starts_on + relativedelta(years=rules.intervention_years)
