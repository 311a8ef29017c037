"""Who may enter the trial, and in which stratum, decided once at registration and stored.

Eligibility (protocol): at least 18 years old, at least 6 months on benefit, and not reaching
the state pension age before the planned end of follow-up (such clients leave the benefit for
that reason alone, which is what unbalanced the pilot's groups).
"""

from __future__ import annotations

import re
from calendar import monthrange
from dataclasses import dataclass
from datetime import date
from itertools import pairwise

from dateutil.relativedelta import relativedelta

from fiptrial.errors import field_error
from fiptrial.models import Site, Trial
from fiptrial.services.pension import pension_age_date

MINIMUM_AGE = 18
# Younger than this on the registration date is a typing error, not an ineligible client:
# social assistance starts at 18, and a 16- or 17-year-old may still be in a caseload.
PLAUSIBLE_AGE = 16
MINIMUM_MONTHS_ON_BENEFIT = 6
STRATIFICATION_FACTORS = ("site", "age_band", "benefit_duration_band", "sex")

REASONS = {
    "under_18": "younger than 18 on the registration date",
    "benefit_under_6_months": "less than 6 months on benefit on the registration date",
    "reaches_pension_age_during_followup": (
        "reaches the state pension (AOW) age before the planned end of follow-up"
    ),
}


@dataclass(frozen=True)
class Assessment:
    eligible: bool
    reasons: list[str]
    age: int
    months_on_benefit: int
    age_band: str
    benefit_duration_band: str
    pension_age_date: date


def band_label(value: int, edges: list[int]) -> str:
    """``edges`` [18, 27, 35] give "<18", "18-26", "27-34", "35+"."""
    if value < edges[0]:
        return f"<{edges[0]}"
    for lower, upper in pairwise(edges):
        if lower <= value < upper:
            return f"{lower}-{upper - 1}"
    return f"{edges[-1]}+"


def whole_months(start: date, end: date) -> int:
    """Whole calendar months from ``start`` to ``end`` (``end`` not before ``start``).

    Exactly ``relativedelta(end, start)``'s years * 12 + months (a month from the 31st ends on
    the last day of a shorter month), in integer arithmetic: the analysis export computes it
    for every participant, where relativedelta would cost a second per 100,000.
    """
    months = (end.year - start.year) * 12 + end.month - start.month
    if start.day > end.day and end.day < monthrange(end.year, end.month)[1]:
        months -= 1
    return months


def whole_years(start: date, end: date) -> int:
    """Whole years from ``start`` to ``end``: an age, as ``relativedelta(end, start).years``."""
    return whole_months(start, end) // 12


def assess(
    trial: Trial, *, birth_date: date, benefit_start: date, registered_on: date
) -> Assessment:
    """Decide eligibility and bands; impossible dates are a 422 naming the field."""
    if birth_date >= registered_on:
        raise field_error(
            "birth_date",
            "lies on or after the registration date",
            code="birth_date_after_registration",
        )
    if whole_years(birth_date, registered_on) > 120:
        raise field_error("birth_date", "gives an age over 120 years", code="age_over_120")
    if whole_years(birth_date, registered_on) < PLAUSIBLE_AGE:
        raise field_error(
            "birth_date",
            f"gives an age under {PLAUSIBLE_AGE} years: check the birth date",
            code="age_implausibly_low",
            minimum=PLAUSIBLE_AGE,
        )
    if benefit_start > registered_on:
        raise field_error(
            "benefit_start",
            "lies after the registration date",
            code="benefit_start_after_registration",
        )
    if benefit_start < birth_date:
        raise field_error(
            "benefit_start", "lies before the birth date", code="benefit_start_before_birth"
        )

    age = whole_years(birth_date, registered_on)
    months = whole_months(benefit_start, registered_on)
    pension_date = pension_age_date(birth_date)
    followup_end = registered_on + relativedelta(years=trial.followup_years)
    reasons = []
    if age < MINIMUM_AGE:
        reasons.append("under_18")
    if months < MINIMUM_MONTHS_ON_BENEFIT:
        reasons.append("benefit_under_6_months")
    if pension_date <= followup_end:
        reasons.append("reaches_pension_age_during_followup")
    return Assessment(
        eligible=not reasons,
        reasons=reasons,
        age=age,
        months_on_benefit=months,
        age_band=band_label(age, trial.age_band_edges),
        benefit_duration_band=band_label(months, trial.duration_band_edges_months),
        pension_age_date=pension_date,
    )


def stratum_key(trial: Trial, site: Site, *, age_band: str, duration_band: str, sex: str) -> str:
    """The stratum as a readable key, e.g. ``site=bw|age_band=35-44|benefit_duration_band=60+``."""
    values = {
        "site": site.code,
        "age_band": age_band,
        "benefit_duration_band": duration_band,
        "sex": sex,
    }
    return "|".join(f"{factor}={values[factor]}" for factor in trial.stratify_by)


def stratum_levels(stratum: str) -> dict[str, str]:
    """Inverse of :func:`stratum_key`: the factor levels minimisation balances over."""
    return dict(part.split("=", 1) for part in stratum.split("|"))


_LEADING = re.compile(r"(\d+)")


def band_order(level: str) -> tuple[int, str]:
    """``<18`` < ``18-26`` < ``27-34`` < ``55+``: by the band's first number, "<" first."""
    match = _LEADING.search(level)
    number = int(match.group(1)) if match else 0
    return (number - 1 if level.startswith("<") else number, level)


def stratum_sort_key(stratum: str) -> tuple[tuple[int, str], ...]:
    """Strata in band order, factor by factor (for lists and figures)."""
    return tuple(band_order(part.partition("=")[2]) for part in stratum.split("|") if "=" in part)
