"""Recovery (issue 14): on a synthetic trial in 20 sites with a known effect, confounding by
site and a client-manager effect (tests/analysis/synthetic_trial.py, fixed seed), the primary
estimate covers the true effect and every figure of the plan points the same way.

The truth is the effect in this very sample: the trial is generated twice more from the same
random numbers, once with everyone in FIP and once with everyone in usual care, and the true
risk difference is the mean difference of the two potential outcomes among the participants
whose 12-month horizon has passed (which does not depend on the arm).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import synthetic_trial

from fiptrial_analysis import build_report
from fiptrial_analysis.outcomes import derive_outcomes, prepare_spells
from fiptrial_analysis.participants import prepare_participants
from fiptrial_analysis.plan import default_plan

HAZARD_RATIO = 1.3


@pytest.fixture(scope="module")
def trial() -> dict[str, Any]:
    draws = synthetic_trial.draw(30000, 20, seed=20261202)
    n = draws.fip.size
    potential = {}
    for name, arms in (("fip", np.ones(n, bool)), ("control", np.zeros(n, bool))):
        columns, spells = synthetic_trial.build(draws, arms, HAZARD_RATIO)
        columns["arm"][0] = "control" if name == "fip" else "fip"  # both arms must be present
        p = prepare_participants(columns)
        potential[name] = derive_outcomes(p, prepare_spells(spells, p), default_plan())
    one, zero = potential["fip"].horizons[0], potential["control"].horizons[0]
    keep = one.passed.copy()
    keep[0] = False  # the participant whose arm was flipped above
    truth = float(np.mean(one.sustained[keep].astype(float) - zero.sustained[keep]))
    columns, spells = synthetic_trial.build(draws, draws.fip, HAZARD_RATIO)
    return {"truth": truth, "report": build_report(columns, spells=spells), "columns": columns,
            "spells": spells}  # fmt: skip


def test_the_primary_estimate_covers_the_truth(trial: dict[str, Any]) -> None:
    truth = trial["truth"]
    primary = trial["report"]["planned"]["horizons"][0]
    assert primary["months"] == 12 and truth > 0.01
    low, high = primary["mantel_haenszel"]["risk_difference_ci"]
    assert low < truth < high
    low, high = primary["standardised"]["ci"]
    assert low < truth < high


def test_the_pooled_comparison_is_confounded_and_points_the_other_way(trial: dict[str, Any]):
    """Sites that gave FIP to more clients are those whose clients leave least: pooled over
    sites the arms compare the wrong way, which is why every figure is stratified."""
    p = prepare_participants(trial["columns"])
    o = derive_outcomes(p, prepare_spells(trial["spells"], p), default_plan())
    h = o.horizons[0]
    naive = h.sustained[h.passed & p.fip].mean() - h.sustained[h.passed & ~p.fip].mean()
    assert naive < 0 < trial["truth"]


def test_every_figure_agrees_in_direction_with_the_primary_result(trial: dict[str, Any]) -> None:
    planned = trial["report"]["planned"]
    assert planned["horizons"][0]["mantel_haenszel"]["risk_difference"] > 0
    assert planned["time_to_sustained_exit"]["hazard_ratio"] > 1
    cif = planned["competing_risks"]["primary"]
    assert cif["fip"]["at_horizons"]["12"] > cif["control"]["at_horizons"]["12"]
    curves = planned["competing_risks"]["no_sustained_exit"]

    def still(arm: str, day: float) -> float:
        times = np.asarray(curves[arm]["times"])
        index = np.searchsorted(times, day, side="right") - 1
        return curves[arm]["survival"][index] if index >= 0 else 1.0

    assert still("fip", 365) < still("control", 365)
    for horizon in planned["horizons"][:2]:
        assert horizon["benefit_days"]["difference"] < 0  # FIP saves benefit days
    shares = {"fip": 0.0, "control": 0.0}
    for row in planned["exits_by_reason"]:
        if row["class"] == "primary":
            shares["fip"] += row["fip_share"]
            shares["control"] += row["control_share"]
    assert shares["fip"] > shares["control"]
    assert planned["sites"]["REML_HK"]["odds_ratio"] > 1
    assert planned["client_managers"]["tau2"] > 0  # the managers' effects differ
