"""render_html and its plots: readable with no exits yet, and on the pilot's data."""

import copy
import math
from pathlib import Path

import pytest
from matplotlib.figure import Figure

from fiptrial_analysis import build_report, figures_survival, pilot_participants, render_html
from fiptrial_analysis import figures as report_html
from fiptrial_analysis.html import FIGURES

PNG_DIR = Path("/tmp/fiptrial_analysis_plots")
PLOT_NAMES = ("consort", "exits", "forest", "survival", "incidence")


def _no_exits_yet(sites=("Noord", "Zuid")):
    """A demo trial on the day of allocation: no exits and no follow-up time at all."""
    columns = {name: [] for name in (
        "participant", "site", "arm", "allocated_on", "followup_end", "exit_date", "exit_code",
    )}  # fmt: skip
    for site in sites:
        for arm in ("fip", "control"):
            for i in range(5):
                columns["participant"].append(f"{site}-{arm}-{i}")
                columns["site"].append(site)
                columns["arm"].append(arm)
                columns["allocated_on"].append("2026-11-20")
                columns["followup_end"].append("2026-11-20")
                columns["exit_date"].append("")
                columns["exit_code"].append("")
    return columns


@pytest.fixture(scope="module")
def empty_report():
    return build_report(_no_exits_yet())


@pytest.fixture(scope="module")
def pilot_report():
    return build_report(pilot_participants())


def _save_all(report, prefix):
    """Every plot as PNG, saved the way the web app does (dpi 100, no tight bounding box),
    so a person can look at them; returns the figures' axes."""
    PNG_DIR.mkdir(exist_ok=True)
    axes = {}
    for name in PLOT_NAMES:
        figure = FIGURES[name](report)
        assert isinstance(figure, Figure)
        figure.savefig(PNG_DIR / f"{prefix}_{name}.png", dpi=100)
        axes[name] = figure.axes
    return axes


@pytest.mark.parametrize("sites", [("Noord", "Zuid"), ("Noord",)])
def test_no_exits_yet_says_so_instead_of_drawing_empty_axes(sites):
    page = render_html(build_report(_no_exits_yet(sites)))
    assert page.startswith("<!DOCTYPE html>")
    assert page.count("No exits recorded yet") == 4  # exits, forest, Kaplan-Meier, incidence
    assert page.count("data:image/png;base64,") == 1  # only the CONSORT diagram
    assert "Days since allocation" not in page


def test_no_exits_yet_figures_are_text_panels(empty_report):
    """The web app asks for each figure on its own, so they too must say why they are empty."""
    axes = _save_all(empty_report, "no_exits")
    for name in ("exits", "forest", "survival", "incidence"):
        (ax,) = axes[name]
        assert not ax.axison, name
        assert not ax.lines and not ax.patches, name
        assert any("No exits recorded yet" in text.get_text() for text in ax.texts), name


def test_pilot_renders_every_plot(pilot_report):
    page = render_html(pilot_report)
    assert page.count("data:image/png;base64,") == 5
    assert "No exits recorded yet" not in page
    assert 'alt="Exits by reason (BUS kenmerk 34) and arm"' in page
    axes = _save_all(pilot_report, "pilot")
    for name in PLOT_NAMES:
        assert axes[name][0].get_title(), name


def test_pilot_exits_figure_grows_with_the_number_of_reasons(pilot_report):
    figure = report_html.exits_figure(pilot_report)
    (ax,) = figure.axes
    reasons = [r for r in pilot_report["exits_by_code"] if r["fip"] or r["control"]]
    assert len(ax.get_yticks()) == len(reasons) == 19
    assert figure.get_figheight() >= 0.5 * len(reasons)
    assert ax.get_xlim()[0] == 0 and ax.get_xlim()[1] > 4  # 13 of 308 FIP moved: 4.2%
    assert ax.get_xlabel() and ax.get_title()


