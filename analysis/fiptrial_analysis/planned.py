"""The report under the trial's analysis plan, from the participant and the spells file.

Every estimate is stratified by site (or standardised to the trial's site mix) and names its
estimand; :data:`ESTIMANDS` holds the words the JSON and the HTML report print next to them.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from .clustering import icc_anova, manager_effects
from .codes import termination_categories
from .competing import cumulative_incidence_by_group, gray_test
from .contingency import odds_ratio
from .cox import cox_stratified
from .means import complier_average_effect, standardised_mean_difference
from .metaanalysis import random_effects
from .outcomes import CAUSES, HorizonOutcome, PlannedOutcomes
from .participants import Participants
from .plan import OUTCOME_CLASSES, PlanFile
from .rmst import rmst_difference
from .standardisation import standardised_risk_difference
from .stratified import mantel_haenszel

DAYS_PER_YEAR = 365.25
ADJUSTMENT_FACTORS = ("age_band", "benefit_duration_band")

ESTIMANDS = {
    "primary": "Risk difference (FIP minus usual care) of a sustained exit for a primary-outcome "
    "reason confirmed by the horizon, among participants whose horizon has passed before the "
    "end of follow-up and their AOW date; Mantel-Haenszel stratified by site (Sato interval) "
    "and the odds ratio (Robins-Breslow-Greenland), with the covariate-adjusted marginal risk "
    "difference by standardisation (logistic model with site and the stratification factors, "
    "g-computation, sandwich variance clustered on the benefit unit).",
    "time_to_sustained_exit": "Cause-specific hazard ratio of a sustained primary exit, Cox "
    "model stratified by site (Efron ties), cluster-robust (Lin-Wei) on the benefit unit; "
    "competing and administrative ends censor.",
    "benefit_days": "Difference in mean days on benefit from allocation to the horizon (every "
    "spell counts, re-entries too), among participants whose horizon has passed, standardised "
    "to the trial's site mix; variance clustered on the benefit unit. Negative: FIP saves days.",
    "rmst_to_sustained_exit": "Restricted mean days to the first sustained exit (Kaplan-Meier "
    "per site and arm, standardised with the site shares); a horizon not reached by the "
    "follow-up is not estimable.",
    "costs": "Net saving per FIP participant = -(difference in mean cost per participant), the "
    "cost being benefit days x cost per benefit-year / 365.25 plus FIP's own cost (first "
    "conversation minutes + later conversation minutes x (held - 1), at the hourly cost); "
    "site-standardised with its interval; the total scales it by the FIP participants.",
    "competing_risks": "Aalen-Johansen cumulative incidence of the first sustained end of each "
    "class (primary, competing, administrative), each arm standardised to the site mix; Gray's "
    "test stratified by site. The table reads each curve at the horizon minus R days: an exit "
    "by then is confirmed sustained by the horizon, as in the primary outcome.",
    "client_managers": "Among FIP participants with a client manager: ANOVA intraclass "
    "correlation of the primary outcome at the first horizon, and each manager's risk minus the "
    "usual-care risk with REML between-manager variance and shrunken estimates (caterpillar).",
    "sites": "Site log odds ratios of the primary outcome at the first horizon pooled by "
    "random effects: DerSimonian-Laird, and REML and Paule-Mandel with the Hartung-Knapp "
    "interval and a prediction interval for a new site.",
    "sensitivity": "Any exit (the pilot's definition: the first end of any reason by the "
    "horizon, no sustained rule, no AOW censoring; gross, and net of pension-age exits), the "
    "primary analysis without participants who withdrew consent, per protocol (FIP "
    "participants with at least one conversation held against all of usual care: NOT a "
    "randomised comparison), and the complier-average effect (IV / Wald, allocation as the "
    "instrument) of receiving at least one conversation.",
    "exits_by_reason": "First sustained end by BUS reason and class, share of each arm "
    "standardised to the site mix.",
    "exploratory": "EXPLORATORY, not randomised: the primary outcome by conversations held "
    "among FIP participants. Dose is chosen by the participant and the client manager, so "
    "these shares are not effects of FIP.",
}


def _num(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _ci(ci: tuple[float, float]) -> list[float | None]:
    return [_num(ci[0]), _num(ci[1])]


def _tables(outcome: NDArray[np.bool_], fip: NDArray[np.bool_], site: NDArray[np.intp], k: int):
    cell = site * 2 + (~fip).astype(np.intp)
    n = np.bincount(cell, minlength=2 * k).reshape(k, 2)
    e = np.bincount(cell, weights=outcome.astype(float), minlength=2 * k).reshape(k, 2)
    return np.stack([e, n - e], axis=2)  # (K, arm [fip, control], [event, none])


def _mh(outcome: NDArray[np.bool_], p: Participants, keep: NDArray[np.bool_]) -> dict[str, Any]:
    tables = _tables(outcome[keep], p.fip[keep], p.site[keep], p.site_labels.size)
    usable = tables.sum(axis=(1, 2)) >= 2
    arms = {
        arm: {"n": int(tables[:, i].sum()), "events": int(tables[:, i, 0].sum())}
        for i, arm in enumerate(("fip", "control"))
    }
    out: dict[str, Any] = {"arms": arms, "n": int(keep.sum())}
    if not usable.any() or min(a["n"] for a in arms.values()) == 0:
        return {**out, "estimable": False, "note": "no site has both arms with two participants"}
    mh = mantel_haenszel(tables[usable])
    return {
        **out,
        "estimable": bool(mh.risk_difference_estimable),
        "risk_difference": _num(mh.risk_difference),
        "risk_difference_ci": _ci(mh.risk_difference_ci),
        "odds_ratio": _num(mh.odds_ratio),
        "odds_ratio_ci": _ci(mh.odds_ratio_ci),
        "statistic": _num(mh.statistic),
        "pvalue": _num(mh.pvalue),
        "sites_used": int(usable.sum()),
        "notes": list(mh.notes),
    }


ARM_LABELS = {0: "control", 1: "fip"}


def _code(label: object) -> int:
    return int(label)  # type: ignore[call-overload]


def _varies(values: NDArray[Any]) -> bool:
    return bool(values.size) and bool(np.any(values != values[0]))


def _labels(p: Participants) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Arm (1 = FIP, 0 = control, the reference) and benefit unit as integer codes, so that no
    estimate sorts 400,000 strings again."""
    cached = p.optional.get("_unit_codes")
    if cached is None:
        unit = p.optional.get("unit")
        if unit is None or np.any(unit == ""):
            unit = p.ids
        cached = pd.factorize(unit)[0].astype(np.intp)
        p.optional["_unit_codes"] = cached
    return p.fip.astype(np.intp), cached


