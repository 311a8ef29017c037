"""The report's time-to-event figures: Kaplan-Meier curves of remaining on benefit and the
cumulative incidence of exit to work, per arm (drawn like :mod:`fiptrial_analysis.figures`,
from the report dictionary alone).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from .figures import (
    ARM_COLOURS,
    Draw,
    _new_figure,
    _no_exits_yet,
    _p,
    _styled,
    _total_exits,
    _unless_empty,
    _words,
    arm_name,
    set_title,
)
from .i18n import Words

SURVIVAL_TITLE = "Kaplan-Meier: still on benefit"
INCIDENCE_TITLE = "Cumulative incidence of exit to work (BUS 11 and 13), other exits competing"


def arm_curve(
    ax: Axes,
    arm: str,
    curve: dict[str, Any],
    values: str,
    start: float,
    label: str,
    **style: Any,
) -> None:
    """One arm's step curve in the arm's colour: ``curve[values]`` over ``curve["times"]``,
    starting at ``start`` on day 0 (1 for a survival curve, 0 for an incidence)."""
    ax.step(
        [0.0, *curve["times"]],
        [start, *curve[values]],
        where="post",
        color=ARM_COLOURS[arm],
        label=label,
        **style,
    )


def _time_axis(ax: Axes, times: list[float], words: Words) -> None:
    """Days from 0 to the last event (at least one day, so the axis never collapses)."""
    ax.set_xlim(0, max([1.0, *times]) * 1.03)
    ax.set_xlabel(words("Days since allocation"))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: words.plain(value)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: words.plain(value)))
    ax.grid(color="#e5e5e5", linewidth=0.8)
    ax.set_axisbelow(True)


def _arm_curves(
    curves: dict[str, Any],
    values: str,
    start: float,
    words: Words,
    label: Callable[[str], str] | None = None,
) -> tuple[Figure, Axes]:
    """A figure with each arm's curve (``curves[arm]``, see :func:`arm_curve`) over days since
    allocation; ``label(arm)`` names a curve in the legend (the arm's name by default)."""
    figure, ax = _new_figure(8, 4.5)
    for arm in ("fip", "control"):
        name = label(arm) if label else arm_name(arm, words)
        arm_curve(ax, arm, curves[arm], values, start, name, linewidth=1.8)
    _time_axis(ax, [t for arm in ("fip", "control") for t in curves[arm]["times"]], words)
    return figure, ax


def survival_empty_message(report: dict[str, Any], language: str | Words = "en") -> str | None:
    """Why the Kaplan-Meier plot cannot be drawn, or None when it can."""
    words = _words(language)
    km = report["survival"]["kaplan_meier"]
    if any(km[arm]["events"] and km[arm]["times"] for arm in ("fip", "control")):
        return None
    if _total_exits(report) == 0:
        return (
            _no_exits_yet(report, words)
            + " "
            + words("Everyone is still on benefit; there is no curve to draw.")
        )
    return words(
        "No exits other than for pension age recorded yet (those are censored), so every "
        "Kaplan-Meier curve is still at 1."
    )


@_styled
@_unless_empty(SURVIVAL_TITLE, survival_empty_message)
def survival_figure(report: dict[str, Any], words: Words) -> Figure:
    """Kaplan-Meier curves of remaining on benefit (no net exit), per arm, with intervals."""
    km = report["survival"]["kaplan_meier"]

    def with_size(arm: str) -> str:
        return f"{arm_name(arm, words)} (n = {words.number(km[arm]['n'], 0)})"

    figure, ax = _arm_curves(km, "survival", 1.0, words, with_size)
    for arm in ("fip", "control"):
        curve = km[arm]
        times = curve["times"]
        lower = [v if v is not None else 0.0 for v in curve["ci_lower"]]
        upper = [v if v is not None else 0.0 for v in curve["ci_upper"]]
        ax.fill_between(
            [0.0, *times],
            [1.0, *lower],
            [1.0, *upper],
            step="post",
            color=ARM_COLOURS[arm],
            alpha=0.15,
            linewidth=0,
        )
    test = report["survival"]["log_rank"]
    log_rank = words("log-rank stratified by site") if test["stratified_by"] else "log-rank"
    p_value = _p(test["pvalue"], html=False, words=words)
    set_title(ax, f"{words(SURVIVAL_TITLE)} ({log_rank} {p_value})")
    ax.set_ylabel(words("Proportion still on benefit"))
    ax.set_ylim(0, 1.02)
    ax.legend(loc="lower left")
    return figure


def incidence_empty_message(report: dict[str, Any], language: str | Words = "en") -> str | None:
    """Why the cumulative-incidence plot cannot be drawn, or None when it can."""
    words = _words(language)
    cif = report["survival"]["cumulative_incidence_work"]
    if any(v for arm in ("fip", "control") for v in cif[arm]["incidence"] if v is not None):
        return None
    if _total_exits(report) == 0:
        return _no_exits_yet(report, words)
    return words("No exits to work (BUS 11 or 13) recorded yet, so there is no incidence to draw.")


@_styled
@_unless_empty(INCIDENCE_TITLE, incidence_empty_message)
def incidence_figure(report: dict[str, Any], words: Words) -> Figure:
    """Cumulative incidence of exit to work per arm, other exits competing."""
    cif = report["survival"]["cumulative_incidence_work"]
    figure, ax = _arm_curves(cif, "incidence", 0.0, words)
    set_title(ax, words(INCIDENCE_TITLE))
    ax.set_ylabel(words("Cumulative incidence"))
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper left")
    return figure


# Each plot that can have nothing to show yet, with what it is and why it is empty.
PLOTS: dict[str, tuple[str, Draw, Callable[..., str | None]]] = {
    "survival": (SURVIVAL_TITLE, survival_figure, survival_empty_message),
    "incidence": (INCIDENCE_TITLE, incidence_figure, incidence_empty_message),
}