def test_pilot_forest_plot_has_plain_major_ticks_only(pilot_report):
    figure = report_html.forest_figure(pilot_report)
    (ax,) = figure.axes
    figure.draw_without_rendering()
    assert ax.get_xscale() == "log"
    low, high = ax.get_xlim()
    ticks = list(ax.get_xticks())
    assert ticks == report_html.odds_ratio_ticks(low, high) == [0.5, 1.0, 2.0]
    assert [label.get_text() for label in ax.get_xticklabels()] == ["0.5", "1", "2"]
    assert ax.xaxis.get_minorticklocs().size == 0
    assert ax.xaxis.get_minorticklabels() == []
    labels = [label.get_text() for label in ax.get_yticklabels()]
    assert labels == ["ISD Brabantse Wal", "All sites pooled"]


def test_forest_plot_y_labels_fit_inside_the_figure(pilot_report):
    """Saved without a tight bounding box (as the web app does), no label is cut off."""
    report = copy.deepcopy(pilot_report)
    report["random_effects"] = {
        "estimate": 0.3,
        "odds_ratio": math.exp(0.3),
        "odds_ratio_ci": [1.1, 1.8],
    }
    figure = report_html.forest_figure(report)
    figure.draw_without_rendering()  # runs the constrained layout
    (ax,) = figure.axes
    texts = [*ax.get_yticklabels(), ax.title, ax.xaxis.label]
    assert "Random effects (DerSimonian-Laird)" in [t.get_text() for t in texts]
    for text in texts:
        box = text.get_window_extent()
        assert box.x0 >= 0 and box.x1 <= figure.bbox.width, text.get_text()


def test_forest_plot_clips_absurd_limits_with_an_arrow(pilot_report):
    """A zero cell can give an infinite or huge limit: the axis stays within 0.001 to 1000."""
    report = copy.deepcopy(pilot_report)
    report["sites"][0]["odds_ratio"] = {"estimate": 4.0, "ci": [0.2, None]}
    report["odds_ratio"] = {"estimate": 1.3, "ci": [0.0000001, 5000.0]}
    figure = report_html.forest_figure(report)
    (ax,) = figure.axes
    low, high = ax.get_xlim()
    assert 0.0005 < low < 0.001 and 1000 < high < 2000
    assert list(ax.get_xticks()) == [0.001, 0.01, 0.1, 1.0, 10.0, 100.0, 1000.0]
    arrows = [line for line in ax.lines if line.get_marker() in ("<", ">")]
    assert sorted(line.get_marker() for line in arrows) == ["<", ">", ">"]
    assert "beyond the axis" in ax.get_xlabel()


def test_forest_plot_leaves_out_sites_without_any_net_exit(pilot_report):
    report = copy.deepcopy(pilot_report)
    quiet = copy.deepcopy(report["sites"][0])
    quiet["site"] = "Stil"
    for arm in quiet["arms"].values():
        arm["net_exits"] = 0
    report["sites"].append(quiet)
    (ax,) = report_html.forest_figure(report).axes
    assert "Stil" not in [label.get_text() for label in ax.get_yticklabels()]
    assert "1 site with no net exit" in ax.get_xlabel()
    (dutch,) = report_html.forest_figure(report, "nl").axes
    assert "1 locatie zonder netto uitstroom" in dutch.get_xlabel()


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (0.4, 2.5, [0.5, 1.0, 2.0]),
        (0.08, 12.0, [0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0]),
        (0.004, 300.0, [0.01, 0.1, 1.0, 10.0, 100.0]),
        (0.0008, 1300.0, [0.001, 0.01, 0.1, 1.0, 10.0, 100.0, 1000.0]),
    ],
)
def test_odds_ratio_ticks(low, high, expected):
    assert report_html.odds_ratio_ticks(low, high) == expected


def test_survival_axis_starts_at_day_zero(pilot_report):
    for name in ("survival", "incidence"):
        (ax,) = getattr(figures_survival, f"{name}_figure")(pilot_report).axes
        low, high = ax.get_xlim()
        assert low == 0 and high > 300, name
        assert ax.get_xlabel() == "Days since allocation"
        assert ax.get_ylabel()
