"""The CONSORT flow diagram of the report (a matplotlib Figure outside pyplot)."""

from __future__ import annotations

from typing import Any

from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch

from .figures import ARM_COLOURS, _new_figure, _styled, arm_name, set_title
from .i18n import Words


@_styled
def consort_figure(report: dict[str, Any], words: Words) -> Figure:
    """CONSORT flow diagram: assessed, eligible, randomised, then per arm down to analysed."""
    consort = report["consort"]

    def count(value: Any) -> str:
        return words("not recorded") if value is None else words.number(value, 0)

    figure, ax = _new_figure(9, 7)
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 10)
    ax.axis("off")
    set_title(ax, words("CONSORT flow of participants"))

    def box(x: float, y: float, text: str, colour: str = "#444444") -> None:
        ax.add_patch(
            FancyBboxPatch(
                (x - 2.2, y - 0.45),
                4.4,
                0.9,
                boxstyle="round,pad=0.05",
                facecolor="white",
                edgecolor=colour,
                linewidth=1.5,
            )
        )
        ax.text(x, y, text, ha="center", va="center", fontsize=9)

    def arrow(x0: float, y0: float, x1: float, y1: float) -> None:
        ax.annotate(
            "",
            xy=(x1, y1 + 0.5),
            xytext=(x0, y0 - 0.5),
            arrowprops={"arrowstyle": "->", "color": "#444444"},
        )

    box(5, 9.3, f"{words('Assessed for eligibility')}: {count(consort['assessed'])}")
    box(5, 8.0, f"{words('Eligible')}: {count(consort['eligible'])}")
    box(5, 6.7, f"{words('Randomised')}: {count(consort['randomised'])}")
    arrow(5, 9.3, 5, 8.0)
    arrow(5, 8.0, 5, 6.7)
    steps = (
        ("allocated", "Allocated"),
        ("received_allocated", "Received allocated intervention"),
        ("lost_to_follow_up", "Lost to follow-up"),
        ("analysed", "Analysed (intention to treat)"),
    )
    for x, arm in ((2.55, "fip"), (7.45, "control")):
        values = consort["arms"][arm]
        arrow(5, 6.7, x, 5.4)
        for row, (key, label) in enumerate(steps):
            y = 5.4 - 1.3 * row
            text = f"{arm_name(arm, words)}\n{words(label)}: {count(values.get(key))}"
            box(x, y, text, ARM_COLOURS[arm])
            if row:
                arrow(x, y + 1.3, x, y)
    return figure
