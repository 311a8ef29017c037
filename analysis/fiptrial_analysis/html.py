"""A self-contained HTML page of the report, with plots as inline PNG images.

Everything is drawn from the report dictionary alone, so a stored (frozen) report can be
rendered again later without the participant data.
"""

from __future__ import annotations

import base64
import io
import math
from html import escape
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch
from matplotlib.ticker import FuncFormatter

# One colour per arm everywhere (Okabe-Ito, readable for colour-blind readers).
ARM_COLOURS = {"fip": "#0072B2", "control": "#E69F00"}
ARM_NAMES = {"fip": "FIP", "control": "Control (usual care)"}
POOLED_COLOUR = "#000000"
SITE_COLOUR = "#555555"
FOREST_MAX_SITES = 50


def _png(figure: Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="" src="data:image/png;base64,{encoded}">'


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "&ndash;"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "&ndash;"
        return f"{value:,.{digits}f}"
    return escape(str(value))


def _pct(value: float | None, digits: int = 1) -> str:
    return "&ndash;" if value is None else f"{100 * value:.{digits}f}%"


def _p(value: float | None, html: bool = True) -> str:
    """``p`` with its relation, e.g. ``p = 0.0587`` or ``p < 0.0001`` (escaped for HTML)."""
    if value is None:
        return "p not computable"
    if value < 0.0001:
        return "p &lt; 0.0001" if html else "p < 0.0001"
    return f"p = {value:.4f}"


def _ci(ci: list[float | None] | None, digits: int = 3, percent: bool = False) -> str:
    if not ci or ci[0] is None or ci[1] is None:
        return "&ndash;"
    if percent:
        return f"{100 * ci[0]:.{digits}f} to {100 * ci[1]:.{digits}f}"
    return f"{ci[0]:.{digits}f} to {ci[1]:.{digits}f}"


def _table(header: list[str], rows: list[list[str]], caption: str = "") -> str:
    head = "".join(f"<th>{cell}</th>" for cell in header)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    cap = f"<caption>{caption}</caption>" if caption else ""
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "\u2026"


def consort_figure(report: dict[str, Any]) -> Figure:
    """CONSORT flow diagram: assessed, eligible, randomised, then per arm down to analysed."""
    consort = report["consort"]

    def count(value: Any) -> str:
        return "not recorded" if value is None else f"{value:,}"

    figure, ax = plt.subplots(figsize=(9, 7))
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 10)
    ax.axis("off")
    ax.set_title("CONSORT flow of participants")

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

    box(5, 9.3, f"Assessed for eligibility: {count(consort['assessed'])}")
    box(5, 8.0, f"Eligible: {count(consort['eligible'])}")
    box(5, 6.7, f"Randomised: {count(consort['randomised'])}")
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
            box(x, y, f"{ARM_NAMES[arm]}\n{label}: {count(values.get(key))}", ARM_COLOURS[arm])
            if row:
                arrow(x, y + 1.3, x, y)
    return figure


