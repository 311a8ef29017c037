"""The trial report: every figure of the pooled analysis as one JSON-ready dictionary.

:func:`build_report` is what the CLI, the HTML page and the platform call. It takes the columns of
the participant file (or a list of row dictionaries) and returns plain Python values only, so
``json.dumps(report)`` works as it is (NaN and infinity become ``None``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .codes import PENSION_AGE_CODE, WORK_CODES, termination_categories
from .consort import _check_consort, _consort
from .contingency import chi_square, odds_ratio, risk_difference
from .metaanalysis import random_effects
from .outcomes import derive_outcomes, prepare_spells
from .participants import BASELINE_COLUMNS, Participants, columns_from_rows, prepare_participants
from .plan import PlanFile, default_plan
from .planned import planned_report
from .stratified import breslow_day, mantel_haenszel
from .survival import cumulative_incidence, kaplan_meier, log_rank

DEFAULT_COST_PER_BENEFIT_YEAR = 14000.0
DAYS_PER_YEAR = 365.25
SURVIVAL_SUMMARY_DAYS = (182, 365, 730)

DEFINITIONS = {
    "n": "Participants allocated to the arm (intention to treat: everyone allocated is analysed "
    "in the arm of allocation).",
    "exits": "Participants whose benefit ended, for any reason, between allocation and the end "
    "of their follow-up; exits after the end of follow-up are not counted.",
    "pension_age_exits": "Exits with BUS code 03 (reached state pension age).",
    "gross_ratio": "exits / n.",
    "net_ratio": "(exits - pension-age exits) / (n - pension-age exits): participants who "
    "reached pension age are left out of numerator and denominator.",
    "chi_square": "Pearson's chi-square without continuity correction on the net 2x2 table "
    "[[net exits FIP, net non-exits FIP], [net exits control, net non-exits control]], all "
    "sites pooled (unstratified).",
    "risk_difference": "Net ratio FIP minus net ratio control, all sites pooled, with Newcombe's "
    "hybrid score interval (method 10).",
    "sites": "Per site the same counts and ratios, the net risk difference (Newcombe interval) "
    "and the net odds ratio (Woolf interval; 0.5 added to every cell when one is zero).",
    "mantel_haenszel": "Cochran-Mantel-Haenszel test stratified by site on the net tables (with "
    "continuity correction, as R's mantelhaen.test), the Mantel-Haenszel common odds ratio with "
    "the Robins-Breslow-Greenland interval and the Mantel-Haenszel risk difference with the "
    "Sato-Greenland-Robins interval; sites with fewer than two participants are left out.",
    "breslow_day": "Breslow-Day test with Tarone's adjustment that the net odds ratio is the "
    "same in every site (sites without both arms and both outcomes are left out).",
    "random_effects": "DerSimonian-Laird random-effects pooling of the site log odds ratios "
    "(sites with both arms); i2 is a fraction.",
    "primary": "With more than one site the primary result is the site-stratified "
    "Mantel-Haenszel analysis, because allocation ratios and base rates differ between sites "
    "and the pooled comparison is then confounded by site; with one site it is the chi-square "
    "and risk difference.",
    "survival": "Time to first exit in days from allocation; exits for pension age are "
    "censored at their date (the net definition), everyone else at the end of follow-up. "
    "Kaplan-Meier per arm with Greenwood log-scale intervals; log-rank test stratified by site.",
    "cumulative_incidence_work": "Aalen-Johansen cumulative incidence of exit to work (BUS 11 "
    "employment and 13 self-employment) with all other exits, pension age included, as "
    "competing events.",
    "exits_by_code": "Exits within follow-up per BUS reason (kenmerk 34) and arm, with the "
    "share of the arm's participants.",
    "costs": "Extra exits = primary net risk difference x FIP participants in the net "
    "population; benefit-years saved = sum over sites of FIP net participants x (mean days on "
    "benefit in control - mean days on benefit in FIP) / 365.25, counted within the follow-up "
    "only; savings = benefit-years saved x cost per benefit-year. The savings if each extra "
    "exit saved one benefit-year are the pilot report's own method, shown for comparison.",
    "baseline": "Per characteristic and level the count and share of each arm, and the "
    "standardised difference d = (p1 - p0) / sqrt((p1 q1 + p0 q0) / 2), 1 for FIP and 0 for "
    "control, q = 1 - p; |d| above 0.1 is commonly read as imbalance.",
    "consort": "Assessed and eligible come from the CONSORT sidecar when given; randomised and "
    "allocated are the rows of the file; received the allocated intervention: FIP participants "
    "with at least one conversation held (control: usual care); lost to follow-up: consent "
    "withdrawn; analysed is everyone allocated (intention to treat).",
}


def _num(value: Any) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None


def _nums(values: NDArray[Any]) -> list[float | None]:
    array = np.asarray(values, dtype=float)
    return [x if math.isfinite(x) else None for x in array.tolist()]


def _interval(ci: tuple[float, float]) -> list[float | None]:
    return [_num(ci[0]), _num(ci[1])]


def _arm_counts(n: float, exits: float, pension: float) -> dict[str, Any]:
    net_n = n - pension
    return {
        "n": int(n),
        "exits": int(exits),
        "pension_age_exits": int(pension),
        "net_n": int(net_n),
        "net_exits": int(exits - pension),
        "gross_ratio": _num(exits / n) if n else None,
        "net_ratio": _num((exits - pension) / net_n) if net_n else None,
    }


def _net_table(fip: Mapping[str, Any], control: Mapping[str, Any]) -> list[list[int]]:
    return [
        [fip["net_exits"], fip["net_n"] - fip["net_exits"]],
        [control["net_exits"], control["net_n"] - control["net_exits"]],
    ]


def _site_counts(p: Participants) -> NDArray[np.float64]:
    """Counts per site and arm: shape (sites, 2 arms [fip, control], 3 [n, exits, pension])."""
    k = p.site_labels.size
    cell = p.site * 2 + (~p.fip).astype(np.intp)
    out = np.empty((k * 2, 3))
    out[:, 0] = np.bincount(cell, minlength=k * 2)
    out[:, 1] = np.bincount(cell, weights=p.exited.astype(float), minlength=k * 2)
    out[:, 2] = np.bincount(cell, weights=p.pension.astype(float), minlength=k * 2)
    return out.reshape(k, 2, 3)


def _sites(p: Participants, counts: NDArray[np.float64], alpha: float) -> list[dict[str, Any]]:
    sites = []
    for index, label in enumerate(p.site_labels.tolist()):
        fip = _arm_counts(*counts[index, 0])
        control = _arm_counts(*counts[index, 1])
        entry: dict[str, Any] = {
            "site": label,
            "arms": {"fip": fip, "control": control},
            "risk_difference": None,
            "odds_ratio": None,
        }
        if fip["net_n"] > 0 and control["net_n"] > 0:
            table = _net_table(fip, control)
            rd = risk_difference(table, alpha=alpha)
            ratio = odds_ratio(table, alpha=alpha)
            entry["risk_difference"] = {"estimate": rd.estimate, "ci": _interval(rd.ci)}
            entry["odds_ratio"] = {
                "estimate": _num(ratio.estimate),
                "ci": _interval(ratio.ci),
                "log_estimate": ratio.log_estimate,
                "log_variance": ratio.log_variance,
                "corrected": ratio.corrected,
            }
        sites.append(entry)
    return sites


def _stratified(
    counts: NDArray[np.float64], sites: list[dict[str, Any]], alpha: float
) -> dict[str, Any]:
    net_n = counts[:, :, 0] - counts[:, :, 2]
    net_exits = counts[:, :, 1] - counts[:, :, 2]
    tables = np.stack([net_exits, net_n - net_exits], axis=2)  # (K, arm, outcome)
    usable = tables.sum(axis=(1, 2)) >= 2
    out: dict[str, Any] = {}
    if not usable.any():
        raise ValueError("no site has two or more participants: nothing to stratify")
    mh = mantel_haenszel(tables[usable], alpha=alpha)
    out["mantel_haenszel"] = {
        "statistic": _num(mh.statistic),
        "pvalue": _num(mh.pvalue),
        "dof": 1,
        "correction": mh.correction,
        "odds_ratio": _num(mh.odds_ratio),
        "odds_ratio_ci": _interval(mh.odds_ratio_ci),
        "risk_difference": _num(mh.risk_difference),
        "risk_difference_ci": _interval(mh.risk_difference_ci),
        "sites_used": int(usable.sum()),
    }
    try:
        bd = breslow_day(tables, correction=True)
        out["breslow_day"] = {
            "statistic": bd.statistic,
            "pvalue": bd.pvalue,
            "dof": bd.dof,
            "correction": "tarone",
            "sites_used": bd.strata_used,
        }
    except ValueError as exc:
        out["breslow_day"] = {"statistic": None, "pvalue": None, "dof": None, "note": str(exc)}
    log_or = [s["odds_ratio"] for s in sites if s["odds_ratio"] is not None]
    if len(log_or) >= 2:
        re = random_effects(
            [s["log_estimate"] for s in log_or], [s["log_variance"] for s in log_or], alpha=alpha
        )
        out["random_effects"] = {
            "measure": "log_odds_ratio",
            "estimate": re.estimate,
            "se": re.se,
            "ci": _interval(re.ci),
            "odds_ratio": math.exp(re.estimate),
            "odds_ratio_ci": [math.exp(re.ci[0]), math.exp(re.ci[1])],
            "pvalue": re.pvalue,
            "tau2": re.tau2,
            "i2": re.i2,
            "q": re.q,
            "q_pvalue": re.q_pvalue,
            "k": re.k,
        }
    else:
        out["random_effects"] = {"estimate": None, "note": "fewer than two sites with both arms"}
    return out


def _survival(p: Participants, alpha: float) -> dict[str, Any]:
    event = p.exited & ~p.pension
    arm_label = np.where(p.fip, "fip", "control")
    km: dict[str, Any] = {}
    cif: dict[str, Any] = {}
    cause = np.where(p.work, 1, np.where(p.exited, 2, 0))
    for arm, mask in (("fip", p.fip), ("control", ~p.fip)):
        fit = kaplan_meier(p.days[mask], event[mask], alpha=alpha)
        km[arm] = {
            "n": fit.n,
            "events": int(fit.n_events.sum()),
            "times": _nums(fit.times),
            "survival": _nums(fit.survival),
            "ci_lower": _nums(fit.ci_lower),
            "ci_upper": _nums(fit.ci_upper),
            "median_days": _num(fit.median()),
            "survival_at": {
                str(day): _num(value)
                for day, value in zip(
                    SURVIVAL_SUMMARY_DAYS, fit.survival_at(SURVIVAL_SUMMARY_DAYS), strict=True
                )
            },
        }
        inc = cumulative_incidence(p.days[mask], cause[mask], of=1)
        cif[arm] = {
            "times": _nums(inc.times),
            "incidence": _nums(inc.incidence),
            "incidence_at": {
                str(day): _num(value)
                for day, value in zip(
                    SURVIVAL_SUMMARY_DAYS, inc.at(SURVIVAL_SUMMARY_DAYS), strict=True
                )
            },
        }
    stratified = p.site_labels.size > 1
    test = log_rank(p.days, event, arm_label, strata=p.site if stratified else None)
    return {
        "time_unit": "days",
        "kaplan_meier": km,
        "log_rank": {
            "statistic": _num(test.statistic),
            "pvalue": _num(test.pvalue),
            "note": test.note or None,
            "dof": test.dof,
            "stratified_by": "site" if stratified else None,
            "observed": dict(zip(test.groups, _nums(test.observed), strict=True)),
            "expected": dict(zip(test.groups, _nums(test.expected), strict=True)),
        },
        "cumulative_incidence_work": {"codes": list(WORK_CODES), **cif},
    }


def _exits_by_code(p: Participants, arms: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    codes = list(termination_categories().values())
    index = {category.bus_code: i for i, category in enumerate(codes)}
    out = []
    tallies = {}
    for arm, mask in (("fip", p.fip), ("control", ~p.fip)):
        exited_codes = p.exit_code[mask & p.exited]
        values, counts = np.unique(exited_codes, return_counts=True)
        tally = np.zeros(len(codes), dtype=int)
        for value, count in zip(values.tolist(), counts.tolist(), strict=True):
            tally[index[value]] = count
        tallies[arm] = tally
    for i, category in enumerate(codes):
        out.append(
            {
                "code": category.bus_code,
                "name": category.code,
                "label_en": category.label_en,
                "label_nl": category.label_nl,
                "group": category.group,
                "excluded_from_net_ratio": category.excluded_from_net_ratio,
                "fip": int(tallies["fip"][i]),
                "control": int(tallies["control"][i]),
                "fip_share": _num(tallies["fip"][i] / arms["fip"]["n"]),
                "control_share": _num(tallies["control"][i] / arms["control"]["n"]),
            }
        )
    return out


def _costs(
    p: Participants,
    arms: Mapping[str, Mapping[str, Any]],
    primary_rd: float,
    primary_rd_ci: list[float | None],
    cost_per_benefit_year: float,
) -> dict[str, Any]:
    net = ~p.pension
    k = p.site_labels.size
    cell = p.site[net] * 2 + (~p.fip[net]).astype(np.intp)
    n = np.bincount(cell, minlength=2 * k).reshape(k, 2)
    days = np.bincount(cell, weights=p.days[net], minlength=2 * k).reshape(k, 2)
    both = (n[:, 0] > 0) & (n[:, 1] > 0)
    mean_days = days[both] / n[both]
    days_saved = float(np.sum(n[both, 0] * (mean_days[:, 1] - mean_days[:, 0])))
    fip_net_n = arms["fip"]["net_n"]
    extra = primary_rd * fip_net_n
    years_saved = days_saved / DAYS_PER_YEAR
    return {
        "cost_per_benefit_year": cost_per_benefit_year,
        "fip_net_n": fip_net_n,
        "extra_exits": _num(extra),
        "extra_exits_ci": [None if x is None else x * fip_net_n for x in primary_rd_ci],
        "benefit_years_saved": _num(years_saved),
        "savings": _num(years_saved * cost_per_benefit_year),
        "savings_if_each_extra_exit_saves_a_year": _num(extra * cost_per_benefit_year),
        "fip_participants_in_sites_with_both_arms": int(n[both, 0].sum()),
        "mean_follow_up_years": _num(float(p.days.mean()) / DAYS_PER_YEAR),
    }


def _smd(p1: float, p2: float) -> float:
    spread = math.sqrt((p1 * (1 - p1) + p2 * (1 - p2)) / 2)
    return (p1 - p2) / spread if spread > 0 else 0.0


def _baseline(p: Participants) -> list[dict[str, Any]]:
    n_fip, n_control = int(p.fip.sum()), int((~p.fip).sum())
    out = []
    for name in BASELINE_COLUMNS:
        if name not in p.optional:
            continue
        values = np.where(p.optional[name] == "", "unknown", p.optional[name])
        levels, inverse = np.unique(values, return_inverse=True)
        fip_counts = np.bincount(inverse[p.fip], minlength=levels.size)
        control_counts = np.bincount(inverse[~p.fip], minlength=levels.size)
        rows = []
        for level, a, b in zip(
            levels.tolist(), fip_counts.tolist(), control_counts.tolist(), strict=True
        ):
            share_fip, share_control = a / n_fip, b / n_control
            rows.append(
                {
                    "level": level,
                    "fip": a,
                    "control": b,
                    "fip_share": share_fip,
                    "control_share": share_control,
                    "standardised_difference": _smd(share_fip, share_control),
                }
            )
        out.append(
            {
                "characteristic": name,
                "levels": rows,
                "max_abs_standardised_difference": max(
                    abs(r["standardised_difference"]) for r in rows
                ),
            }
        )
    return out


def build_report(
    data: Mapping[str, Any] | Sequence[Mapping[str, Any]],
    cost_per_benefit_year: float = DEFAULT_COST_PER_BENEFIT_YEAR,
    consort: Mapping[str, Any] | None = None,
    alpha: float = 0.05,
    *,
    spells: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
    plan: PlanFile | None = None,
) -> dict[str, Any]:
    """Compute the full trial report.

    Parameters
    ----------
    data : mapping of columns or sequence of row mappings
        The participant file (see :func:`fiptrial_analysis.read_participants` and the package
        README for the columns).
    cost_per_benefit_year : float, default 14000
        Euros that one year on benefit costs the municipality (the pilot report's figure; a
        2019 Berenschot study adds EUR 2,883 execution costs to it).
    consort : mapping, optional
        Counts the participant file cannot hold: ``assessed``, ``eligible``, ``randomised`` and
        per arm (``arms: {"fip": {...}, "control": {...}}``) ``allocated``,
        ``received_allocated``, ``lost_to_follow_up``, ``analysed``. They override the values
        derived from the file.
    alpha : float, default 0.05
        One minus the confidence level of every interval.
    spells : mapping of columns or sequence of row mappings, optional
        The spells file of the same participants (README). With it the report gains
        ``planned``: every estimate of the analysis plan.
    plan : PlanFile, optional
        The trial's analysis plan with its status; without it the default plan is used and
        the report says so. ``report["plan"]`` prints its version, hash and warnings.

    Returns
    -------
    dict
        JSON-ready report; ``report["definitions"]`` says how each figure is computed and
        ``report["primary"]`` names the primary result.

    Raises
    ------
    ValueError
        When the participant data or the CONSORT counts fail their checks.
    """
    if not (cost_per_benefit_year >= 0 and math.isfinite(cost_per_benefit_year)):
        raise ValueError(f"cost_per_benefit_year must be non-negative, got {cost_per_benefit_year}")
    sidecar = _check_consort(consort)
    p = prepare_participants(data)
    counts = _site_counts(p)
    totals = counts.sum(axis=0)
    arms = {"fip": _arm_counts(*totals[0]), "control": _arm_counts(*totals[1])}
    if arms["fip"]["net_n"] == 0 or arms["control"]["net_n"] == 0:
        raise ValueError("an arm has no participants left after leaving out pension-age exits")
    table = _net_table(arms["fip"], arms["control"])
    try:
        chi = chi_square(table, correction=False)
        chi_result: dict[str, Any] = {
            "statistic": chi.statistic,
            "pvalue": chi.pvalue,
            "dof": chi.dof,
            "correction": chi.correction,
        }
    except ValueError as exc:  # e.g. no net exit at all: the test is undefined
        chi_result = {
            "statistic": None,
            "pvalue": None,
            "dof": 1,
            "correction": False,
            "note": str(exc),
        }
    rd = risk_difference(table, method="newcombe", alpha=alpha)
    pooled_or = odds_ratio(table, alpha=alpha)
    sites = _sites(p, counts, alpha)
    multi_site = p.site_labels.size > 1

    report: dict[str, Any] = {
        "trial": {
            "participants": p.n,
            "sites": int(p.site_labels.size),
            "first_allocation": p.first_allocation,
            "last_followup_end": p.last_followup_end,
            "alpha": alpha,
        },
        "primary": "mantel_haenszel" if multi_site else "chi_square",
        "primary_reason": DEFINITIONS["primary"],
        "arms": arms,
        "chi_square": {**chi_result, "table": table, "stratified": False},
        "risk_difference": {
            "estimate": rd.estimate,
            "ci": _interval(rd.ci),
            "method": rd.method,
            "stratified": False,
        },
        "odds_ratio": {"estimate": _num(pooled_or.estimate), "ci": _interval(pooled_or.ci)},
        "sites": sites,
    }
    if multi_site:
        report.update(_stratified(counts, sites, alpha))
        mh = report["mantel_haenszel"]
        naive, stratified = rd.estimate, mh["risk_difference"]
        report["naive_vs_stratified"] = {
            "naive_risk_difference": naive,
            "stratified_risk_difference": stratified,
            "naive_odds_ratio": _num(pooled_or.estimate),
            "stratified_odds_ratio": mh["odds_ratio"],
            "same_direction": bool(
                stratified is not None and np.sign(naive) == np.sign(stratified)
            ),
            "note": "The naive comparison pools all sites as if they were one; it is confounded "
            "by site when allocation ratios and base rates differ. Read the stratified result.",
        }
        primary_rd, primary_ci = mh["risk_difference"], mh["risk_difference_ci"]
    else:
        primary_rd, primary_ci = rd.estimate, _interval(rd.ci)
    report["survival"] = _survival(p, alpha)
    report["exits_by_code"] = _exits_by_code(p, arms)
    report["costs"] = _costs(p, arms, primary_rd, primary_ci, float(cost_per_benefit_year))
    report["baseline"] = _baseline(p)
    if "conversations_held" in p.optional:
        held = p.optional["conversations_held"]
        report["process"] = {
            arm: {"mean_conversations_held": _num(np.nanmean(held[mask]))}
            if np.any(~np.isnan(held[mask]))
            else {"mean_conversations_held": None}
            for arm, mask in (("fip", p.fip), ("control", ~p.fip))
        }
    report["consort"] = _consort(p, sidecar)
    report["data_quality"] = {
        "exits_after_followup_not_counted": p.exits_after_followup,
        "pension_age_code": PENSION_AGE_CODE,
    }
    plan_file = plan if plan is not None else PlanFile(plan=default_plan(), given=False)
    described = plan_file.describe()
    report["plan"] = {
        key: described[key]
        for key in ("version", "sha256", "frozen", "frozen_at", "given", "warnings")
    }
    report["plan"]["changed_after_first_unblinded_report"] = plan_file.changed_after_report
    if spells is not None:
        if not isinstance(spells, Mapping):
            spells = columns_from_rows(spells)
        outcomes = derive_outcomes(p, prepare_spells(dict(spells), p), plan_file.plan)
        report["planned"] = planned_report(p, outcomes, plan_file, float(cost_per_benefit_year))
    report["definitions"] = DEFINITIONS
    return report