def _standardised(y: NDArray[np.bool_], p: Participants, keep: NDArray[np.bool_]) -> Any:
    arm, unit = _labels(p)
    factors = {
        name: p.optional[name][keep]
        for name in ADJUSTMENT_FACTORS
        if name in p.optional and _varies(p.optional[name][keep])
    }
    result = standardised_risk_difference(
        y[keep].astype(float), arm[keep], p.site[keep], factors, unit[keep], reference=0
    )
    return {
        "estimable": result.estimable,
        "difference": _num(result.difference),
        "ci": _ci(result.ci),
        "pvalue": _num(result.pvalue),
        "risks": {ARM_LABELS[_code(k)]: _num(v) for k, v in result.risks.items()},
        "adjusted_for": ["site", *factors],
        "note": result.note or None,
    }


def _mean_difference(values: NDArray[np.float64], p: Participants, keep: NDArray[np.bool_]):
    arm, unit = _labels(p)
    if not _varies(arm[keep]):
        return None
    return standardised_mean_difference(
        values[keep], arm[keep], p.site[keep], unit[keep], reference=0
    )


def _conversation_cost(p: Participants, plan: PlanFile) -> NDArray[np.float64]:
    held = np.nan_to_num(p.optional.get("conversations_held", np.zeros(p.n)), nan=0.0)
    held = np.where(p.fip, held, 0.0)
    first, later = plan.plan.first_conversation_minutes, plan.plan.later_conversation_minutes
    minutes = np.where(held > 0, first + later * np.maximum(held - 1, 0), 0.0)
    return minutes / 60.0 * plan.plan.hourly_cost


