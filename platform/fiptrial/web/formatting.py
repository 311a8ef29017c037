"""How the pages write numbers, dates, money, municipalities, people and strata.

Numbers, percentages and money go through Babel in the page's language (Dutch: ``33,3%``,
``€ 14.000``, ``1.234``; English: ``33.3%``, ``€14,000``). Dates are dd-mm-jjjj in both
languages (the trial runs in the Netherlands and its letters use that form), times in the
trial's time zone. Municipalities are shown by name (``data/municipalities.csv``: the CBS
municipality codes with their names, including municipalities merged since, which older exports
still carry), people by their display name, never as ``user:name`` or a login name. Strata are
written in words (their order, ``<18`` before ``18-26`` before ``55+``, is
``services.eligibility.stratum_sort_key``).
"""

from __future__ import annotations

import csv
from datetime import date, datetime
from functools import cache
from importlib import resources

from flask import g
from flask_babel import format_currency, format_decimal, format_percent, get_locale
from flask_babel import lazy_gettext as _l

from fiptrial.services import users
from fiptrial.timezone import local_time


def _locale() -> str:
    return str(get_locale() or "nl")


def format_date(value: date | datetime | None) -> str:
    """dd-mm-jjjj, whatever the language (``–`` when there is no date)."""
    if value is None:
        return "–"
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    if isinstance(value, datetime):
        value = local_time(value)
    return value.strftime("%d-%m-%Y")


def format_datetime(value: datetime | str | None) -> str:
    if value is None:
        return "–"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return local_time(value).strftime("%d-%m-%Y %H:%M")


def format_number(value: float | int | None, digits: int = 0) -> str:
    if value is None:
        return "–"
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return str(format_decimal(value, format=pattern))


def format_share(value: float | None, digits: int = 1) -> str:
    """A share (0.333) as a percentage in the page's language: ``33,3%``."""
    if value is None:
        return "–"
    return str(format_percent(value, format="#,##0." + "0" * digits + "%"))


def format_money(value: float | int | None) -> str:
    """Whole euros: ``€ 14.000`` in Dutch, ``€14,000`` in English."""
    if value is None:
        return "–"
    pattern = "¤ #,##0" if _locale().startswith("nl") else "¤#,##0"
    return str(format_currency(value, "EUR", format=pattern, currency_digits=False))


# --- Municipalities ---------------------------------------------------------------------------


@cache
def municipality_names() -> dict[str, str]:
    text = resources.files("fiptrial.data").joinpath("municipalities.csv").read_text("utf-8")
    return {row["cbs_code"]: row["name"] for row in csv.DictReader(text.splitlines())}


def municipality_name(code: str | None) -> str:
    if not code:
        return "–"
    name = municipality_names().get(code.upper())
    if name:
        return name
    digits = code.upper().removeprefix("GM")
    return str(_l("onbekende gemeente (CBS-nummer %(n)s)", n=digits))


# --- People -----------------------------------------------------------------------------------

SYSTEM_ACTORS = {
    "demo": _l("demo-opbouw"),
    "scheduler": _l("planner (automatisch)"),
    "system": _l("het platform"),
    "test": _l("test"),
    "cli": _l("beheerder (opdrachtregel)"),
}


def _display_names() -> dict[str, str]:
    """username -> display name, read once per request."""
    names = g.get("_display_names")
    if names is None:
        names = users.display_names()
        g._display_names = names
    return names  # type: ignore[no-any-return]


def person(actor: str | None) -> str:
    """``user:coordinator`` or ``coordinator`` -> the display name; tokens and jobs in words."""
    if not actor:
        return "–"
    kind, _, name = actor.partition(":")
    if not name:
        kind, name = "user", actor
    if kind == "user":
        if name in _display_names():
            return _display_names()[name]
        return str(SYSTEM_ACTORS.get(name, name))
    if kind == "token":
        return str(_l("API-sleutel %(name)s", name=name))
    return str(SYSTEM_ACTORS.get(kind, actor))


# --- Strata -----------------------------------------------------------------------------------

STRATUM_FACTORS = {
    "age_band": (_l("leeftijd"), _l("jr")),
    "benefit_duration_band": (_l("in uitkering"), _l("mnd")),
    "sex": (_l("geslacht"), ""),
}
SEXES = {"male": _l("man"), "female": _l("vrouw")}


def format_stratum(stratum: str | None) -> str:
    """'site=bw|age_band=45-54|benefit_duration_band=60+' -> 'leeftijd 45-54 jr · in
    uitkering 60+ mnd' (the site is on the page already)."""
    if not stratum:
        return "–"
    parts = []
    for part in stratum.split("|"):
        factor, _, level = part.partition("=")
        if factor == "site":
            continue
        if factor == "sex":
            parts.append(str(SEXES.get(level, level)))
            continue
        label, unit = STRATUM_FACTORS.get(factor, (factor, ""))
        parts.append(f"{label} {level} {unit}".strip())
    return " · ".join(parts) or stratum


# --- Labels from the platform's data files ----------------------------------------------------


def _labels(filename: str, key: str = "code") -> dict[str, str]:
    """Code -> label in the page's language, from the platform's data files."""
    text = resources.files("fiptrial.data").joinpath(filename).read_text(encoding="utf-8")
    column = "label_en" if _locale().startswith("en") else "label_nl"
    return {row[key]: row[column] for row in csv.DictReader(text.splitlines())}


def exit_reason_labels() -> dict[str, str]:
    """BUS end-of-benefit code (kenmerk 34) -> its name."""
    return _labels("termination_categories.csv", key="bus_code")


def life_domain_labels() -> dict[str, str]:
    return _labels("life_domains.csv")


def intervention_labels() -> dict[str, str]:
    return _labels("intervention_types.csv")
