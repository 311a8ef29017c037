"""The report's figures, drawn from the report dictionary alone (a frozen report can be drawn
again without the participant data).

Figures are :class:`matplotlib.figure.Figure` objects outside pyplot, so that neither the
package nor the web app shares pyplot's global state; :func:`png` encodes one. The HTML page
(:mod:`fiptrial_analysis.html`) and the platform's report page show the same figures.
"""

from __future__ import annotations

import base64
import functools
import io
import math
import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

# Figures are matplotlib Figure objects outside pyplot: importing this module neither loads pyplot
# nor changes the host's backend (a notebook or the web app keeps its own); savefig renders them
# with the Agg canvas.
import matplotlib
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

from .i18n import Words

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

# One colour per arm everywhere (Okabe-Ito, readable for colour-blind readers).
ARM_COLOURS = {"fip": "#0072B2", "control": "#E69F00"}
ARM_NAMES = {"fip": "FIP", "control": "Control (usual care)"}
POOLED_COLOUR = "#000000"
SITE_COLOUR = "#555555"
FOREST_MAX_SITES = 50


# The HTML page shows each plot at about 100 CSS pixels per figure inch (an 8-inch plot fills
# most of the 60rem column); it is drawn at twice that so that text stays crisp on dense screens.
HTML_DPI = 200
DISPLAY_PIXELS_PER_INCH = 100

# Font sizes in points at the widths above: 10 pt is about 14 CSS pixels, 9 pt about 12.
PLOT_STYLE: dict[RcKeyType, Any] = {
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
}


#: A figure's drawing function: ``draw(report, language="en", site_names=None)`` (``"en"`` or
#: ``"nl"``; ``site_names`` maps site codes to the names the figure shows).
Draw = Callable[..., Figure]


def _styled(draw: Callable[[dict[str, Any], Words], Figure]) -> Draw:
    """Draw a figure under :data:`PLOT_STYLE` (fonts are fixed when an artist is made), with
    every text in the figure in ``language`` (the package's catalogue, numbers by Babel)."""

    @functools.wraps(draw)
    def wrapper(
        report: dict[str, Any], language: str = "en", site_names: Mapping[str, str] | None = None
    ) -> Figure:
        with matplotlib.rc_context(PLOT_STYLE):
            return draw(report, Words(language, site_names or {}))

    return wrapper


def arm_name(arm: str, words: Words) -> str:
    """An arm's name in the figure's language."""
    return words(ARM_NAMES[arm])


def reason_label(row: dict[str, Any], words: Words) -> str:
    """A BUS reason's label in the figure's language (the code list's Dutch label)."""
    if words.language == "nl" and row.get("label_nl"):
        return str(row["label_nl"])
    return str(row["label_en"])


# Figure legends placed outside the axes by the layout engine (matplotlib 3.7 and later).
_OUTSIDE_LEGENDS = tuple(int(part) for part in matplotlib.__version__.split(".")[:2]) >= (3, 7)


def _new_figure(width: float, height: float) -> tuple[Figure, Axes]:
    """A figure outside pyplot's global state, laid out so that no label is cut off.

    Constrained layout matters for callers that save without ``bbox_inches="tight"`` (the web
    app does): long tick labels then still fit inside the figure.
    """
    figure = Figure(figsize=(width, height), layout="constrained")
    return figure, figure.add_subplot()


TITLE_WIDTH = 60  # characters on one title line at 11 pt bold over a narrowed plot


def set_title(ax: Axes, title: str) -> None:
    """The axes' title, on two lines when longer than :data:`TITLE_WIDTH` (Dutch titles are
    longer than the English ones; constrained layout does not shrink a title)."""
    ax.set_title("\n".join(textwrap.wrap(title, TITLE_WIDTH)))


def _message_figure(title: str, message: str) -> Figure:
    """A small panel that says, in words, why there is no plot yet."""
    figure, ax = _new_figure(8, 1.6)
    ax.axis("off")
    set_title(ax, title)
    ax.text(
        0.5,
        0.5,
        "\n".join(textwrap.wrap(message, 80)),
        ha="center",
        va="center",
        transform=ax.transAxes,
        fontsize=11,
        color="#333333",
    )
    return figure


#: What a figure's drawing function is given inside :func:`_styled`.
Drawing = Callable[[dict[str, Any], Words], Figure]