def _horizon(
    h: HorizonOutcome, p: Participants, plan: PlanFile, cost_per_year: float
) -> dict[str, Any]:
    keep = h.passed
    out: dict[str, Any] = {"months": h.months, "participants": int(keep.sum())}
    out["mantel_haenszel"] = _mh(h.sustained, p, keep)
    if not out["mantel_haenszel"]["estimable"] and out["mantel_haenszel"].get("note"):
        out["standardised"] = {"estimable": False, "note": out["mantel_haenszel"]["note"]}
        return out
    out["standardised"] = _standardised(h.sustained, p, keep)
    days = _mean_difference(h.benefit_days, p, keep)
    if days is not None:
        out["benefit_days"] = {
            "difference": _num(days.difference),
            "ci": _ci(days.ci),
            "pvalue": _num(days.pvalue),
            "means": {ARM_LABELS[_code(k)]: _num(v) for k, v in days.means.items()},
        }
        cost = h.benefit_days * cost_per_year / DAYS_PER_YEAR + _conversation_cost(p, plan)
        money = _mean_difference(cost, p, keep)
        assert money is not None
        fip_cost = _conversation_cost(p, plan)[keep & p.fip]
        n_fip = int((keep & p.fip).sum())
        saving = -money.difference
        out["costs"] = {
            "cost_per_benefit_year": cost_per_year,
            "benefit_days_saved_per_fip_participant": _num(-days.difference),
            "fip_cost_per_fip_participant": _num(fip_cost.mean()) if fip_cost.size else None,
            "net_saving_per_fip_participant": _num(saving),
            "net_saving_per_fip_participant_ci": [_num(-money.ci[1]), _num(-money.ci[0])],
            "fip_participants": n_fip,
            "net_saving_total": _num(saving * n_fip),
            "net_saving_total_ci": [_num(-money.ci[1] * n_fip), _num(-money.ci[0] * n_fip)],
        }
    return out


def _cif(p: Participants, o: PlannedOutcomes, plan: PlanFile) -> dict[str, Any]:
    arm, _ = _labels(p)
    # At H - R: an exit by then is confirmed sustained by the horizon, as the primary outcome.
    r = plan.plan.sustained_exit_days
    horizons = [max(float(np.round(h.months * DAYS_PER_YEAR / 12)) - r, 0.0) for h in o.horizons]
    out: dict[str, Any] = {}
    for name in OUTCOME_CLASSES:
        code = CAUSES[name]
        entry: dict[str, Any] = {"codes": list(plan.plan.classes[name])}
        try:
            curves = cumulative_incidence_by_group(o.time, o.cause, code, arm, p.site)
        except ValueError as error:
            out[name] = {**entry, "note": str(error)}
            continue
        for label, curve in curves.items():
            entry[ARM_LABELS[_code(label)]] = {
                "times": curve.times.tolist(),
                "incidence": curve.incidence.tolist(),
                "ci_lower": [_num(v) for v in curve.ci_lower.tolist()],
                "ci_upper": [_num(v) for v in curve.ci_upper.tolist()],
                "at_horizons": {
                    str(h.months): _num(v)
                    for h, v in zip(o.horizons, curve.at(horizons), strict=True)
                },
            }
        test = gray_test(o.time, o.cause, arm, code, strata=p.site)
        entry["gray"] = {
            "statistic": _num(test.statistic),
            "pvalue": _num(test.pvalue),
            "estimable": test.estimable,
            "note": test.note or None,
        }
        out[name] = entry
    # The curve matching the Cox model: 1 - standardised Kaplan-Meier of a sustained primary exit.
    primary_only = np.where(o.cause == CAUSES["primary"], 1, 0)
    try:
        curves = cumulative_incidence_by_group(o.time, primary_only, 1, arm, p.site)
        out["no_sustained_exit"] = {
            ARM_LABELS[_code(label)]: {
                "times": c.times.tolist(),
                "survival": (1 - c.incidence).tolist(),
            }
            for label, c in curves.items()
        }
    except ValueError as error:
        out["no_sustained_exit"] = {"note": str(error)}
    return out


