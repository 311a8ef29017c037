"""Benchmark: the full trial report on a national roll-out (400,000 participants, 340 sites).

``run()`` times :func:`fiptrial_analysis.build_report` plus ``json.dumps`` (no HTML) and, in the
same run on the same data, statsmodels and lifelines computing the same figures: the pooled
chi-square and Newcombe interval, per-site odds ratios and risk differences, StratifiedTable
(test_null_odds, oddsratio_pooled, oddsratio_pooled_confint, test_equal_odds), DerSimonian-Laird
pooling (statsmodels combine_effects), Kaplan-Meier per arm (lifelines KaplanMeierFitter), the
log-rank test stratified by site (statsmodels survdiff with strata: lifelines has no stratified
log-rank test), Aalen-Johansen per arm (lifelines AalenJohansenFitter), exits by code and the
cost figures (pandas). The Mantel-Haenszel risk difference has no statsmodels counterpart and is
left out of their side. Both sides' key figures are checked against each other before timing
counts.

Standalone: ``python bench/bench_analysis.py`` prints the dictionary.
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from typing import Any

import numpy as np
from timing import against_peer

from fiptrial_analysis import build_report

PARTICIPANTS = 400_000
SITES = 340
SEED = 20260101
CODES = np.array(["11", "13", "02", "19", "31", "32", "33", "98", "05", "04", "14", "97"])
CODE_WEIGHTS = np.array([32, 6, 12, 10, 8, 14, 3, 6, 2, 3, 2, 2], dtype=float)


def national_trial(
    n: int = PARTICIPANTS, sites: int = SITES, seed: int = SEED
) -> dict[str, np.ndarray]:
    """A synthetic national trial: site sizes, allocation ratios and exit rates all differ."""
    rng = np.random.default_rng(seed)
    weights = rng.lognormal(0.0, 0.8, sites)
    sizes = rng.multinomial(n, weights / weights.sum())
    site = np.repeat(np.arange(sites), sizes)
    labels = np.char.add("GM", np.char.zfill(np.arange(1, sites + 1).astype(str), 4))
    fip_share = rng.choice([1 / 2, 1 / 3, 1 / 4, 1 / 5], size=sites)[site]
    fip = rng.random(n) < fip_share
    yearly_exit = rng.uniform(0.08, 0.35, size=sites)[site] * np.where(fip, 1.25, 1.0)
    start = np.datetime64("2026-01-05")
    allocated = start + rng.integers(0, 365, size=n).astype("timedelta64[D]")
    followup_end = np.full(n, np.datetime64("2027-12-31"))
    exit_days = np.ceil(rng.exponential(365.25 / yearly_exit)).astype(int)
    pension = rng.random(n) < 0.015
    exit_days = np.where(pension, rng.integers(1, 700, size=n), exit_days)
    exited = exit_days <= (followup_end - allocated).astype(int)
    code = np.where(pension, "03", rng.choice(CODES, size=n, p=CODE_WEIGHTS / CODE_WEIGHTS.sum()))
    return {
        "participant": np.char.add("P", np.arange(n).astype(str)),
        "site": labels[site],
        "arm": np.where(fip, "fip", "control"),
        "allocated_on": allocated,
        "followup_end": followup_end,
        "exit_date": np.where(
            exited, allocated + exit_days.astype("timedelta64[D]"), np.datetime64("NaT")
        ),
        "exit_code": np.where(exited, code, ""),
        "sex": rng.choice(np.array(["1", "2"]), size=n),
        "age_band": rng.choice(np.array(["18-26", "27-44", "45-54", "55+"]), size=n),
    }


def ours(columns: dict[str, np.ndarray]) -> dict[str, Any]:
    report = build_report(columns)
    json.dumps(report, allow_nan=False)
    return report


def theirs(columns: dict[str, np.ndarray]) -> dict[str, Any]:
    """The same figures with pandas, scipy, statsmodels and lifelines."""
    import pandas as pd
    from lifelines import AalenJohansenFitter, KaplanMeierFitter
    from scipy.stats import chi2_contingency
    from statsmodels.duration.survfunc import survdiff
    from statsmodels.stats.contingency_tables import StratifiedTable, Table2x2
    from statsmodels.stats.meta_analysis import combine_effects
    from statsmodels.stats.proportion import confint_proportions_2indep

    df = pd.DataFrame(columns)
    exited = df["exit_date"].notna() & (df["exit_date"] <= df["followup_end"])
    code = df["exit_code"].where(exited, "")
    pension = code == "03"
    days = (df["exit_date"].where(exited, df["followup_end"]) - df["allocated_on"]).dt.days
    fip = df["arm"] == "fip"
    net = ~pension
    net_exit = exited & net

    counts = pd.DataFrame({"site": df["site"], "fip": fip, "net": net, "event": net_exit})
    per_site = counts[counts["net"]].groupby(["site", "fip"])["event"].agg(["sum", "count"])
    per_site = per_site.unstack("fip", fill_value=0)
    events_fip, n_fip = per_site[("sum", True)].to_numpy(), per_site[("count", True)].to_numpy()
    events_ctl, n_ctl = per_site[("sum", False)].to_numpy(), per_site[("count", False)].to_numpy()
    tables = np.stack(
        [
            np.stack([events_fip, n_fip - events_fip], 1),
            np.stack([events_ctl, n_ctl - events_ctl], 1),
        ],
        axis=1,
    ).astype(float)

    total = tables.sum(axis=0)
    chi = chi2_contingency(total, correction=False)
    rd_ci = confint_proportions_2indep(
        total[0, 0], total[0].sum(), total[1, 0], total[1].sum(), method="newcomb"
    )
    log_or, log_var, site_rd = [], [], []
    for table in tables:
        shifted = table + 0.5 if np.any(table == 0) else table
        t2 = Table2x2(shifted)
        t2.oddsratio_confint()
        log_or.append(t2.log_oddsratio)
        log_var.append(t2.log_oddsratio_se**2)
        site_rd.append(
            confint_proportions_2indep(
                table[0, 0], table[0].sum(), table[1, 0], table[1].sum(), method="newcomb"
            )
        )
    strat = StratifiedTable([t for t in tables])
    null = strat.test_null_odds(correction=True)
    pooled, pooled_ci = strat.oddsratio_pooled, strat.oddsratio_pooled_confint()
    equal = strat.test_equal_odds(adjust=True)
    meta = combine_effects(np.array(log_or), np.array(log_var), method_re="dl")
    meta.conf_int()

    event = (exited & net).to_numpy().astype(int)
    time_days = days.to_numpy().astype(float)
    cause = np.where(code.isin(["11", "13"]), 1, np.where(exited, 2, 0))
    for mask in (fip.to_numpy(), ~fip.to_numpy()):
        KaplanMeierFitter().fit(time_days[mask], event[mask])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            AalenJohansenFitter(calculate_variance=True, seed=1).fit(
                time_days[mask], cause[mask], event_of_interest=1
            )
    log_rank_statistic, _ = survdiff(time_days, event, fip.to_numpy(), strata=df["site"].to_numpy())

    pd.crosstab(code[exited], df["arm"][exited])
    net_days = pd.DataFrame({"site": df["site"], "fip": fip, "days": days})[net]
    net_days.groupby(["site", "fip"])["days"].mean().unstack()
    return {
        "chi_square": chi.statistic,
        "risk_difference_ci": rd_ci,
        "cmh": null.statistic,
        "odds_ratio": pooled,
        "odds_ratio_ci": pooled_ci,
        "breslow_day_tarone": equal.statistic,
        "tau2": meta.tau2,
        "log_rank": log_rank_statistic,
    }


def _best_of(repeats: int, function: Any, *args: Any) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function(*args)
        best = min(best, time.perf_counter() - start)
    return best, result


def _check_agreement(report: dict[str, Any], other: dict[str, Any]) -> None:
    """Both sides must compute the same figures, or the timing compares nothing."""
    mh, bd, re = report["mantel_haenszel"], report["breslow_day"], report["random_effects"]
    pairs = [
        (report["chi_square"]["statistic"], other["chi_square"]),
        (report["risk_difference"]["ci"], other["risk_difference_ci"]),
        (mh["statistic"], other["cmh"]),
        (mh["odds_ratio"], other["odds_ratio"]),
        (mh["odds_ratio_ci"], other["odds_ratio_ci"]),
        (bd["statistic"], other["breslow_day_tarone"]),
        (re["tau2"], other["tau2"]),
        (report["survival"]["log_rank"]["statistic"], other["log_rank"]),
    ]
    for mine, theirs_value in pairs:
        np.testing.assert_allclose(mine, theirs_value, rtol=1e-6)


def run() -> dict[str, float]:
    """Time our report and statsmodels + lifelines on the same national trial."""
    columns = national_trial()
    ours_seconds, report = _best_of(3, ours, columns)
    theirs_seconds, other = _best_of(1, theirs, columns)
    _check_agreement(report, other)
    print(
        f"bench_analysis: ours {ours_seconds:.2f} s, statsmodels + lifelines "
        f"{theirs_seconds:.2f} s on {PARTICIPANTS:,} participants in {SITES} sites",
        file=sys.stderr,
    )
    return against_peer("report", "statsmodels_lifelines", ours_seconds, theirs_seconds)


if __name__ == "__main__":
    print(json.dumps(run()))
