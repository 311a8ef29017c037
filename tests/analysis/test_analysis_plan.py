"""The analysis plan and the outcomes it defines (issue 14).

The outcome derivation is checked on five participants worked out by hand below; the new
estimates against independent implementations: the site-standardised mean difference against
statsmodels OLS of the fully interacted model (Lin 2013: with the site dummies centred at their
means, the arm coefficient is the difference standardised with the sample's site shares, and
its HC0 / cluster sandwich is the influence-function variance), the complier-average effect
against statsmodels IV2SLS (Angrist, Imbens and Rubin 1996: with one binary instrument the Wald
ratio is the 2SLS coefficient) with the HC0 sandwich of the just-identified IV model.
"""

from __future__ import annotations

import hashlib
import json
import re

import numpy as np
import pytest

from fiptrial_analysis import build_report
from fiptrial_analysis.means import complier_average_effect, standardised_mean_difference
from fiptrial_analysis.outcomes import CAUSES, derive_outcomes, prepare_spells
from fiptrial_analysis.participants import prepare_participants
from fiptrial_analysis.plan import (
    AnalysisPlan,
    PlanFile,
    default_plan,
    parse_plan_file,
    plan_from_dict,
)

PARTICIPANTS = {
    "participant": ["p1", "p2", "p3", "p4", "p5"],
    "site": ["A"] * 5,
    "arm": ["fip", "control", "control", "fip", "fip"],
    "allocated_on": ["2025-01-01"] * 5,
    "followup_end": ["2027-01-01"] * 5,  # 730 days
    "exit_date": ["2025-03-01", "2026-10-01", "2025-02-01", "2025-04-11", ""],
    "exit_code": ["11", "11", "03", "31", ""],
    "aow_days_from_allocation": ["9000", "9000", "300", "9000", ""],
}
SPELLS = {
    "participant": ["p1", "p1", "p2", "p3", "p4", "p4"],
    "spell": [1, 2, 1, 1, 1, 2],
    "start": ["2024-06-01", "2025-05-01", "2024-01-01", "2023-01-01", "2024-01-01", "2025-12-01"],
    "end": ["2025-03-01", "2025-10-01", "2026-10-01", "2025-02-01", "2025-04-11", ""],
    "end_code": ["11", "11", "11", "03", "31", ""],
}


def _outcomes(plan: AnalysisPlan | None = None):
    p = prepare_participants(PARTICIPANTS)
    return derive_outcomes(p, prepare_spells(SPELLS, p), plan or default_plan())


def test_the_defaults_classify_every_bus_code_once_with_reasons() -> None:
    plan = default_plan("t1")
    assert plan.horizons_months == (12, 24, 36) and plan.sustained_exit_days == 182
    classes = plan.class_of()
    assert [classes[c] for c in ("01", "02", "11", "13", "19")] == ["primary"] * 5
    assert [classes[c] for c in ("04", "05", "32", "33", "03")] == ["competing"] * 5
    assert [classes[c] for c in ("31", "34", "35", "97", "98", "06", "07")] == [
        "administrative"
    ] * 7
    canonical = json.dumps(plan.to_dict(), sort_keys=True, separators=(",", ":"))
    assert plan.sha256 == hashlib.sha256(canonical.encode()).hexdigest()
    assert plan.changed(sustained_exit_days=91).version == 2


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"horizons_months": []}, "at least one horizon"),
        ({"horizons_months": [12, 12]}, "repeats a horizon"),
        ({"sustained_exit_days": -1}, "sustained_exit_days must be a whole number"),
        ({"hourly_cost": -5.0}, "hourly_cost must not be negative"),
        ({"classes": {"primary": ["11"], "competing": [], "administrative": []}}, "belong to no"),
        ({"sensitivity": ["astrology"]}, "unknown analyses"),
        ({"colour": "red"}, "unknown keys"),
    ],
)
def test_a_plan_the_report_cannot_follow_is_refused_by_name(change, message) -> None:
    with pytest.raises(ValueError, match=message):
        plan_from_dict({**default_plan().to_dict(), **change})


def test_a_plan_file_whose_hash_does_not_match_is_refused() -> None:
    text = PlanFile(plan=default_plan("t1"), frozen=True).to_json()
    assert parse_plan_file(text).frozen is True
    data = json.loads(text)
    data["plan"]["sustained_exit_days"] = 30
    with pytest.raises(ValueError, match="plan was altered"):
        parse_plan_file(json.dumps(data))


