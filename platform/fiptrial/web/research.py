"""The research team's pages: trial and sites, monitoring per site, audit, pooled report.

Monitoring is also open to a site's own coordinator (for their site only, through
``access.visible_site``); the overview, audit and report follow the access table.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _

from fiptrial.errors import Forbidden, NotFound, PlatformError
from fiptrial.models import Site, Trial
from fiptrial.plugins.manager import get_site_plugin
from fiptrial.services import access, fidelity, freezes, trials
from fiptrial.services.audit import verify_chain
from fiptrial.services.audit_reads import AuditFilters, audit_choices, audit_page
from fiptrial.services.site_reads import site_monitoring
from fiptrial.web import analysis, messages
from fiptrial.web.common import (
    apply_service_error,
    install_error_pages,
    pager_args,
    principal,
    requested_page,
    requires,
)
from fiptrial.web.formatting import person
from fiptrial.web.forms import (
    ExportForm,
    FreezeForm,
    FreezeVerifyForm,
    VerifyForm,
    parse_dutch_date,
)
from fiptrial.web.plots import monitoring_png

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
        return {"name": site.plugin, "version": None, "mapping_version": None}
    return {
        "name": plugin.name,
        "version": plugin.version,
        "mapping_version": plugin.mapping_version,
    }


@bp.get("/")
@requires("trial.read")
def overview() -> Any:
    _research_only()
    all_trials = trials.list_trials()
    plugins = {site.id: _plugin_facts(site) for trial in all_trials for site in trial.sites}
    counts = {site.id: site_monitoring(site) for trial in all_trials for site in trial.sites}
    return render_template(
        "research/overview.html",
        trials=all_trials,
        plugins=plugins,
        counts=counts,
        methods=messages.METHODS,
        designs=messages.CONSENT_DESIGNS,
        arms=messages.ARMS,
        factors=messages.STRATIFICATION_FACTORS,
    )


def _monitored_site(site_code: str) -> Site:
    if principal().role not in MONITORING_ROLES:
        raise Forbidden("monitoring is for coordinators and the research team")
    return access.visible_site(principal(), trials.get_site(site_code))


@bp.get("/monitoring/<site_code>")
@requires("site.read")
def monitoring(site_code: str) -> Any:
    site = _monitored_site(site_code)
    data = site_monitoring(site)
    return render_template(
        "research/monitoring.html",
        site=site,
        data=data,
        flagged=[s for s in data.strata if s.flagged],
        fidelity=(figures := fidelity.site_fidelity(site)),
        per_client_manager=figures.per_manager_for(principal()),
        methods=messages.METHODS,
        person=person,
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


def _audit_filters() -> AuditFilters:
    args = request.args
    return AuditFilters(
        actor=args.get("wie", "")[:80],
        action=args.get("wat", "")[:60],
        entity=args.get("soort", "")[:40],
        entity_id=args.get("nummer", "").strip()[:80],
        site=args.get("locatie", "")[:40],
        since=parse_dutch_date(args.get("van", "")) if args.get("van") else None,
        until=parse_dutch_date(args.get("tot", "")) if args.get("tot") else None,
        page=requested_page(args),
    )


@bp.get("/audit")
@requires("audit.verify")
def audit() -> Any:
    """The audit trail: filters (who, what, entity, period), paging, and the chain check.

    The entries are for the research admin; an analyst may run the chain check only.
    """
    can_read = principal().role == access.ADMIN
    filters = _audit_filters()
    page = audit_page(filters) if can_read else None
    choices = audit_choices() if can_read else {}
    period_error = None
    for name in ("van", "tot"):
        if request.args.get(name) and parse_dutch_date(request.args[name]) is None:
            period_error = _("Schrijf de datum als dd-mm-jjjj, bijvoorbeeld 17-05-1980.")
    args = pager_args(request.args)
    return render_template(
        "research/audit.html",
        form=VerifyForm(),
        report=None,
        page=page,
        filters=filters,
        choices=choices,
        args=args,
        period_error=period_error,
        actions=messages.AUDIT_ACTIONS,
        entities=messages.AUDIT_ENTITIES,
        site_names=trials.site_names(),
    )


@bp.post("/audit/controle")
@requires("audit.verify")
def verify_audit() -> Any:
    form = VerifyForm()
    report = verify_chain() if form.validate_on_submit() else None
    return render_template(
        "research/audit.html",
        form=form,
        report=report,
        page=None,
        filters=AuditFilters(),
        choices={},
        args={},
        period_error=None,
        actions=messages.AUDIT_ACTIONS,
        entities=messages.AUDIT_ENTITIES,
        site_names={},
    )


@bp.get("/rapport")
@requires("analysis.read")
def report() -> Any:
    all_trials = trials.list_trials()
    chosen = request.args.get("onderzoek") or (all_trials[0].code if all_trials else None)
    if chosen is None:
        return render_template("research/report.html", trials=[], result=None)
    trial = trials.get_trial(chosen)
    try:
        result, problem = analysis.pooled_report(trial.code, principal().actor), None
    except PlatformError as error:
        result, problem = None, messages.error_text(error)
    except ValueError:  # fiptrial_analysis refuses data it cannot analyse (yet)
        result, problem = None, messages.message("analysis_not_possible")
    body = None
    if result is not None:
        body = analysis.report_body(result, trial.code, str(get_locale() or "nl"))
    return render_template(
        "research/report.html",
        trials=all_trials,
        trial=trial,
        result=result,
        problem=problem,
        body=body,
    )


@bp.get("/rapport/<trial_code>/<name>.png")
@requires("analysis.read")
def report_figure(trial_code: str, name: str) -> Any:
    if name not in analysis.REPORT_FIGURES:
        raise NotFound("no such figure")
    trial = trials.get_trial(trial_code)
    png = analysis.report_figure_png(
        analysis.pooled_report(trial.code),
        name,
        str(get_locale() or "nl"),
        {site.code: site.name for site in trial.sites},
    )
    return Response(png, mimetype="image/png", headers={"Cache-Control": "no-store"})


def _chosen_trial() -> Trial | None:
    code = request.values.get("onderzoek")
    if code:
        return trials.get_trial(code)
    return trials.first_trial()


def _render_exports(
    trial: Trial | None,
    export_form: ExportForm | None = None,
    freeze_form: FreezeForm | None = None,
    verification: Any = None,
    status: int = 200,
) -> Any:
    return render_template(
        "research/exports.html",
        trial=trial,
        trials=trials.list_trials(),
        export_form=export_form or ExportForm(prefix="export"),
        freeze_form=freeze_form or FreezeForm(prefix="freeze"),
        verify_form=FreezeVerifyForm(prefix="verify"),
        freezes=[freezes.describe(f) for f in freezes.list_freezes(trial)] if trial else [],
        verification=verification,
    ), status


@bp.get("/exports")
@requires("export.create")
def exports() -> Any:
    """Download the analysis export (CSV, SPSS, Stata); make, download and verify freezes."""
    return _render_exports(_chosen_trial())


@bp.post("/exports/download")
@requires("export.create")
def download_export() -> Any:
    if principal().role == access.ANALYST:  # an analyst's export is approved first
        raise Forbidden("analysts request an export on /privacy/exportverzoeken")
    trial = _chosen_trial()
    form = ExportForm(prefix="export")
    if trial is not None and form.validate_on_submit():
        try:
            name, data = analysis.export_zip(
                trial.code, form.fmt.data, actor=principal().actor, role=principal().role
            )
        except PlatformError as error:
            apply_service_error(form, error, {"format": "fmt"})
        else:
            return Response(
                data,
                mimetype="application/zip",
                headers={"Content-Disposition": f'attachment; filename="{name}"'},
            )
    return _render_exports(trial, export_form=form, status=422)


@bp.post("/bevriezingen")
@requires("export.create")
def freeze() -> Any:
    """Freeze the data now. Its own address, so that nothing depends on which button's value
    the browser sent (a disabled button sends none)."""
    trial = _chosen_trial()
    form = FreezeForm(prefix="freeze")
    if trial is None or not form.validate_on_submit():
        return _render_exports(trial, freeze_form=form, status=422)
    try:
        made = freezes.describe(freezes.freeze_trial(trial, principal().actor))
    except PlatformError as error:
        form.form_errors.append(messages.error_text(error))
        return _render_exports(trial, freeze_form=form, status=422)
    flash(
        ngettext(
            "Bevriezing %(id)s is opgeslagen (%(num)s deelnemer).",
            "Bevriezing %(id)s is opgeslagen (%(num)s deelnemers).",
            made["participants"],
            id=made["id"],
        ),
        "success",
    )
    return redirect(url_for(".exports", onderzoek=trial.code) + f"#bevriezing-{made['id']}")


@bp.get("/bevriezingen/<int:freeze_id>.zip")
@requires("export.create")
def download_freeze(freeze_id: int) -> Any:
    if principal().role == access.ANALYST:  # a freeze holds the rows as they were: admins only
        raise Forbidden("analysts request an export on /privacy/exportverzoeken")
    name, data = freezes.download_freeze(freezes.get_freeze(freeze_id), actor=principal().actor)
    return Response(
        data,
        mimetype="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@bp.post("/bevriezingen/<int:freeze_id>/controle")
@requires("export.create")
def verify_freeze(freeze_id: int) -> Any:
    """Recompute the freeze's hashes and re-run its report; the result is shown on the page."""
    frozen = freezes.get_freeze(freeze_id)
    form = FreezeVerifyForm(prefix="verify")
    result = freezes.verify_freeze(frozen) if form.validate_on_submit() else None
    return _render_exports(frozen.trial, verification=result)