def _managers(p: Participants, y: NDArray[np.bool_], keep: NDArray[np.bool_], control_risk):
    manager = p.optional.get("client_manager")
    if manager is None:
        return {"note": "the participant file has no client manager column"}
    mine = keep & p.fip & (manager != "")
    if not _varies(manager[mine]):
        return {"note": "fewer than two client managers with FIP participants whose horizon passed"}
    icc = icc_anova(y[mine].astype(float), manager[mine])
    effects = manager_effects(y[mine].astype(float), manager[mine], control_risk or 0.0)
    return {
        "icc": _num(icc.icc),
        "icc_estimable": icc.estimable,
        "managers": len(effects.managers),
        "participants": int(mine.sum()),
        "tau": _num(effects.tau),
        "tau2": _num(effects.pooled.tau2),
        "prediction_interval": _ci(effects.pooled.prediction_interval),
        "caterpillar": [
            {"manager": str(m), "n": int(n), "blup": _num(b), "ci": [_num(lo), _num(hi)]}
            for m, n, b, lo, hi in zip(
                effects.managers,
                effects.n,
                effects.blup,
                effects.blup_ci_lower,
                effects.blup_ci_upper,
                strict=True,
            )
        ],
        "reference_risk": _num(control_risk),
    }


def _sites(p: Participants, y: NDArray[np.bool_], keep: NDArray[np.bool_]) -> dict[str, Any]:
    tables = _tables(y[keep], p.fip[keep], p.site[keep], p.site_labels.size)
    rows = [t for t in tables if t[0].sum() > 0 and t[1].sum() > 0]
    if len(rows) < 2:
        return {"note": "fewer than two sites with both arms"}
    fits = [odds_ratio(t) for t in rows]
    y_log = [f.log_estimate for f in fits]
    v_log = [f.log_variance for f in fits]
    out: dict[str, Any] = {"k": len(rows)}
    for key, method, hk in (("DL", "DL", False), ("REML_HK", "REML", True), ("PM_HK", "PM", True)):
        re = random_effects(y_log, v_log, method=method, hartung_knapp=hk)
        out[key] = {
            "odds_ratio": math.exp(re.estimate),
            "ci": [math.exp(re.ci[0]), math.exp(re.ci[1])],
            "prediction_interval": [
                math.exp(re.prediction_interval[0]), math.exp(re.prediction_interval[1])
            ],
            "tau2": re.tau2,
            "i2": re.i2,
            "pvalue": _num(re.pvalue),
        }  # fmt: skip
    return out


def _sensitivity(p: Participants, o: PlannedOutcomes) -> dict[str, Any]:
    arm, unit = _labels(p)
    consent = p.optional.get("consent_status")
    if consent is not None:
        codes, found = pd.factorize(consent)
        consent = np.char.lower(np.asarray(found, dtype=str))[codes] if found.size else consent
    held = np.nan_to_num(p.optional.get("conversations_held", np.full(p.n, np.nan)), nan=-1)
    out: dict[str, Any] = {}
    for h in o.horizons:
        entry: dict[str, Any] = {
            "any_exit_gross": _mh(h.any_exit, p, h.passed_any),
            "any_exit_net": _mh(h.any_exit, p, h.passed_any & ~h.pension_exit),
        }
        if consent is not None:
            entry["excluding_withdrawn_consent"] = _mh(
                h.sustained, p, h.passed & (consent != "withdrawn")
            )
        if "conversations_held" in p.optional:
            protocol = h.passed & (~p.fip | (held >= 1))
            entry["per_protocol"] = {
                **_mh(h.sustained, p, protocol),
                "label": "per protocol: not a randomised comparison",
            }
            keep = h.passed
            if _varies(arm[keep]):
                cace = complier_average_effect(
                    h.sustained[keep].astype(float), (p.fip & (held >= 1))[keep].astype(float),
                    arm[keep], p.site[keep], unit[keep], reference=0,
                )  # fmt: skip
                entry["complier_average"] = {
                    "effect": _num(cace.effect),
                    "ci": _ci(cace.ci),
                    "pvalue": _num(cace.pvalue),
                    "compliance": _num(cace.compliance),
                    "estimable": cace.estimable,
                    "note": cace.note or None,
                }
        out[str(h.months)] = entry
    return out


