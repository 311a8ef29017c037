"""The research team's pages: trial and sites, monitoring per site, audit, pooled report.

Monitoring is also open to a site's own coordinator (for their site only, through
``access.visible_site``); the overview, audit and report follow the access table.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from fiptrial.errors import Forbidden, NotFound, PlatformError
from fiptrial.extensions import db
from fiptrial.models import Site, Trial
from fiptrial.plugins.manager import get_site_plugin
from fiptrial.services import access, fidelity, freezes, trials
from fiptrial.services.audit import verify_chain
from fiptrial.web import analysis
from fiptrial.web.common import (
    apply_service_error,
    dutch_message,
    install_error_pages,
    principal,
    requires,
)
from fiptrial.web.forms import ExportForm, FreezeForm, VerifyForm
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
    return render_template(
        "research/overview.html", trials=all_trials, plugins=plugins, counts=counts
    )


def _monitored_site(site_code: str) -> Site:
    if principal().role not in MONITORING_ROLES:
        raise Forbidden("monitoring is for coordinators and the research team")
    return access.visible_site(principal(), trials.get_site(site_code))


@bp.get("/monitoring/<site_code>")
@requires("site.read")
def monitoring(site_code: str) -> Any:
    site = _monitored_site(site_code)
    return render_template(
        "research/monitoring.html",
        site=site,
        data=site_monitoring(site),
        fidelity=fidelity.site_fidelity(site),
    )


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
    all_trials = db.session.query(Trial).order_by(Trial.code).all()
    chosen = request.args.get("onderzoek") or (all_trials[0].code if all_trials else None)
    if chosen is None:
        return render_template("research/report.html", trials=[], result=None)
    trial = trials.get_trial(chosen)
    try:
        result, problem = analysis.pooled_report(trial.code), None
    except PlatformError as error:
        result, problem = None, dutch_message(error.message)
    except ValueError as error:  # fiptrial_analysis refuses data it cannot analyse (yet)
        result, problem = None, str(error)
    return render_template(
        "research/report.html",
        trials=all_trials,
        trial=trial,
        result=result,
        problem=problem,
        figures=analysis.REPORT_FIGURES,
    )


@bp.get("/rapport/<trial_code>/<name>.png")
@requires("analysis.read")
def report_figure(trial_code: str, name: str) -> Any:
    if name not in analysis.REPORT_FIGURES:
        raise NotFound("no such figure")
    png = analysis.report_figure_png(
        analysis.pooled_report(trials.get_trial(trial_code).code), name
    )
    return Response(png, mimetype="image/png", headers={"Cache-Control": "no-store"})


def _chosen_trial() -> Trial | None:
    code = request.values.get("onderzoek")
    if code:
        return trials.get_trial(code)
    return db.session.query(Trial).order_by(Trial.code).first()


@bp.route("/exports", methods=["GET", "POST"])
@requires("export.create")
def exports() -> Any:
    """Download the analysis export (CSV, SPSS, Stata) and make or list data freezes."""
    trial = _chosen_trial()
    export_form, freeze_form = ExportForm(prefix="export"), FreezeForm(prefix="freeze")
    if trial is not None and export_form.submit.data and export_form.validate_on_submit():
        try:
            name, data = analysis.export_zip(
                trial.code, export_form.fmt.data, actor=principal().actor
            )
        except PlatformError as error:
            apply_service_error(export_form, error, {"format": "fmt"})
        else:
            return Response(
                data,
                mimetype="application/zip",
                headers={"Content-Disposition": f'attachment; filename="{name}"'},
            )
    if trial is not None and freeze_form.submit.data and freeze_form.validate_on_submit():
        try:
            made = freezes.describe(freezes.freeze_trial(trial, principal().actor))
        except PlatformError as error:
            freeze_form.form_errors.append(dutch_message(error.message))
        else:
            flash(
                _(
                    "Bevriezing %(id)s is opgeslagen (%(n)s deelnemers).",
                    id=made["id"],
                    n=made["participants"],
                ),
                "success",
            )
            return redirect(url_for(".exports", onderzoek=trial.code))
    status = (
        422 if export_form.errors or export_form.form_errors or freeze_form.form_errors else 200
    )
    return render_template(
        "research/exports.html",
        trial=trial,
        trials=db.session.query(Trial).order_by(Trial.code).all(),
        export_form=export_form,
        freeze_form=freeze_form,
        freezes=[freezes.describe(f) for f in freezes.list_freezes(trial)] if trial else [],
    ), status
