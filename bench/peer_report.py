"""The peer of the report under the analysis plan: pandas + statsmodels + lifelines computing the
same figures from the same participant and spells files, written independently of
``fiptrial_analysis`` (the sustained-exit derivation too), so that the benchmark's agreement
check is also a check of ours.

Figures: the first-exit report's pooled chi-square, per-site tables, Mantel-Haenszel odds ratio
and CMH test, Breslow-Day (Tarone), DerSimonian-Laird, Kaplan-Meier and Aalen-Johansen per arm
and the site-stratified log-rank test; and under the default plan (R = 182 days, horizons 12,
24, 36 months, AOW censoring): the CMH test and Mantel-Haenszel odds ratio of a sustained
primary exit per horizon, the site-stratified Cox model clustered on the benefit unit
(statsmodels PHReg, Efron ties), the site-standardised restricted mean time to a sustained exit
per horizon (lifelines KaplanMeierFitter and restricted_mean_survival_time per site and arm)
and the site-standardised difference in benefit days per horizon.

``python bench/peer_report.py PARTICIPANTS.csv SPELLS.csv`` prints the figures as JSON.
"""

from __future__ import annotations

import json
import sys
import warnings
from typing import Any

import numpy as np
import pandas as pd

R = 182
HORIZONS = (12, 24, 36)
PRIMARY = {"01", "02", "11", "13", "14", "15", "17", "18", "19"}
COMPETING = {"04", "05", "32", "33", "03"}


