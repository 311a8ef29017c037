"""State pension (AOW) age, from the table in ``data/aow_age.csv`` (SVB, art. 7a AOW).

The pension age is the one set for the calendar year in which it is reached, and the pension
starts on the day that age is reached. For people born after the last row of the table the age
is not fixed yet (announced five years ahead); we use the last known age, which can only come
out too early, so eligibility errs on the side of excluding someone who might retire in time.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources

from dateutil.relativedelta import relativedelta


@dataclass(frozen=True)
class PensionAgeRule:
    born_from: date | None
    born_to: date
    years: int
    months: int


@cache
def pension_age_rules() -> tuple[PensionAgeRule, ...]:
    text = resources.files("fiptrial.data").joinpath("aow_age.csv").read_text(encoding="utf-8")
    rules = []
    for row in csv.DictReader(text.splitlines()):
        rules.append(
            PensionAgeRule(
                born_from=date.fromisoformat(row["born_from"]) if row["born_from"] else None,
                born_to=date.fromisoformat(row["born_to"]),
                years=int(row["aow_age_years"]),
                months=int(row["aow_age_months"]),
            )
        )
    return tuple(rules)


def pension_age_date(birth_date: date) -> date:
    """The day on which someone born on ``birth_date`` reaches the AOW age."""
    rules = pension_age_rules()
    chosen = rules[-1]
    for rule in rules:
        if (rule.born_from is None or rule.born_from <= birth_date) and birth_date <= rule.born_to:
            chosen = rule
            break
    return birth_date + relativedelta(years=chosen.years, months=chosen.months)
