"""The figures of the analysis plan (report section ``planned``), adjusted like the primary
analysis: every curve and share is standardised to the trial's site mix, and each caption names
its estimand. Drawn from the report dictionary alone, outside pyplot.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from .figures import (
    ARM_COLOURS,
    Drawing,
    _message_figure,
    _new_figure,
    _styled,
    _unless_empty,
    arm_name,
    reason_label,
    set_title,
)
from .figures_survival import arm_curve
from .i18n import Words

SUSTAINED_TITLE = "No sustained exit yet (site-standardised)"
CLASSES_TITLE = "Cumulative incidence of the first sustained end, per class (site-standardised)"
CATERPILLAR_TITLE = "Client managers: sustained-exit risk minus usual care (shrunken, 95% CI)"
REASONS_TITLE = "First sustained end by reason and class (site-standardised share of the arm)"
CLASS_STYLES = {"primary": "-", "competing": "--", "administrative": ":"}

#: Each figure with its caption: what it shows, estimated how (also the image's alt text).
CAPTIONS = {
    "sustained": "Share without a sustained primary exit, per arm: 1 minus the Kaplan-Meier "
    "curve of each site and arm, averaged with the site shares (the curve of the site-"
    "stratified Cox model's event; competing and administrative ends censor).",
    "classes": "Aalen-Johansen cumulative incidence of the first sustained end of each class, "
    "per arm, standardised to the site mix; Gray's test per class in the table.",
    "caterpillar": "Per client manager (FIP arm), the risk of a sustained primary exit by the "
    "first horizon minus the usual-care risk: empirical-Bayes estimates from the REML random-"
    "effects model, with 95% intervals.",
    "reasons": "Share of each arm whose first sustained end had this BUS reason, standardised "
    "to the site mix, grouped by the plan's classes.",
}


#: The plan's classes of ends, as the figures name them (English message ids).
CLASS_NAMES = {"primary": "primary", "competing": "competing", "administrative": "administrative"}


def _without_plan(report: dict[str, Any], words: Words) -> str | None:
    """Why a figure of the plan cannot be drawn: the report has no ``planned`` section."""
    if isinstance(report.get("planned"), dict):
        return None
    return words("The report was computed without the spells file: the plan's figures need it.")


def _needs_plan(title: str) -> Callable[[Drawing], Drawing]:
    """Draw the figure only from a report with the plan's section, otherwise a panel saying
    that the spells file is missing."""
    return _unless_empty(title, _without_plan)


def _numbers(ax: Any, words: Words) -> None:
    """Both axes' tick values in the figure's language (decimal comma in Dutch)."""
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: words.plain(value)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: words.plain(value)))


@_styled
@_needs_plan(SUSTAINED_TITLE)
def sustained_figure(report: dict[str, Any], words: Words) -> Figure:
    planned = report["planned"]
    curves = planned["competing_risks"]["no_sustained_exit"]
    if "note" in curves:
        return _message_figure(words(SUSTAINED_TITLE), words(curves["note"]))
    figure, ax = _new_figure(8, 4.5)
    last = 1.0
    for arm in ("fip", "control"):
        curve = curves.get(arm) or {"times": [], "survival": []}
        arm_curve(ax, arm, curve, "survival", 1.0, arm_name(arm, words), linewidth=1.8)
        last = max([last, *curve["times"]])
    ax.set_xlim(0, last * 1.03)
    ax.set_xlabel(words("Days since allocation"))
    ax.set_ylabel(words("Without a sustained primary exit"))
    _numbers(ax, words)
    set_title(ax, words(SUSTAINED_TITLE))
    ax.legend(loc="lower left")
    return figure


@_styled
@_needs_plan(CLASSES_TITLE)
def classes_figure(report: dict[str, Any], words: Words) -> Figure:
    planned = report["planned"]
    figure, ax = _new_figure(8, 4.5)
    last = 1.0
    for name, style in CLASS_STYLES.items():
        entry = planned["competing_risks"].get(name) or {}
        for arm in ("fip", "control"):
            curve = entry.get(arm)
            if not curve:
                continue
            label = f"{arm_name(arm, words)}: {words(CLASS_NAMES[name])}"
            arm_curve(ax, arm, curve, "incidence", 0.0, label, linestyle=style, linewidth=1.6)
            last = max([last, *curve["times"]])
    ax.set_xlim(0, last * 1.03)
    ax.set_ylim(bottom=0)
    ax.set_xlabel(words("Days since allocation"))
    ax.set_ylabel(words("Cumulative incidence"))
    _numbers(ax, words)
    set_title(ax, words(CLASSES_TITLE))
    ax.legend(loc="upper left", fontsize=8)
    return figure


@_styled
@_needs_plan(CATERPILLAR_TITLE)
def caterpillar_figure(report: dict[str, Any], words: Words) -> Figure:
    planned = report["planned"]
    managers = planned["client_managers"]
    rows = managers.get("caterpillar")
    if not rows:
        return _message_figure(
            words(CATERPILLAR_TITLE), words(managers.get("note") or "No client managers.")
        )
    figure, ax = _new_figure(8, max(2.5, min(0.18 * len(rows) + 1.2, 9)))
    for y, row in enumerate(rows):
        low, high = row["ci"]
        if low is not None and high is not None:
            ax.plot([low, high], [y, y], color="#555555", linewidth=1)
        if row["blup"] is not None:
            ax.plot([row["blup"]], [y], "o", color=ARM_COLOURS["fip"], markersize=4)
    ax.axvline(0, color="#000000", linewidth=0.8)
    ax.set_yticks(range(len(rows)), [str(r["manager"]) for r in rows], fontsize=7)
    ax.set_xlabel(words("Risk difference against usual care"))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: words.plain(value)))
    set_title(ax, words(CATERPILLAR_TITLE))
    return figure


@_styled
@_needs_plan(REASONS_TITLE)
def reasons_figure(report: dict[str, Any], words: Words) -> Figure:
    planned = report["planned"]
    rows = [r for r in planned["exits_by_reason"] if r["fip"] or r["control"]]
    if not rows:
        return _message_figure(words(REASONS_TITLE), words("No sustained end recorded yet."))
    order = {"primary": 0, "competing": 1, "administrative": 2}
    rows.sort(key=lambda r: (order[r["class"]], r["code"]))
    figure, ax = _new_figure(8, max(2.5, 0.32 * len(rows) + 1.2))
    height = 0.38
    for offset, arm in ((-height / 2, "fip"), (height / 2, "control")):
        ax.barh([i + offset for i in range(len(rows))], [r[f"{arm}_share"] for r in rows],
                height=height, color=ARM_COLOURS[arm], label=arm_name(arm, words))  # fmt: skip
    labels = [
        f"{words(CLASS_NAMES[r['class']])} · {r['code']} {reason_label(r, words)[:38]}"
        for r in rows
    ]
    ax.set_yticks(range(len(rows)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(words("Share of the arm (standardised to the site mix)"))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: words.plain(value)))
    set_title(ax, words(REASONS_TITLE))
    ax.legend(loc="lower right")
    return figure


PLANNED_FIGURES = {
    "sustained": sustained_figure,
    "classes": classes_figure,
    "caterpillar": caterpillar_figure,
    "reasons": reasons_figure,
}
