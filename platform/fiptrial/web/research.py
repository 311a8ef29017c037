"""The research team's pages: trial and sites, monitoring per site, audit, pooled report.

Monitoring is also open to a site's own coordinator (for their site only, through
``access.visible_site``); the overview, audit and report follow the access table.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, render_template
from flask_babel import gettext as _

from fiptrial.errors import Forbidden
from fiptrial.extensions import db
from fiptrial.models import Site, Trial
from fiptrial.plugins.manager import get_site_plugin
from fiptrial.services import access, trials
from fiptrial.services.audit import verify_chain
from fiptrial.web import backends
from fiptrial.web.common import install_error_pages, principal, requires
from fiptrial.web.forms import VerifyForm
from fiptrial.web.plots import monitoring_png
from fiptrial.web.queries import site_monitoring

bp = Blueprint("research", __name__, template_folder="templates", url_prefix="/onderzoek")
install_error_pages(bp)

RESEARCH_ROLES = (access.ADMIN, access.ANALYST)
MONITORING_ROLES = (access.ADMIN, access.ANALYST, access.COORDINATOR)


def _research_only() -> None:
    if principal().role not in RESEARCH_ROLES:
        raise Forbidden("for the research team")


def _plugin_facts(site: Site) -> dict[str, str | None]:
    plugin = get_site_plugin(site.plugin)
    if plugin is None:
        return {"version": None, "mapping_version": None}
    return {"version": plugin.version, "mapping_version": plugin.mapping_version}


@bp.get("/")
@requires("trial.read")
def overview() -> Any:
    _research_only()
    all_trials = db.session.query(Trial).order_by(Trial.code).all()
    plugins = {site.id: _plugin_facts(site) for trial in all_trials for site in trial.sites}
    counts = {site.id: site_monitoring(site) for trial in all_trials for site in trial.sites}
    return render_template("research/overview.html", trials=all_trials, plugins=plugins,
                           counts=counts)


def _monitored_site(site_code: str) -> Site:
    if principal().role not in MONITORING_ROLES:
        raise Forbidden("monitoring is for coordinators and the research team")
    return access.visible_site(principal(), trials.get_site(site_code))


@bp.get("/monitoring/<site_code>")
@requires("site.read")
def monitoring(site_code: str) -> Any:
    site = _monitored_site(site_code)
    return render_template("research/monitoring.html", site=site, data=site_monitoring(site))


@bp.get("/monitoring/<site_code>/grafiek.png")
@requires("site.read")
def monitoring_plot(site_code: str) -> Any:
    site = _monitored_site(site_code)
    labels = {
        "enrolment_title": _("Inschrijving per maand"),
        "balance_title": _("Toewijzing per stratum"),
        "month": _("Maand"),
        "registered": _("Ingeschreven deelnemers"),
        "participants": _("Deelnemers"),
        "control": _("controle"),
        "empty": _("Nog geen gegevens"),
        "per_month": _("per maand"),
        "cumulative": _("totaal"),
    }
    png = monitoring_png(site_monitoring(site), labels=labels)
    return Response(png, mimetype="image/png", headers={"Cache-Control": "no-store"})


@bp.route("/audit", methods=["GET", "POST"])
@requires("audit.verify")
def audit() -> Any:
    form = VerifyForm()
    report = verify_chain() if form.validate_on_submit() else None
    return render_template("research/audit.html", form=form, report=report)


@bp.get("/rapport")
@requires("analysis.read")
def report() -> Any:
    return render_template("research/report.html", available=backends.analysis_available())