def test_outcomes_worked_out_by_hand() -> None:
    """p1: back after 61 days (not sustained), then out for good on day 273 (work);
    p2: the end on day 638 cannot be judged (638 + 182 > 730): censored at 730 - 182 = 548;
    p3: AOW date on day 300 censors; the pension-age end on day 31 is a competing end;
    p4: no information (31) on day 100, back after 234 days: a sustained administrative end;
    p5: off benefit at allocation, censored at 548."""
    o = _outcomes()
    assert o.time.tolist() == [273, 548, 31, 100, 548]
    assert o.cause.tolist() == [
        CAUSES["primary"],
        0,
        CAUSES["competing"],
        CAUSES["administrative"],
        0,
    ]
    assert o.off_benefit_at_allocation == 1 and o.unconfirmed_ends == 1
    h12, h24, _ = o.horizons
    assert h12.days.tolist() == [365] * 5 and h24.days.tolist() == [730] * 5
    assert h12.passed.tolist() == [True, True, False, True, True]  # p3's AOW date is earlier
    assert h12.sustained.tolist() == [False] * 5  # 273 + 182 > 365
    assert h24.sustained.tolist() == [True, False, False, False, False]
    assert h12.any_exit.tolist() == [True, False, True, True, False]
    assert h12.pension_exit.tolist() == [False, False, True, False, False]
    # Days on benefit in the first year: every spell counts, re-entries too.
    assert h12.benefit_days.tolist() == [60 + 154, 365, 32, 101 + 31, 0]  # last day counts


def test_a_longer_sustained_rule_changes_the_outcome() -> None:
    o = _outcomes(default_plan().changed(sustained_exit_days=30))
    assert o.time[0] == 59  # with R = 30 the first exit of p1 (back after 61 days) counts


def test_standardised_mean_difference_matches_the_interacted_ols() -> None:
    import statsmodels.api as sm

    rng = np.random.default_rng(7)
    n = 600
    site = rng.integers(0, 4, n)
    arm = rng.uniform(size=n) < np.array([0.2, 0.5, 0.7, 0.4])[site]
    unit = np.arange(n) // 2
    y = rng.normal(100 + 20 * site - 15 * arm, 30)
    dummies = (site[:, None] == np.arange(1, 4)).astype(float)
    centred = dummies - dummies.mean(axis=0)
    design = np.column_stack([np.ones(n), arm, centred, centred * arm[:, None]])
    ols = sm.OLS(y, design)
    group = np.where(arm, "fip", "control")
    ours = standardised_mean_difference(y, group, site, reference="control")
    hc0 = ols.fit(cov_type="HC0")
    assert ours.difference == pytest.approx(hc0.params[1], abs=1e-9)
    assert ours.se == pytest.approx(hc0.bse[1], rel=1e-6)
    clustered = standardised_mean_difference(y, group, site, unit, reference="control")
    fit = ols.fit(cov_type="cluster", cov_kwds={"groups": unit, "use_correction": False})
    assert clustered.se == pytest.approx(fit.bse[1], rel=1e-6)


def test_complier_average_effect_matches_two_stage_least_squares() -> None:
    from statsmodels.sandbox.regression.gmm import IV2SLS

    rng = np.random.default_rng(11)
    n = 800
    z = rng.uniform(size=n) < 0.4
    received = z & (rng.uniform(size=n) < 0.7)
    y = (rng.uniform(size=n) < 0.2 + 0.15 * received).astype(float)
    exog = np.column_stack([np.ones(n), received.astype(float)])
    instrument = np.column_stack([np.ones(n), z.astype(float)])
    fit = IV2SLS(y, exog, instrument).fit()
    ours = complier_average_effect(y, received.astype(float), np.where(z, "fip", "control"),
                                   reference="control")  # fmt: skip
    assert ours.effect == pytest.approx(fit.params[1], abs=1e-9)
    # HC0 sandwich of the just-identified IV model: (Z'X)^-1 Z' diag(e^2) Z (X'Z)^-1.
    e = y - exog @ fit.params
    bread = np.linalg.inv(instrument.T @ exog)
    meat = (instrument * e[:, None] ** 2).T @ instrument
    assert ours.se == pytest.approx(np.sqrt((bread @ meat @ bread.T)[1, 1]), rel=1e-6)