def read(participants: str, spells: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    part = pd.read_csv(participants, dtype={"participant": str, "exit_code": str, "site": str,
                                            "unit": str, "client_manager": str},
                       parse_dates=["allocated_on", "followup_end", "exit_date"],
                       keep_default_na=True)  # fmt: skip
    sp = pd.read_csv(spells, dtype={"participant": str, "end_code": str},
                     parse_dates=["start", "end"])  # fmt: skip
    return part, sp


def _tables(frame: pd.DataFrame, outcome: str) -> np.ndarray:
    """Per site ``[[events, others] FIP, [events, others] control]``."""
    cells = (
        frame.groupby(["site", "fip"])[outcome].agg(["sum", "count"]).unstack("fip", fill_value=0)
    )
    rows = [
        np.stack([cells[("sum", arm)], cells[("count", arm)] - cells[("sum", arm)]], 1)
        for arm in (True, False)
    ]
    return np.stack(rows, axis=1).astype(float)


def first_exit_figures(df: pd.DataFrame) -> dict[str, Any]:
    from lifelines import AalenJohansenFitter, KaplanMeierFitter
    from scipy.stats import chi2_contingency
    from statsmodels.duration.survfunc import survdiff
    from statsmodels.stats.contingency_tables import StratifiedTable, Table2x2
    from statsmodels.stats.meta_analysis import combine_effects

    exited = df["exit_date"].notna() & (df["exit_date"] <= df["followup_end"])
    code = df["exit_code"].fillna("").where(exited, "")
    pension = code == "03"
    days = (df["exit_date"].where(exited, df["followup_end"]) - df["allocated_on"]).dt.days
    fip = (df["arm"] == "fip").to_numpy()
    net = ~pension
    frame = pd.DataFrame({"site": df["site"], "fip": fip, "event": exited & net})[net]
    tables = _tables(frame, "event")
    chi = chi2_contingency(tables.sum(axis=0), correction=False)
    log_or, log_var = [], []
    for table in tables:
        if table[0].sum() and table[1].sum():
            t2 = Table2x2(table + 0.5 if np.any(table == 0) else table)
            log_or.append(t2.log_oddsratio)
            log_var.append(t2.log_oddsratio_se**2)
    strat = StratifiedTable(list(tables))
    meta = combine_effects(np.array(log_or), np.array(log_var), method_re="dl")
    event = (exited & net).to_numpy().astype(int)
    t = days.to_numpy().astype(float)
    cause = np.where(code.isin(["11", "13"]), 1, np.where(exited, 2, 0))
    for mask in (fip, ~fip):
        KaplanMeierFitter().fit(t[mask], event[mask])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            AalenJohansenFitter(calculate_variance=True, seed=1).fit(
                t[mask], cause[mask], event_of_interest=1
            )
    log_rank, _ = survdiff(t, event, fip, strata=df["site"].to_numpy())
    return {
        "chi_square": float(chi.statistic),
        "cmh": float(strat.test_null_odds(correction=True).statistic),
        "odds_ratio": float(strat.oddsratio_pooled),
        "breslow_day_tarone": float(strat.test_equal_odds(adjust=True).statistic),
        "tau2": float(meta.tau2),
        "log_rank": float(log_rank),
    }


def sustained_outcomes(part: pd.DataFrame, sp: pd.DataFrame) -> pd.DataFrame:
    """Time to the first sustained end (not back within R days, judged within follow-up and
    before the AOW date), its class, and per horizon the outcome and the benefit days."""
    a = part.set_index("participant")["allocated_on"]
    follow = (part["followup_end"] - part["allocated_on"]).dt.days.to_numpy()
    aow = part["aow_days_from_allocation"].to_numpy(dtype=float)
    c = np.where(np.isnan(aow), follow, np.minimum(follow, np.clip(aow, 0, None)))
    out = pd.DataFrame({"c": c}, index=part["participant"])
    sp = sp.sort_values(["participant", "start"]).copy()
    alloc = sp["participant"].map(a)
    sp["s"] = (sp["start"] - alloc).dt.days
    sp["e"] = (sp["end"] - alloc).dt.days
    sp["next"] = sp.groupby("participant")["s"].shift(-1)
    sp["c"] = sp["participant"].map(out["c"])
    sustained = sp["e"].notna() & ~(sp["next"] - sp["e"] <= R)
    judged = sp["e"] + R <= sp["c"]
    first = sp[sustained & judged].groupby("participant").first()
    out["time"] = np.maximum(out["c"] - R, 0).astype(float)
    out.loc[first.index, "time"] = first["e"].astype(float)
    out["cause"] = 0
    codes = first["end_code"].str.zfill(2)
    out.loc[first.index, "cause"] = np.where(
        codes.isin(PRIMARY), 1, np.where(codes.isin(COMPETING), 2, 3)
    )
    follow_series = pd.Series(follow, index=part["participant"])
    sp["f"] = sp["participant"].map(follow_series)
    for months in HORIZONS:
        h = (part["allocated_on"] + pd.DateOffset(months=months) - part["allocated_on"]).dt.days
        h = pd.Series(h.to_numpy(), index=part["participant"])
        out[f"passed{months}"] = out["c"] >= h
        out[f"y{months}"] = (out["cause"] == 1) & (out["time"] + R <= h)
        stop = np.minimum(sp["e"].fillna(sp["f"] - 1) + 1, sp["participant"].map(h))
        days = (stop - sp["s"].clip(lower=0)).clip(lower=0)
        out[f"days{months}"] = days.groupby(sp["participant"]).sum().reindex(out.index).fillna(0)
    return out


def plan_figures(part: pd.DataFrame, sp: pd.DataFrame) -> dict[str, Any]:
    from lifelines import KaplanMeierFitter
    from lifelines.utils import restricted_mean_survival_time
    from statsmodels.duration.hazard_regression import PHReg
    from statsmodels.stats.contingency_tables import StratifiedTable

    o = sustained_outcomes(part, sp)
    fip = (part["arm"] == "fip").to_numpy()
    site = part["site"].to_numpy()
    figures: dict[str, Any] = {}
    for months in HORIZONS:
        keep = o[f"passed{months}"].to_numpy()
        frame = pd.DataFrame({"site": site[keep], "fip": fip[keep],
                              "y": o[f"y{months}"].to_numpy()[keep]})  # fmt: skip
        cells = (
            frame.groupby(["site", "fip"])["y"].agg(["sum", "count"]).unstack("fip", fill_value=0)
        )
        tables = np.stack([
            np.stack([cells[("sum", True)], cells[("count", True)] - cells[("sum", True)]], 1),
            np.stack([cells[("sum", False)], cells[("count", False)] - cells[("sum", False)]], 1),
        ], axis=1).astype(float)  # fmt: skip
        tables = tables[tables.sum(axis=(1, 2)) >= 2]
        strat = StratifiedTable(list(tables))
        figures[f"mh_odds_ratio_{months}"] = float(strat.oddsratio_pooled)
        figures[f"cmh_{months}"] = float(strat.test_null_odds(correction=True).statistic)
        days = pd.DataFrame({"site": site[keep], "fip": fip[keep],
                             "d": o[f"days{months}"].to_numpy()[keep]})  # fmt: skip
        means = days.groupby(["site", "fip"])["d"].agg(["mean", "count"]).unstack("fip")
        both = means[("count", True)].notna() & means[("count", False)].notna()
        means = means[both]
        weight = (means[("count", True)] + means[("count", False)]) / (
            means[("count", True)] + means[("count", False)]
        ).sum()
        figures[f"benefit_days_{months}"] = float(
            (weight * (means[("mean", True)] - means[("mean", False)])).sum()
        )
    event = (o["cause"] == 1).to_numpy().astype(int)
    time = o["time"].to_numpy()
    unit = pd.factorize(part["unit"])[0]
    model = PHReg(time, fip.astype(float)[:, None], status=event, strata=site, ties="efron")
    fit = model.fit()
    # PHReg(...).fit(groups=unit) gives NaN here: its score residuals are NaN for rows after the
    # last event of their stratum (documented), which are in no risk set: their residual is 0.
    # The Lin-Wei sandwich from PHReg's own score residuals and information:
    residuals = np.nan_to_num(model.score_residuals(fit.params))[:, 0]
    information = -model.hessian(fit.params)[0, 0]
    clustered = np.bincount(unit, weights=residuals)
    robust_se = float(np.sqrt(np.sum(clustered**2)) / information)
    figures["cox_log_hazard_ratio"] = float(fit.params[0])
    figures["cox_robust_se"] = robust_se
    fits = {
        key: (KaplanMeierFitter().fit(cell["t"], cell["e"]), len(cell), cell["t"].max())
        for key, cell in pd.DataFrame({"site": site, "fip": fip, "t": time, "e": event}).groupby(
            ["site", "fip"]
        )
    }
    for months in HORIZONS[:2]:
        horizon = float(np.round(months * 365.25 / 12))
        rmst, sizes = {}, {}
        for (s, arm), (km, size, last) in fits.items():
            if last < horizon and km.survival_function_.iloc[-1, 0] > 0:
                continue  # not identified at the horizon
            rmst[(s, arm)] = restricted_mean_survival_time(km, t=horizon)
            sizes[(s, arm)] = size
        used = [s for s in {k[0] for k in rmst} if (s, True) in rmst and (s, False) in rmst]
        total = sum(sizes[(s, True)] + sizes[(s, False)] for s in used)
        figures[f"rmst_difference_{months}"] = float(sum(
            (sizes[(s, True)] + sizes[(s, False)]) / total * (rmst[(s, True)] - rmst[(s, False)])
            for s in used
        ))  # fmt: skip
    return figures


def peer(part: pd.DataFrame, sp: pd.DataFrame) -> dict[str, Any]:
    return {**first_exit_figures(part), **plan_figures(part, sp)}


if __name__ == "__main__":
    print(json.dumps(peer(*read(sys.argv[1], sys.argv[2]))))
