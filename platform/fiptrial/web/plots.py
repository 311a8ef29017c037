"""Plots for the monitoring pages, drawn on the server as PNG (matplotlib's Agg backend).

Figures are built with :class:`matplotlib.figure.Figure` rather than pyplot, so that no global
state is shared between requests handled in parallel. Arm colours are the same everywhere.
matplotlib is imported when a plot is drawn, not with the app: it is a large share of the
start-up of every ``fiptrial`` command, and only these pages need it.
"""

from __future__ import annotations

import io
from typing import Any

from fiptrial.services.site_reads import SiteMonitoring

ARM_COLOURS = {"fip": "#d4700a", "control": "#2f6fab"}


def monitoring_png(data: SiteMonitoring, *, labels: dict[str, str]) -> bytes:
    """Two panels: cumulative enrolment by month, and allocations per stratum by arm."""
    # matplotlib loads on the first plot, not with every page.
    from matplotlib.figure import Figure

    figure = Figure(figsize=(10, 4.6), dpi=100, layout="constrained")
    enrolment, balance = figure.subplots(1, 2, width_ratios=[1, 1.4])

    if data.enrolment:
        labels_x = [f"{m:%m-%Y}" for m, _ in data.enrolment]
        cumulative = [c for _, c in data.enrolment]
        monthly = [c - (cumulative[i - 1] if i else 0) for i, c in enumerate(cumulative)]
        positions = list(range(len(labels_x)))
        enrolment.bar(positions, monthly, color="#9fb7d1", label=labels["per_month"])
        enrolment.plot(
            positions, cumulative, "o-", color="#154273", linewidth=2, label=labels["cumulative"]
        )
        enrolment.set_xticks(positions, labels_x, rotation=30)
        enrolment.set_ylim(bottom=0)
        # Below the axes, never over the bars (constrained layout makes room for it).
        enrolment.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=2, frameon=False)
    else:
        _say_empty(enrolment, labels["empty"])
    enrolment.set_title(labels["enrolment_title"])
    enrolment.set_xlabel(labels["month"])
    enrolment.set_ylabel(labels["registered"])
    enrolment.grid(axis="y", alpha=0.3)

    strata = data.strata[:20]  # a readable number of bars, in band order; the table has them all
    if strata:
        names = [_short(s.stratum) for s in strata]
        fip = [s.fip for s in strata]
        control = [s.control for s in strata]
        rows = list(range(len(strata)))
        balance.barh(rows, fip, color=ARM_COLOURS["fip"], label="FIP")
        balance.barh(rows, control, left=fip, color=ARM_COLOURS["control"], label=labels["control"])
        balance.set_yticks(rows, names, fontsize=8)
        balance.invert_yaxis()
        balance.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2, frameon=False)
    else:
        _say_empty(balance, labels["empty"])
    balance.set_title(labels["balance_title"])
    balance.set_xlabel(labels["participants"])
    balance.grid(axis="x", alpha=0.3)

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _say_empty(axes: Any, text: str) -> None:
    """A panel with nothing to draw says so in its middle, rather than showing empty axes."""
    axes.text(0.5, 0.5, text, ha="center", va="center", transform=axes.transAxes)


def _short(stratum: str) -> str:
    """'site=bw|age_band=35-44|benefit_duration_band=12-35' -> '35-44 · 12-35'."""
    parts = [part.split("=", 1)[-1] for part in stratum.split("|") if not part.startswith("site=")]
    return " · ".join(parts) or stratum