def test_the_report_prints_the_plan_and_warns_when_unfrozen() -> None:
    report = build_report(PARTICIPANTS, spells=SPELLS)
    assert report["plan"]["given"] is False
    assert report["plan"]["warnings"][0].startswith("NO ANALYSIS PLAN")
    unfrozen = build_report(PARTICIPANTS, spells=SPELLS, plan=PlanFile(plan=default_plan("t")))
    assert unfrozen["plan"]["sha256"] == default_plan("t").sha256
    assert unfrozen["plan"]["warnings"][0].startswith("UNFROZEN ANALYSIS PLAN")
    changed = PlanFile(plan=default_plan("t"), frozen=True, changed_after_report=True)
    warned = build_report(PARTICIPANTS, spells=SPELLS, plan=changed)["plan"]["warnings"]
    assert warned == [w for w in changed.warnings] and "AFTER THE FIRST UNBLINDED" in warned[0]
    assert json.dumps(build_report(PARTICIPANTS, spells=SPELLS), allow_nan=False)


def test_the_pilot_report_on_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    from fiptrial_analysis.cli import main

    assert main(["pilot", "--report"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["table"] == [[62, 245], [252, 1341]] and printed["has_dates"] is False
    assert [round(s["chi_square"]["pvalue"], 2) for s in printed["sensitivity"]] == [0.08, 0.48]


def test_one_template_renders_the_page_in_english_and_in_dutch() -> None:
    from fiptrial_analysis.html import render_html

    report = build_report(PARTICIPANTS, spells=SPELLS)
    english = render_html(report)
    assert "Time to sustained exit" in english and "NO ANALYSIS PLAN" in english
    assert english.count("data:image/png;base64,") == 9  # five first-exit figures, four planned
    dutch = render_html(report, language="nl")
    assert "<html lang='nl'>" in dutch
    assert "Tijd tot duurzame uitstroom" in dutch and "Primaire analyse" in dutch
    assert "Time to sustained exit" not in dutch
    assert "95%-BI" in dutch and "95%%" not in dutch
    # What the report carries (the plan's warning, estimands, definitions) speaks Dutch too.
    assert "GEEN ANALYSEPLAN bij de gegevens" in dutch and "NO ANALYSIS PLAN" not in dutch
    assert "Oorzaakspecifieke hazard ratio" in dutch and "Cause-specific" not in dutch
    assert "Deelnemers toegewezen aan de groep" in dutch
    assert "intention to treat: everyone" not in dutch
    assert "any_exit_gross" not in dutch and "Elke uitstroom, bruto" in dutch
    # Numbers in each language's form (Babel): 12,5% and 0,051 in Dutch, 12.5% in English.
    assert re.search(r"\d,\d%", dutch) and not re.search(r"\d\.\d%", dutch)
    assert re.search(r"\d\.\d%", english) and not re.search(r"\d,\d%", english)


def test_every_text_the_report_carries_has_its_dutch_translation() -> None:
    """The plan's warnings, the estimands, captions, figure titles and definitions are English
    message ids of the package's catalogue: a new one without a Dutch translation fails here."""
    from fiptrial_analysis import planned, report
    from fiptrial_analysis.html import FIGURE_TITLES, translations
    from fiptrial_analysis.plan import PLAN_WARNINGS

    dutch = translations("nl").gettext
    texts = [
        *PLAN_WARNINGS.values(),
        *planned.ESTIMANDS.values(),
        *FIGURE_TITLES.values(),
        *report.DEFINITIONS.values(),
    ]
    untranslated = [text for text in texts if dutch(text) == text]
    assert untranslated == []
    assert "%(version)s" in dutch(PLAN_WARNINGS["unfrozen"])


def test_the_unfrozen_plan_warning_names_its_version_in_both_languages() -> None:
    from fiptrial_analysis.html import render_body

    report = build_report(PARTICIPANTS, spells=SPELLS)
    report["plan"].update(given=True, frozen=False, version=3)
    no_figures = lambda name: {"empty": "-", "title": name}  # noqa: E731
    assert "UNFROZEN ANALYSIS PLAN: version 3 can still" in render_body(report, no_figures)
    dutch = render_body(report, no_figures, "nl", site_names={})
    assert "ANALYSEPLAN NIET BEVROREN: versie 3 kan nog" in dutch
