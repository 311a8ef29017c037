"""The trial's analysis plan: the estimands and their parameters, as plain data.

The platform stores one plan per trial, versioned and changeable until it is frozen; the plan
travels with the export (``<name>.plan.json``) and with every data freeze, so the report reads
the same choices the trial registered. The choice of which BUS end reasons count as the study's
outcome is its main analytic decision (from the pilot's own Table 4.1, leaving out moves takes
p from 0.059 to 0.080, leaving out the administrative ends too to 0.48): it belongs here, in a
frozen plan, not in code defaults.

The plan file is JSON: ``{"plan": {...}, "sha256": "...", "status": {...}}``. ``sha256`` is the
SHA-256 of the plan's canonical JSON (sorted keys, no spaces, UTF-8); ``status`` is what the
platform knows about the plan's history (frozen or not, changed after the first unblinded
report) and is not hashed.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from os import PathLike
from typing import Any

from .codes import termination_categories

OUTCOME_CLASSES = ("primary", "competing", "administrative")
SENSITIVITY_ANALYSES = (
    "any_exit_net",
    "any_exit_gross",
    "excluding_withdrawn_consent",
    "per_protocol",
    "complier_average",
    "random_effects_sites",
)
DEFAULT_CLASSES: dict[str, tuple[str, ...]] = {
    "primary": ("01", "02", "11", "13", "14", "15", "17", "18", "19"),
    "competing": ("04", "05", "32", "33", "03"),
    "administrative": ("31", "34", "35", "97", "98", "06", "07"),
}
PRIMARY_ESTIMAND = (
    "Difference between FIP and usual care, stratified by site, in the share of participants "
    "with a sustained exit from the benefit for a primary-outcome reason (work, own business, "
    "other income, a partner, study) confirmed by each horizon, among the participants whose "
    "horizon has passed; intention to treat (everyone in the arm of allocation)."
)
#: Why each default is what it is (shown with the plan and in the report).
REASONS: dict[str, str] = {
    "horizons_months": "12, 24 and 36 months: the pilot followed one year only, and the report "
    "asks for a longer follow-up; three horizons show whether an effect lasts.",
    "sustained_exit_days": "182 days (half a year): a client back on benefit within half a year "
    "has not left it for good; the re-entry opens a new spell in the spells file.",
    "primary": "Work (11), own business (13), other income (14, 15, 17, 18, 19), forming a "
    "household (02) and study with student finance (01): the ways out of assistance that FIP "
    "aims at.",
    "competing": "Death (04), detention (05), moving out of the site (32, 33) and reaching "
    "pension age (03) end the benefit but are not what FIP aims at; they compete with the "
    "outcome and are shown as cumulative incidences of their own.",
    "administrative": "No information (31), not appearing when summoned (34, 35), partner or "
    "other causes (97, 98), declining education (06) and staying abroad too long (07) are "
    "ends for administrative reasons: they are not successes, and the person may be back.",
    "pension_age": "Participants are censored at the AOW date known at allocation, never on an "
    "observed pension-age exit (that would condition on what happened after randomisation).",
    "hourly_cost": "Integral cost of one hour of a client manager's time: an assumption of the "
    "plan, not a sourced figure; set the site's own integral rate before freezing.",
    "conversation_minutes": "The trial's planned conversation lengths (first one about an hour, "
    "later ones shorter; pilot report chapter 3).",
}


@dataclass(frozen=True)
class AnalysisPlan:
    """The estimands of one trial and their parameters.

    Attributes
    ----------
    trial : str
        Trial code.
    version : int
        1, 2, ...: every change to the plan is a new version.
    primary_estimand : str
        The primary estimand in words.
    horizons_months : tuple of int
        Horizons of the primary outcome and of the benefit days; the first is primary.
    sustained_exit_days : int
        ``R``: an end counts as an exit when the person is not back on benefit within R days.
    classes : dict
        ``primary``, ``competing`` and ``administrative``: the BUS end codes of each class;
        every current code belongs to exactly one.
    sensitivity : tuple of str
        The sensitivity analyses of the plan (names from ``SENSITIVITY_ANALYSES``).
    hourly_cost : float
        Euros per hour of a client manager's time (the cost of FIP itself).
    first_conversation_minutes, later_conversation_minutes : int
        Minutes of the first and of every later held conversation.
    """

    trial: str = ""
    version: int = 1
    primary_estimand: str = PRIMARY_ESTIMAND
    horizons_months: tuple[int, ...] = (12, 24, 36)
    sustained_exit_days: int = 182
    classes: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_CLASSES))
    sensitivity: tuple[str, ...] = SENSITIVITY_ANALYSES
    hourly_cost: float = 70.0
    first_conversation_minutes: int = 60
    later_conversation_minutes: int = 45

    def __post_init__(self) -> None:
        check_plan(self)

    def class_of(self) -> dict[str, str]:
        """BUS code -> its class."""
        return {code: name for name, codes in self.classes.items() for code in codes}

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["horizons_months"] = list(self.horizons_months)
        data["classes"] = {name: list(self.classes[name]) for name in OUTCOME_CLASSES}
        data["sensitivity"] = list(self.sensitivity)
        return data

    def canonical_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.canonical_json().encode("utf-8")).hexdigest()

    def changed(self, **values: Any) -> AnalysisPlan:
        """A copy with ``values`` changed and the version counted up (checked)."""
        return plan_from_dict({**self.to_dict(), **values, "version": self.version + 1})


def _whole(value: Any, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be a whole number from {low} to {high}")
    return value


def check_plan(plan: AnalysisPlan) -> None:
    """Refuse a plan that the report could not follow, naming what is wrong."""
    _whole(plan.version, "version", 1, 10**6)
    if not plan.horizons_months:
        raise ValueError("horizons_months needs at least one horizon")
    for horizon in plan.horizons_months:
        _whole(horizon, "each horizon in horizons_months", 1, 240)
    if len(set(plan.horizons_months)) != len(plan.horizons_months):
        raise ValueError("horizons_months repeats a horizon")
    _whole(plan.sustained_exit_days, "sustained_exit_days", 0, 3650)
    _whole(plan.first_conversation_minutes, "first_conversation_minutes", 0, 480)
    _whole(plan.later_conversation_minutes, "later_conversation_minutes", 0, 480)
    cost = plan.hourly_cost
    if isinstance(cost, bool) or not isinstance(cost, int | float) or not math.isfinite(cost):
        raise ValueError("hourly_cost must be a number of euros")
    if cost < 0:
        raise ValueError("hourly_cost must not be negative")
    if not isinstance(plan.primary_estimand, str) or not plan.primary_estimand.strip():
        raise ValueError("primary_estimand must say what is estimated")
    if set(plan.classes) != set(OUTCOME_CLASSES):
        raise ValueError(f"classes must name exactly {', '.join(OUTCOME_CLASSES)}")
    seen: dict[str, str] = {}
    known = termination_categories()
    for name in OUTCOME_CLASSES:
        for code in plan.classes[name]:
            if code not in known:
                raise ValueError(f"classes.{name}: {code!r} is not a current BUS end code")
            if code in seen:
                raise ValueError(f"BUS code {code} is in both {seen[code]} and {name}")
            seen[code] = name
    missing = sorted(set(known) - set(seen))
    if missing:
        raise ValueError(f"BUS code(s) {', '.join(missing)} belong to no class")
    if not plan.classes["primary"]:
        raise ValueError("classes.primary needs at least one code")
    unknown = sorted(set(plan.sensitivity) - set(SENSITIVITY_ANALYSES))
    if unknown:
        raise ValueError(
            f"sensitivity: unknown analyses {unknown}; choose from {list(SENSITIVITY_ANALYSES)}"
        )


PLAN_KEYS = tuple(AnalysisPlan.__dataclass_fields__)


def plan_from_dict(data: Mapping[str, Any]) -> AnalysisPlan:
    """The plan from its JSON form; unknown keys and bad values are refused by name."""
    if not isinstance(data, Mapping):
        raise ValueError("the analysis plan must be a JSON object")
    unknown = sorted(set(data) - set(PLAN_KEYS))
    if unknown:
        raise ValueError(f"the analysis plan has unknown keys {unknown}; use {list(PLAN_KEYS)}")
    values: dict[str, Any] = dict(data)
    for key in ("horizons_months", "sensitivity"):
        if key in values:
            if not isinstance(values[key], list | tuple):
                raise ValueError(f"{key} must be a list")
            values[key] = tuple(values[key])
    if "classes" in values:
        classes = values["classes"]
        if not isinstance(classes, Mapping) or any(
            not isinstance(codes, list | tuple) for codes in classes.values()
        ):
            raise ValueError("classes must map each class to a list of BUS codes")
        values["classes"] = {
            str(name): tuple(str(code).strip().zfill(2) for code in codes)
            for name, codes in classes.items()
        }
    cost = values.get("hourly_cost")
    if isinstance(cost, int) and not isinstance(cost, bool):
        values["hourly_cost"] = float(cost)
    return AnalysisPlan(**values)


def default_plan(trial: str = "") -> AnalysisPlan:
    return AnalysisPlan(trial=trial)


#: The report's loud warnings about its plan, by code. English message ids: the report's
#: template shows them through the package's catalogue (``locale/nl``), with the version.
PLAN_WARNINGS = {
    "no_plan": "NO ANALYSIS PLAN came with the data: the report follows the default plan, "
    "which is not the trial's registered plan.",
    "unfrozen": "UNFROZEN ANALYSIS PLAN: version %(version)s can still be changed; figures from "
    "it are not the trial's confirmatory result.",
    "changed_after_report": "THE ANALYSIS PLAN WAS CHANGED AFTER THE FIRST UNBLINDED REPORT: the "
    "estimands may have been chosen with knowledge of the results.",
}


def warning_codes(*, given: bool, frozen: bool, changed_after_report: bool) -> list[str]:
    """Which of :data:`PLAN_WARNINGS` a report under this plan must print, in order."""
    out = []
    if not given:
        out.append("no_plan")
    elif not frozen:
        out.append("unfrozen")
    if changed_after_report:
        out.append("changed_after_report")
    return out


@dataclass(frozen=True)
class PlanFile:
    """A plan as the platform hands it over, with what it knows about the plan's history.

    ``frozen``: the plan was frozen (its hash is in the audit chain). ``changed_after_report``:
    an unblinded report was run on an earlier version of this plan. ``given``: False when no
    plan came with the data and the defaults are used.
    """

    plan: AnalysisPlan
    frozen: bool = False
    frozen_at: str | None = None
    changed_after_report: bool = False
    given: bool = True

    @property
    def warning_codes(self) -> list[str]:
        return warning_codes(
            given=self.given, frozen=self.frozen, changed_after_report=self.changed_after_report
        )

    @property
    def warnings(self) -> list[str]:
        return [PLAN_WARNINGS[code] % {"version": self.plan.version} for code in self.warning_codes]

    def describe(self) -> dict[str, Any]:
        return {
            "version": self.plan.version,
            "sha256": self.plan.sha256,
            "frozen": self.frozen,
            "frozen_at": self.frozen_at,
            "changed_after_first_unblinded_report": self.changed_after_report,
            "given": self.given,
            "warnings": self.warnings,
            "plan": self.plan.to_dict(),
            "reasons": REASONS,
        }

    def to_json(self) -> str:
        return (
            json.dumps(
                {
                    "plan": self.plan.to_dict(),
                    "sha256": self.plan.sha256,
                    "status": {
                        "frozen": self.frozen,
                        "frozen_at": self.frozen_at,
                        "changed_after_first_unblinded_report": self.changed_after_report,
                    },
                },
                indent=1,
                sort_keys=True,
                ensure_ascii=False,
            )
            + "\n"
        )


def parse_plan_file(text: str) -> PlanFile:
    """Read a plan file; a hash that does not match the plan is refused."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"the plan file is not JSON ({error.msg}, line {error.lineno})") from None
    if not isinstance(data, Mapping) or "plan" not in data:
        raise ValueError("the plan file must be a JSON object with a 'plan' key")
    plan = plan_from_dict(data["plan"])
    stated = data.get("sha256")
    if stated is not None and stated != plan.sha256:
        raise ValueError("the plan file's sha256 does not match its plan: the plan was altered")
    status = data.get("status") or {}
    if not isinstance(status, Mapping):
        raise ValueError("the plan file's status must be an object")
    return PlanFile(
        plan=plan,
        frozen=bool(status.get("frozen", False)),
        frozen_at=status.get("frozen_at"),
        changed_after_report=bool(status.get("changed_after_first_unblinded_report", False)),
    )


def read_plan_file(path: str | PathLike[str]) -> PlanFile:
    with open(path, encoding="utf-8-sig") as handle:
        return parse_plan_file(handle.read())


__all__ = [
    "DEFAULT_CLASSES",
    "OUTCOME_CLASSES",
    "REASONS",
    "SENSITIVITY_ANALYSES",
    "AnalysisPlan",
    "PlanFile",
    "default_plan",
    "parse_plan_file",
    "plan_from_dict",
    "read_plan_file",
]