def _unless_empty(
    title: str, empty_message: Callable[[dict[str, Any], Words], str | None]
) -> Callable[[Drawing], Drawing]:
    """Draw the figure only when ``empty_message`` has no reason against it; otherwise a
    :func:`_message_figure` under ``title`` that gives the reason (the same words the report
    page shows beside a plot that cannot be drawn yet)."""

    def decorate(draw: Drawing) -> Drawing:
        @functools.wraps(draw)
        def guarded(report: dict[str, Any], words: Words) -> Figure:
            message = empty_message(report, words)
            if message:
                return _message_figure(words(title), message)
            return draw(report, words)

        return guarded

    return decorate


@dataclass(frozen=True)
class Png:
    """A figure as PNG bytes, with the width to show it at and its title as the alt text."""

    data: bytes
    width: int
    alt: str

    def data_uri(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.data).decode("ascii")


def png(figure: Figure, dpi: int = HTML_DPI) -> Png:
    """Encode a figure (tight bounding box); shown at :data:`DISPLAY_PIXELS_PER_INCH`."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    data = buffer.getvalue()
    pixels_wide = int.from_bytes(data[16:20], "big")  # the PNG IHDR chunk's width field
    alt = figure.axes[0].get_title().replace("\n", " ") if figure.axes else ""
    return Png(data, round(pixels_wide * DISPLAY_PIXELS_PER_INCH / dpi), alt)


def _p(value: float | None, html: bool = True, words: Words | None = None) -> str:
    """``p`` with its relation, e.g. ``p = 0.0587`` or ``p < 0.0001`` (escaped for HTML)."""
    words = words or Words()
    if value is None:
        return words("p not computable")
    if value < 0.0001:
        smallest = words.number(0.0001, 4)
        return f"p &lt; {smallest}" if html else f"p < {smallest}"
    return f"p = {words.number(value, 4)}"


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "\u2026"


def _wrap(text: str, width: int, lines: int = 2) -> str:
    """Text on at most ``lines`` lines of ``width`` characters, shortened when longer."""
    wrapped = textwrap.wrap(text, width)
    if len(wrapped) > lines:
        wrapped = [*wrapped[: lines - 1], _shorten(" ".join(wrapped[lines - 1 :]), width)]
    return "\n".join(wrapped)


EXITS_TITLE = "Exits by reason (BUS kenmerk 34) and arm"
FOREST_TITLE = "Forest plot: site odds ratios and pooled estimates"


def _total_exits(report: dict[str, Any]) -> int:
    return sum(r["fip"] + r["control"] for r in report["exits_by_code"])


def _no_exits_yet(report: dict[str, Any], words: Words) -> str:
    participants = sum(arm["n"] for arm in report["arms"].values())
    return words.n(
        "No exits recorded yet: the one participant has not left the benefit within the follow-up.",
        "No exits recorded yet: none of the %(n)s participants has left the benefit within "
        "their follow-up.",
        participants,
    )


def _words(language: str | Words) -> Words:
    return language if isinstance(language, Words) else Words(language)


def exits_empty_message(report: dict[str, Any], language: str | Words = "en") -> str | None:
    """Why the exits-by-reason plot cannot be drawn, or None when it can."""
    return _no_exits_yet(report, _words(language)) if _total_exits(report) == 0 else None


@_styled
@_unless_empty(EXITS_TITLE, exits_empty_message)
def exits_figure(report: dict[str, Any], words: Words) -> Figure:
    """Horizontal bars: exits per BUS reason as a share of each arm's participants.

    The height grows with the number of reasons shown (those with at least one exit), so the
    bars never squash; with no exit at all the figure is a text panel saying so.
    """
    rows = [r for r in report["exits_by_code"] if r["fip"] or r["control"]]
    figure, ax = _new_figure(8, max(3.0, 0.55 * len(rows) + 1.9))
    labels = [_wrap(f"{r['code']} {reason_label(r, words)}", 34) for r in rows]
    positions = range(len(rows))
    height = 0.4
    widest = 0.0
    for offset, arm in ((-height / 2, "fip"), (height / 2, "control")):
        shares = [100 * (r[f"{arm}_share"] or 0) for r in rows]
        widest = max(widest, *shares)
        bars = ax.barh(
            [p + offset for p in positions],
            shares,
            height=height,
            color=ARM_COLOURS[arm],
            label=arm_name(arm, words),
        )
        counts = [words.number(r[arm], 0) if r[arm] else "" for r in rows]
        ax.bar_label(bars, labels=counts, padding=2, fontsize=8, color="#333333")
    ax.set_yticks(list(positions), labels)
    ax.set_ylim(len(rows) - 0.5, -0.5)  # first reason on top
    ax.set_xlim(0, widest * 1.15 or 1)  # room for the count at the end of each bar
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{words.plain(value)}%"))
    ax.grid(axis="x", color="#e5e5e5", linewidth=0.8)
    ax.set_axisbelow(True)
    ax.set_xlabel(
        words(
            "Exits within follow-up (% of the arm's participants;\nthe number of exits at each bar)"
        )
    )
    set_title(ax, words(EXITS_TITLE))
    if _OUTSIDE_LEGENDS:  # below the plot, clear of every bar
        figure.legend(loc="outside lower center", ncols=2, frameon=False)
    else:
        ax.legend(loc="best")
    return figure


# Odds ratios beyond these (zero cells, tiny sites) are drawn to the edge with an arrowhead.
ODDS_RATIO_AXIS_LIMITS = (0.001, 1000.0)


def odds_ratio_ticks(low: float, high: float) -> list[float]:
    """Plain major ticks for a log odds-ratio axis from ``low`` to ``high``.

    1, 2 and 5 times a power of ten while that gives at most nine ticks, otherwise powers of
    ten only (every other one when even those are too many).
    """
    candidates = [float(f"{m}e{e}") for e in range(-4, 5) for m in (1, 2, 5)]
    inside = [t for t in candidates if low * (1 - 1e-9) <= t <= high * (1 + 1e-9)]
    if len(inside) > 9:
        inside = [t for t in inside if f"{t:e}".startswith("1")]
    if len(inside) > 9:
        inside = [t for t in inside if round(math.log10(t)) % 2 == 0]
    return inside


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value) and value > 0


def _informative(site: dict[str, Any]) -> bool:
    """A site with a net exit and a net non-exit somewhere; otherwise its odds ratio is only
    the 0.5 added to empty cells (metafor's ``drop00`` leaves such studies out too)."""
    arms = site["arms"].values()
    exits = sum(a["net_exits"] for a in arms)
    return 0 < exits < sum(a["net_n"] for a in arms)


def _forest_rows(
    report: dict[str, Any], words: Words
) -> tuple[list[tuple[str, float, float | None, float | None]], list[tuple], int, int]:
    """Site rows, pooled rows, the number of sites with an odds ratio, and how many of them
    are left out for having no net exit (or no net non-exit)."""
    with_ratio = [s for s in report["sites"] if s["odds_ratio"] is not None]
    sites = [s for s in with_ratio if _informative(s)]
    uninformative = len(with_ratio) - len(sites)
    if len(sites) > FOREST_MAX_SITES:
        sites = sorted(sites, key=lambda s: -(s["arms"]["fip"]["n"] + s["arms"]["control"]["n"]))
        sites = sorted(sites[:FOREST_MAX_SITES], key=lambda s: s["site"])
    rows = [
        (words.site(s["site"]), s["odds_ratio"]["estimate"], *s["odds_ratio"]["ci"]) for s in sites
    ]
    pooled: list[tuple] = []
    if report.get("mantel_haenszel"):
        mh = report["mantel_haenszel"]
        pooled.append((words("Mantel-Haenszel (primary)"), mh["odds_ratio"], *mh["odds_ratio_ci"]))
    re = report.get("random_effects") or {}
    if re.get("estimate") is not None:
        pooled.append(
            (words("Random effects (DerSimonian-Laird)"), re["odds_ratio"], *re["odds_ratio_ci"])
        )
    if not pooled and report.get("odds_ratio"):
        pooled.append(
            (
                words("All sites pooled"),
                report["odds_ratio"]["estimate"],
                *report["odds_ratio"]["ci"],
            )
        )
    pooled = [row for row in pooled if _finite(row[1])]
    return rows, pooled, len(with_ratio), uninformative


def forest_empty_message(report: dict[str, Any], language: str | Words = "en") -> str | None:
    """Why the forest plot cannot be drawn, or None when it can."""
    words = _words(language)
    if _total_exits(report) == 0:
        return _no_exits_yet(report, words) + " " + words("There are no odds ratios to compare.")
    rows, pooled, _, _ = _forest_rows(report, words)
    if not rows and not pooled:
        return words(
            "No site has both a net exit and a participant still on benefit (pension-age exits "
            "left out), so there is no odds ratio to plot yet."
        )
    return None


@_styled
@_unless_empty(FOREST_TITLE, forest_empty_message)
def forest_figure(report: dict[str, Any], words: Words) -> Figure:
    """Site odds ratios (net exits) with intervals, and the pooled estimates.

    The x axis is logarithmic with plain major ticks only (see :func:`odds_ratio_ticks`);
    limits beyond :data:`ODDS_RATIO_AXIS_LIMITS` or missing ones end in an arrowhead at the
    edge of the plot.
    """
    rows, pooled, total, uninformative = _forest_rows(report, words)
    floor, ceiling = ODDS_RATIO_AXIS_LIMITS
    values = [
        min(max(v, floor), ceiling) for _, *numbers in rows + pooled for v in numbers if _finite(v)
    ]
    low, high = min([0.5, *values]) / 1.3, max([2.0, *values]) * 1.3
    notes = []
    figure, ax = _new_figure(8, 0.34 * (len(rows) + len(pooled)) + 2.2)
    clipped = False

    def interval(y: float, estimate: float, lo: float | None, hi: float | None, diamond: bool):
        nonlocal clipped
        colour = POOLED_COLOUR if diamond else SITE_COLOUR
        left = lo if lo is not None and _finite(lo) and lo >= floor else None
        right = hi if hi is not None and _finite(hi) and hi <= ceiling else None
        x0, x1 = left if left is not None else low, right if right is not None else high
        point = min(max(estimate, low), high)
        if diamond:
            ax.fill([x0, point, x1, point], [y, y + 0.3, y, y - 0.3], color=colour)
        else:
            ax.plot([x0, x1], [y, y], color=colour, linewidth=1.2)
            ax.plot([point], [y], "s", color=colour, markersize=5)
        for edge, end, marker in ((left, low, "<"), (right, high, ">")):
            if edge is None:
                ax.plot([end], [y], marker, color=colour, markersize=7, clip_on=False)
                clipped = True

    for y, (_, estimate, lo, hi) in enumerate(rows):
        interval(y, estimate, lo, hi, diamond=False)
    for y, (_, estimate, lo, hi) in enumerate(pooled, start=len(rows)):
        interval(y, estimate, lo, hi, diamond=True)
    labels = [_shorten(str(row[0]), 32) for row in rows] + [row[0] for row in pooled]
    ax.axvline(1.0, color="#999999", linestyle="--", linewidth=1)
    if rows and pooled:
        ax.axhline(len(rows) - 0.5, color="#cccccc", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_xlim(low, high)
    ax.xaxis.set_major_locator(FixedLocator(odds_ratio_ticks(low, high)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: words.plain(value)))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_yticks(range(len(labels)), labels)
    for label in ax.get_yticklabels()[len(rows) :]:
        label.set_fontweight("bold")
    ax.set_ylim(len(labels) - 0.5, -0.5)
    ax.tick_params(axis="y", length=0, pad=10)  # clear of an arrowhead at the left edge
    ax.spines["left"].set_visible(False)
    if clipped:
        notes.append(
            "\u25c0 \u25b6 "
            + words("the interval goes on beyond the axis (a zero cell or a very small site)")
        )
    if uninformative:
        notes.append(
            words.n(
                "%(n)s site with no net exit (or no one still on benefit) not shown",
                "%(n)s sites with no net exit (or no one still on benefit) not shown",
                uninformative,
            )
        )
    axis = words("Odds ratio of a net exit, FIP vs control (log scale; > 1 favours FIP)")
    ax.set_xlabel("\n".join(line for text in [axis, *notes] for line in textwrap.wrap(text, 70)))
    informative = total - uninformative
    if informative > len(rows):
        title = words("Forest plot: %(shown)s largest of %(n)s sites and pooled estimates") % {
            "shown": words.number(len(rows), 0),
            "n": words.number(informative, 0),
        }
    else:
        title = words.n(
            "Forest plot: %(n)s site and pooled estimates",
            "Forest plot: %(n)s sites and pooled estimates",
            len(rows),
        )
    set_title(ax, title)
    return figure


# Each plot that can have nothing to show yet, with what it is and why it is empty.
PLOTS: dict[str, tuple[str, Draw, Callable[..., str | None]]] = {
    "exits": (EXITS_TITLE, exits_figure, exits_empty_message),
    "forest": (FOREST_TITLE, forest_figure, forest_empty_message),
}
