"""The report as HTML: one Jinja template (``templates/report_body.html``) for the
self-contained page written here and for the platform's report page.

:func:`render_body` renders the report's body with a ``figure(name)`` that says where each
figure comes from: inline PNG (data URI) for the self-contained page, the platform's figure
address on its page. Texts are English message ids; :func:`translations` gives the package's
own Dutch catalogue (``locale/nl``, compiled with Babel's ``pybabel compile``).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from . import figures, figures_consort, figures_planned, figures_survival, plan
from .i18n import number_format, translations

#: Each plot that can have nothing to show yet: its title, drawing and why it is empty.
PLOTS = {**figures.PLOTS, **figures_survival.PLOTS}
#: Each figure's drawing function, ``draw(report, language="en")``.
FIGURES: dict[str, figures.Draw] = {
    "consort": figures_consort.consort_figure,
    **{name: draw for name, (_title, draw, _empty) in PLOTS.items()},
    **figures_planned.PLANNED_FIGURES,
}
#: The figures the body shows, in page order (the planned ones only with a spells file).
BASE_FIGURES = ("consort", "exits", "forest", "survival", "incidence")
PLANNED_FIGURES = tuple(figures_planned.PLANNED_FIGURES)
#: What each figure shows, in a few words (English message ids; the page's alt text).
FIGURE_TITLES = {
    "consort": "CONSORT flow diagram",
    **{name: title for name, (title, _draw, _empty) in PLOTS.items()},
    **figures_planned.CAPTIONS,
}

#: The primary analysis by name (English message ids).
PRIMARY_NAMES = {"mantel_haenszel": "Mantel-Haenszel", "chi_square": "chi-square"}

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem;
       color: #222; line-height: 1.45; }
table { border-collapse: collapse; margin: 1rem 0; font-size: 0.9rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.5rem; text-align: left; }
caption { font-weight: bold; text-align: left; padding-bottom: 0.3rem; }
.primary { background: #eef5fb; border-left: 4px solid #0072B2; padding: 0.5rem 0.8rem; }
.warning { background: #fdecea; border-left: 6px solid #b00; padding: 0.6rem 0.8rem; }
.estimand { color: #444; font-size: 0.9rem; }
.flag { font-weight: bold; color: #b00; }
img { max-width: 100%; height: auto; }
.empty { background: #f6f6f6; border-left: 4px solid #999; padding: 0.5rem 0.8rem; }
dt { font-weight: bold; }
.cards { display: flex; gap: 1rem; flex-wrap: wrap; }
.card { border: 1px solid #ccc; padding: 0.5rem 0.8rem; }
.card .figure { font-size: 1.4rem; font-weight: bold; }
"""


@cache
def _environment() -> Environment:
    environment = Environment(
        loader=PackageLoader("fiptrial_analysis", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.install_null_translations(newstyle=True)  # type: ignore[attr-defined]
    return environment


def inline_figure(report: dict[str, Any], language: str = "en") -> Callable[[str], dict[str, Any]]:
    """``figure(name)`` for the self-contained page: the PNG inline (drawn in ``language``,
    its title the alt text), or why it is empty."""

    def figure(name: str) -> dict[str, Any]:
        plot = PLOTS.get(name)
        if plot is not None:
            title, _draw, empty = plot
            message = empty(report, language)
            if message:
                return {"empty": message, "title": translations(language).gettext(title)}
        encoded = figures.png(FIGURES[name](report, language))
        return {"src": encoded.data_uri(), "alt": encoded.alt, "width": encoded.width}

    return figure


def render_body(
    report: dict[str, Any],
    figure: Callable[[str], dict[str, Any]],
    language: str = "en",
    gettext_function: Callable[[str], str] | None = None,
    site_names: dict[str, str] | None = None,
) -> Markup:
    """The report's body (sections, tables and figures) as safe HTML.

    ``gettext_function`` overrides the package's catalogue (the platform passes its own, so
    that its page and the body speak the same language). The texts the report carries (the
    plan's warnings, the estimands, notes, captions and definitions) are English message ids
    of the same catalogue. ``site_names``: site code -> the name people know it by.
    """
    environment = _environment()
    catalogue = translations(language)
    template = environment.get_template("report_body.html")
    gettext_ = gettext_function or catalogue.gettext

    def _(message: str, **values: Any) -> str:
        text = gettext_(message)
        if environment.autoescape:
            text = Markup(text)
        return text % values if values else text.replace("%%", "%")

    def tr(text: Any) -> str:
        """A text the report carries, in the page's language (escaped as data)."""
        return gettext_(text) if isinstance(text, str) and text else ("" if text is None else text)

    described = report.get("plan") or {}
    codes = plan.warning_codes(
        given=described.get("given", True),
        frozen=bool(described.get("frozen")),
        changed_after_report=bool(described.get("changed_after_first_unblinded_report")),
    )
    version = {"version": described.get("version")}
    warnings = [gettext_(plan.PLAN_WARNINGS[code]) % version for code in codes] if described else []
    return Markup(
        template.render(
            report=report,
            figure=figure,
            captions=figures_planned.CAPTIONS,
            plan_warnings=warnings,
            site_names=site_names or {},
            language=language,
            number=number_format(language),
            _=_,
            gettext=_,
            tr=tr,
        )
    )


def render_html(report: dict[str, Any], language: str = "en") -> str:
    """The report as one self-contained HTML document.

    Parameters
    ----------
    report : dict
        The result of :func:`fiptrial_analysis.build_report`.
    language : {"en", "nl"}, default "en"

    Returns
    -------
    str
        HTML with inline CSS and base64 PNG plots; no external resources.
    """
    trial = report["trial"]
    catalogue = translations(language)
    _ = catalogue.gettext
    body = render_body(report, inline_figure(report, language), language)
    summary = catalogue.ngettext(
        "%(n)s participants at %(k)s site, allocated from %(first)s, followed up to "
        "%(last)s. Primary result: %(primary)s.",
        "%(n)s participants at %(k)s sites, allocated from %(first)s, followed up to "
        "%(last)s. Primary result: %(primary)s.",
        trial["sites"],
    ) % {
        "n": number_format(language)(trial["participants"], 0),
        "k": trial["sites"],
        "first": Markup.escape(trial["first_allocation"]),
        "last": Markup.escape(trial["last_followup_end"]),
        "primary": Markup(f"<strong>{Markup.escape(_(PRIMARY_NAMES[report['primary']]))}</strong>"),
    }
    title = _("FIP trial report")
    return (
        f"<!DOCTYPE html><html lang='{language}'><head><meta charset='utf-8'>"
        f"<title>{title}</title><style>{STYLE}</style></head><body>"
        f"<h1>{title}</h1><p>{summary}</p>{body}</body></html>"
    )