def exits_figure(report: dict[str, Any]) -> Figure:
    """Horizontal bars: exits per BUS reason as a share of each arm's participants."""
    rows = [r for r in report["exits_by_code"] if r["fip"] or r["control"]]
    figure, ax = plt.subplots(figsize=(8, 0.45 * len(rows) + 1.5))
    labels = [f"{r['code']} {_shorten(r['label_en'], 55)}" for r in rows]
    positions = range(len(rows))
    height = 0.4
    for offset, arm in ((-height / 2, "fip"), (height / 2, "control")):
        ax.barh(
            [p + offset for p in positions],
            [100 * (r[f"{arm}_share"] or 0) for r in rows],
            height=height,
            color=ARM_COLOURS[arm],
            label=ARM_NAMES[arm],
        )
    ax.set_yticks(list(positions), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("Exits within follow-up (% of the arm's participants)")
    ax.set_title("Exits by reason (BUS kenmerk 34) and arm")
    ax.legend(loc="lower right")
    return figure


def forest_figure(report: dict[str, Any]) -> Figure:
    """Site odds ratios (net exits) with intervals, and the pooled estimates."""
    sites = [s for s in report["sites"] if s["odds_ratio"] is not None]
    total = len(sites)
    if total > FOREST_MAX_SITES:
        sites = sorted(sites, key=lambda s: -(s["arms"]["fip"]["n"] + s["arms"]["control"]["n"]))
        sites = sorted(sites[:FOREST_MAX_SITES], key=lambda s: s["site"])
    rows = [(s["site"], s["odds_ratio"]["estimate"], *s["odds_ratio"]["ci"]) for s in sites]
    pooled = []
    if report.get("mantel_haenszel"):
        mh = report["mantel_haenszel"]
        pooled.append(("Mantel-Haenszel (primary)", mh["odds_ratio"], *mh["odds_ratio_ci"]))
    re = report.get("random_effects") or {}
    if re.get("estimate") is not None:
        pooled.append(
            ("Random effects (DerSimonian-Laird)", re["odds_ratio"], *re["odds_ratio_ci"])
        )
    if not pooled:
        pooled.append(
            ("Pooled (one site)", report["odds_ratio"]["estimate"], *report["odds_ratio"]["ci"])
        )
    figure, ax = plt.subplots(figsize=(8, 0.28 * (len(rows) + len(pooled)) + 1.8))
    y = 0
    labels = []
    for label, estimate, low, high in rows:
        ax.plot([low, high], [y, y], color=SITE_COLOUR, linewidth=1)
        ax.plot([estimate], [y], "s", color=SITE_COLOUR, markersize=4)
        labels.append(label)
        y += 1
    for label, estimate, low, high in pooled:
        if estimate is None or low is None or high is None:
            continue
        ax.fill([low, estimate, high, estimate], [y, y + 0.3, y, y - 0.3], color=POOLED_COLOUR)
        labels.append(label)
        y += 1
    ax.axvline(1.0, color="#999999", linestyle="--", linewidth=1)
    ax.set_xscale("log")
    plain = FuncFormatter(lambda value, _: f"{value:g}")
    ax.xaxis.set_major_formatter(plain)
    ax.xaxis.set_minor_formatter(plain)
    ax.tick_params(axis="x", which="minor", labelsize=7)
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("Odds ratio of a net exit, FIP vs control (log scale; > 1 favours FIP)")
    shown = f"{len(rows)} largest of {total} sites" if total > len(rows) else f"{total} site(s)"
    ax.set_title(f"Forest plot: {shown} and pooled estimates")
    return figure


def _steps(ax: Any, times: list[float], values: list[float], start: float, **style: Any) -> None:
    ax.step([0.0, *times], [start, *values], where="post", **style)


def survival_figure(report: dict[str, Any]) -> Figure:
    """Kaplan-Meier curves of remaining on benefit (no net exit), per arm, with intervals."""
    km = report["survival"]["kaplan_meier"]
    figure, ax = plt.subplots(figsize=(8, 4.5))
    for arm in ("fip", "control"):
        curve = km[arm]
        times = curve["times"]
        _steps(
            ax,
            times,
            curve["survival"],
            1.0,
            color=ARM_COLOURS[arm],
            label=f"{ARM_NAMES[arm]} (n = {curve['n']:,})",
        )
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
    stratified = " stratified by site" if test["stratified_by"] else ""
    ax.set_title(
        f"Kaplan-Meier: still on benefit (log-rank{stratified} {_p(test['pvalue'], html=False)})"
    )
    ax.set_xlabel("Days since allocation")
    ax.set_ylabel("Proportion still on benefit")
    ax.set_ylim(0, 1.02)
    ax.legend(loc="lower left")
    return figure


def incidence_figure(report: dict[str, Any]) -> Figure:
    """Cumulative incidence of exit to work per arm, other exits competing."""
    cif = report["survival"]["cumulative_incidence_work"]
    figure, ax = plt.subplots(figsize=(8, 4.5))
    for arm in ("fip", "control"):
        _steps(
            ax,
            cif[arm]["times"],
            cif[arm]["incidence"],
            0.0,
            color=ARM_COLOURS[arm],
            label=ARM_NAMES[arm],
        )
    ax.set_title("Cumulative incidence of exit to work (BUS 11 and 13), other exits competing")
    ax.set_xlabel("Days since allocation")
    ax.set_ylabel("Cumulative incidence")
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper left")
    return figure


def _primary_section(report: dict[str, Any]) -> str:
    arms = report["arms"]
    rows = [
        [
            ARM_NAMES[arm],
            _fmt(a["n"]),
            _fmt(a["exits"]),
            _fmt(a["pension_age_exits"]),
            _pct(a["gross_ratio"]),
            f"{a['net_exits']:,} / {a['net_n']:,}",
            _pct(a["net_ratio"]),
        ]
        for arm, a in arms.items()
    ]
    html = _table(
        ["Arm", "n", "Exits", "Pension-age exits", "Gross ratio", "Net exits / net n", "Net ratio"],
        rows,
        "Exits within follow-up per arm",
    )
    chi, rd = report["chi_square"], report["risk_difference"]
    if chi["statistic"] is None:
        chi_line = f"Chi-square: not computable ({escape(chi.get('note', ''))})."
    else:
        chi_line = (
            f"Chi-square (net counts, no continuity correction, all sites pooled): "
            f"{chi['statistic']:.4f}, {chi['dof']} df, {_p(chi['pvalue'])}."
        )
    lines = [
        chi_line,
        f"Net risk difference (Newcombe), all sites pooled: {100 * rd['estimate']:.2f} "
        f"percentage points (95% CI {_ci(rd['ci'], 2, percent=True)}).",
    ]
    if report["primary"] == "mantel_haenszel":
        mh = report["mantel_haenszel"]
        primary = (
            f"<p class='primary'><strong>Primary result (stratified by site, "
            f"Mantel-Haenszel):</strong> risk difference "
            f"{100 * mh['risk_difference']:.2f} percentage points "
            f"(95% CI {_ci(mh['risk_difference_ci'], 2, percent=True)}), odds ratio "
            f"{_fmt(mh['odds_ratio'])} (95% CI {_ci(mh['odds_ratio_ci'])}), CMH chi-square "
            f"{mh['statistic']:.4f}, {_p(mh['pvalue'])}, {mh['sites_used']} sites.</p>"
        )
        lines = [f"Not the primary result: {line}" for line in lines]
        comparison = report["naive_vs_stratified"]
        if not comparison["same_direction"]:
            lines.append(
                "<strong>The pooled and the stratified comparison point in opposite "
                "directions: the pooled one is confounded by site.</strong>"
            )
    else:
        primary = (
            "<p class='primary'><strong>Primary result (one site):</strong> the chi-square and "
            "risk difference below.</p>"
        )
    return primary + html + "".join(f"<p>{line}</p>" for line in lines)


def _heterogeneity_section(report: dict[str, Any]) -> str:
    if report["primary"] != "mantel_haenszel":
        return ""
    bd, re = report["breslow_day"], report["random_effects"]
    parts = []
    if bd.get("statistic") is not None:
        parts.append(
            f"Breslow-Day test (Tarone) of equal odds ratios across sites: "
            f"{bd['statistic']:.3f}, {bd['dof']} df, {_p(bd['pvalue'])}."
        )
    if re.get("estimate") is not None:
        parts.append(
            f"DerSimonian-Laird random effects: odds ratio {re['odds_ratio']:.3f} "
            f"(95% CI {_ci(re['odds_ratio_ci'])}), tau&sup2; = {re['tau2']:.4f}, "
            f"I&sup2; = {100 * re['i2']:.1f}%, Q = {re['q']:.2f} ({_p(re['q_pvalue'])})."
        )
    return "".join(f"<p>{part}</p>" for part in parts)


def _baseline_section(report: dict[str, Any]) -> str:
    if not report["baseline"]:
        return "<p>No baseline characteristics in the participant file.</p>"
    rows = []
    for item in report["baseline"]:
        for level in item["levels"]:
            d = level["standardised_difference"]
            flag = " class='flag'" if abs(d) > 0.1 else ""
            rows.append(
                [
                    escape(item["characteristic"]),
                    escape(level["level"]),
                    f"{level['fip']:,} ({_pct(level['fip_share'])})",
                    f"{level['control']:,} ({_pct(level['control_share'])})",
                    f"<span{flag}>{d:+.3f}</span>",
                ]
            )
    return _table(
        ["Characteristic", "Level", "FIP", "Control", "Standardised difference"],
        rows,
        "Baseline balance (|d| &gt; 0.1 marked)",
    )


def _exits_section(report: dict[str, Any]) -> str:
    rows = [
        [
            r["code"],
            escape(r["label_en"]),
            f"{r['fip']:,} ({_pct(r['fip_share'])})",
            f"{r['control']:,} ({_pct(r['control_share'])})",
            "yes" if r["excluded_from_net_ratio"] else "",
        ]
        for r in report["exits_by_code"]
        if r["fip"] or r["control"]
    ]
    return _table(["BUS", "Reason", "FIP", "Control", "Left out of net ratio"], rows)


def _costs_section(report: dict[str, Any]) -> str:
    c = report["costs"]
    ci = c["extra_exits_ci"]
    rows = [
        ["Cost per benefit-year", f"EUR {c['cost_per_benefit_year']:,.0f}"],
        ["Extra exits attributable to FIP", f"{_fmt(c['extra_exits'], 1)} (95% CI {_ci(ci, 1)})"],
        ["Benefit-years saved within follow-up", _fmt(c["benefit_years_saved"], 1)],
        ["Savings within follow-up", f"EUR {_fmt(c['savings'], 0)}"],
        [
            "Savings if each extra exit saved one benefit-year (pilot report's method)",
            f"EUR {_fmt(c['savings_if_each_extra_exit_saves_a_year'], 0)}",
        ],
    ]
    return _table(["Figure", "Value"], rows)


def _sites_section(report: dict[str, Any]) -> str:
    rows = []
    for s in report["sites"]:
        f, c = s["arms"]["fip"], s["arms"]["control"]
        rd, ratio = s["risk_difference"], s["odds_ratio"]
        rows.append(
            [
                escape(s["site"]),
                f"{f['net_exits']:,} / {f['net_n']:,} ({_pct(f['net_ratio'])})",
                f"{c['net_exits']:,} / {c['net_n']:,} ({_pct(c['net_ratio'])})",
                "&ndash;"
                if rd is None
                else f"{100 * rd['estimate']:.1f} ({_ci(rd['ci'], 1, True)})",
                "&ndash;" if ratio is None else f"{ratio['estimate']:.2f} ({_ci(ratio['ci'], 2)})",
            ]
        )
    return _table(
        [
            "Site",
            "FIP net exits",
            "Control net exits",
            "Risk difference, pp (95% CI)",
            "Odds ratio (95% CI)",
        ],
        rows,
    )


STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem;
       color: #222; line-height: 1.45; }
table { border-collapse: collapse; margin: 1rem 0; font-size: 0.9rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.5rem; text-align: left; }
caption { font-weight: bold; text-align: left; padding-bottom: 0.3rem; }
.primary { background: #eef5fb; border-left: 4px solid #0072B2; padding: 0.5rem 0.8rem; }
.flag { font-weight: bold; color: #b00; }
img { max-width: 100%; }
dt { font-weight: bold; }
"""


def render_html(report: dict[str, Any]) -> str:
    """The report as one self-contained HTML document.

    Parameters
    ----------
    report : dict
        The result of :func:`fiptrial_analysis.build_report`.

    Returns
    -------
    str
        HTML with inline CSS and base64 PNG plots; no external resources.
    """
    trial = report["trial"]
    definitions = "".join(
        f"<dt>{escape(key)}</dt><dd>{escape(text)}</dd>"
        for key, text in report["definitions"].items()
    )
    sections = [
        ("Participant flow", _png(consort_figure(report))),
        ("Result", _primary_section(report) + _heterogeneity_section(report)),
        ("Baseline balance", _baseline_section(report)),
        ("Exits by reason", _png(exits_figure(report)) + _exits_section(report)),
        ("Sites", _png(forest_figure(report)) + _sites_section(report)),
        ("Time to exit", _png(survival_figure(report)) + _png(incidence_figure(report))),
        ("Costs", _costs_section(report)),
        ("Definitions", f"<dl>{definitions}</dl>"),
    ]
    body = "".join(f"<section><h2>{title}</h2>{content}</section>" for title, content in sections)
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<title>FIP trial report</title>"
        f"<style>{STYLE}</style></head><body>"
        "<h1>FIP trial report</h1>"
        f"<p>{trial['participants']:,} participants in {trial['sites']} site(s), allocated from "
        f"{escape(trial['first_allocation'])}, followed up to "
        f"{escape(trial['last_followup_end'])}. Primary result: "
        f"<strong>{escape(report['primary'].replace('_', '-'))}</strong>.</p>"
        f"{body}</body></html>"
    )
