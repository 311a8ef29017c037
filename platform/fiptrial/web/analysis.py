"""The pooled report and the analysis export as the research pages serve them.

What this module adds to :mod:`fiptrial.services.exports` and :mod:`fiptrial_analysis` is only
what pages need: the report computed once for a page and its five figures, the figures encoded
as PNG, and the export with its codebook and CONSORT sidecar as one zip to download.
"""

from __future__ import annotations

import io
import logging
import tempfile
import threading
import zipfile
from pathlib import Path
from typing import Any

from flask import url_for

from fiptrial.services import analysis_plans, audit, exports, trials
from fiptrial.timezone import local_today

REPORT_FIGURES = (
    "consort", "exits", "forest", "survival", "incidence",  # the first-exit figures
    "sustained", "classes", "caterpillar", "reasons",  # the analysis plan's (need the spells)
)  # fmt: skip
_report_cache: dict[tuple[str, str, int], dict[str, Any]] = {}
# The page's figures arrive as parallel requests: compute the report once, and draw one figure
# at a time (fiptrial_analysis styles its figures through matplotlib's global rcParams).
_report_lock = threading.Lock()


def pooled_report(trial_code: str, actor: str | None = None) -> dict[str, Any]:
    """The trial's pooled report (``fiptrial_analysis``) on today's data, with what was analysed.

    The report is cached per trial, day and audit-chain head: every change to the data appends
    to the audit chain, so a new head means new data and a fresh report. The page and its five
    figures then cost one analysis, not six.
    """
    key = (trial_code, local_today().isoformat(), audit.last_entry_id())
    with _report_lock:
        if key not in _report_cache:
            trial = trials.get_trial(trial_code)
            export = exports.build_export(trial, None)
            report = exports.analyse(export)
            if actor is not None:  # the page shows the arms compared: an unblinded report
                analysis_plans.mark_unblinded_report(trial, actor)
            _report_cache.clear()  # one trial's latest report is all the pages need
            key = (trial_code, local_today().isoformat(), audit.last_entry_id())
            _report_cache[key] = {**report, "export": export.describe()}
        return _report_cache[key]


def report_figure_png(
    report: dict[str, Any],
    name: str,
    language: str = "nl",
    site_names: dict[str, str] | None = None,
) -> bytes:
    """One of the report's plots as PNG in the page's language, sites by name
    (fiptrial_analysis draws them, with its own catalogue; we only encode).

    matplotlib and the analysis package load on the first figure, not with every page. The
    figures are ``Figure`` objects outside pyplot, so the app keeps matplotlib's backend.
    """
    from matplotlib.figure import Figure

    from fiptrial_analysis.html import FIGURES, translations

    language = language if language in ("en", "nl") else "nl"
    with _report_lock:
        try:
            figure = FIGURES[name](report, language, site_names=site_names)
        except (ArithmeticError, KeyError, TypeError, ValueError, IndexError):
            # Early in a trial some figures have nothing to show; say so instead of a 500.
            logging.getLogger(__name__).warning("report figure %s failed", name, exc_info=True)
            figure = Figure(figsize=(6, 1.5))
            figure.text(
                0.5,
                0.5,
                translations(language).gettext("Figure not available yet: too little data"),
                ha="center",
                va="center",
            )
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=100)
        return buffer.getvalue()


def report_body(report: dict[str, Any], trial_code: str, language: str) -> Any:
    """The report's body from fiptrial_analysis's own template (the one the self-contained
    HTML report uses), in the page's language, with the figures served by this app and the
    sites by their names."""
    # Loaded with the first report page, like the figures (see report_figure_png).
    from fiptrial_analysis.html import FIGURE_TITLES, render_body, translations

    language = language if language in ("en", "nl") else "nl"
    words = translations(language).gettext

    def figure(name: str) -> dict[str, Any]:
        src = url_for("research.report_figure", trial_code=trial_code, name=name)
        return {"src": src, "alt": words(FIGURE_TITLES.get(name, name))}

    sites = {site.code: site.name for site in trials.get_trial(trial_code).sites}
    return render_body(report, figure, language, site_names=sites)


def export_zip(
    trial_code: str, fmt: str, *, actor: str, role: str, small_cells: int | None = None
) -> tuple[str, bytes]:
    """The analysis export with its codebook and CONSORT sidecar, zipped (audited); its
    columns are those the field policy grants ``role``; ``small_cells``: values shared by
    fewer participants suppressed (the analyst role, ``services.minimisation``)."""
    trial = trials.get_trial(trial_code)
    with tempfile.TemporaryDirectory(prefix="fiptrial-web-export-") as folder:
        name = f"{trial.code}-{local_today():%Y%m%d}.{fmt}"
        _export, written = exports.export_trial(
            trial, Path(folder) / name, fmt, actor=actor, role=role, small_cells=small_cells
        )
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in written:
                archive.write(path, arcname=path.name)
    return f"{trial.code}-{local_today():%Y%m%d}-{fmt}.zip", buffer.getvalue()