def _exits_by_reason(p: Participants, o: PlannedOutcomes, plan: PlanFile) -> list[dict[str, Any]]:
    k = p.site_labels.size
    size = np.bincount(p.site * 2 + (~p.fip), minlength=2 * k).reshape(k, 2).astype(float)
    used = (size > 0).all(axis=1)
    weight = np.where(used, size.sum(axis=1), 0) / max(size[used].sum(), 1)
    classes = plan.plan.class_of()
    rows = []
    for code, category in termination_categories().items():
        mine = o.end_code == code
        counts = np.bincount(p.site[mine] * 2 + (~p.fip[mine]), minlength=2 * k).reshape(k, 2)
        share = np.divide(counts, size, out=np.zeros((k, 2)), where=size > 0)
        standardised = (weight[:, None] * share).sum(axis=0)
        rows.append(
            {
                "code": code,
                "label_en": category.label_en,
                "label_nl": category.label_nl,
                "class": classes[code],
                "fip": int(counts[:, 0].sum()),
                "control": int(counts[:, 1].sum()),
                "fip_share": float(standardised[0]),
                "control_share": float(standardised[1]),
            }
        )
    return rows


def _exploratory(p: Participants, o: PlannedOutcomes) -> dict[str, Any]:
    if "conversations_held" not in p.optional or not o.horizons:
        return {"label": "exploratory", "note": "no conversation records in the file"}
    h = o.horizons[0]
    held = np.nan_to_num(p.optional["conversations_held"], nan=0)
    mine = p.fip & h.passed
    bands = (("0", held < 1), ("1-3", (held >= 1) & (held < 4)), ("4 or more", held >= 4))
    return {
        "label": "exploratory: not randomised",
        "horizon_months": h.months,
        "by_conversations_held": [
            {
                "held": name,
                "n": int((mine & m).sum()),
                "share": _num(h.sustained[mine & m].mean()) if (mine & m).any() else None,
            }
            for name, m in bands
        ],
    }


def planned_report(
    p: Participants, o: PlannedOutcomes, plan: PlanFile, cost_per_benefit_year: float
) -> dict[str, Any]:
    """The report section ``planned``: every estimate of the plan, each with its estimand."""
    arm, unit = _labels(p)
    horizons = [_horizon(h, p, plan, cost_per_benefit_year) for h in o.horizons]
    first = o.horizons[0]
    event = o.cause == CAUSES["primary"]
    cox = cox_stratified(o.time, event, arm, strata=p.site, cluster=unit, reference=0)
    rmst = {}
    for h in o.horizons:
        days = float(np.round(h.months * DAYS_PER_YEAR / 12))
        fit = rmst_difference(o.time, event, arm, days, strata=p.site, reference=0)
        rmst[str(h.months)] = {
            "horizon_days": days,
            "difference": _num(fit.difference),
            "ci": _ci(fit.ci),
            "estimable": fit.estimable,
            "note": fit.note or None,
        }
    primary = horizons[0]
    control_risk = (primary.get("standardised") or {}).get("risks", {}).get("control")
    return {
        "plan": plan.describe(),
        "estimands": ESTIMANDS,
        "primary_horizon_months": first.months,
        "horizons": horizons,
        "time_to_sustained_exit": {
            "hazard_ratio": _num(cox.hazard_ratio),
            "ci": _ci(cox.ci),
            "log_hazard_ratio": _num(cox.log_hazard_ratio),
            "se": _num(cox.se),
            "model_se": _num(cox.model_se),
            "pvalue": _num(cox.pvalue),
            "events": cox.events,
            "clusters": cox.clusters,
            "estimable": cox.estimable,
            "note": cox.note or None,
        },
        "rmst_to_sustained_exit": rmst,
        "competing_risks": _cif(p, o, plan),
        "client_managers": _managers(p, first.sustained, first.passed, control_risk),
        "sites": _sites(p, first.sustained, first.passed),
        "sensitivity": _sensitivity(p, o),
        "exits_by_reason": _exits_by_reason(p, o, plan),
        "exploratory": _exploratory(p, o),
        "data_quality": {
            "off_benefit_at_allocation": o.off_benefit_at_allocation,
            "ends_too_late_to_judge": o.unconfirmed_ends,
        },
    }
