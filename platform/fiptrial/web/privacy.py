"""The data protection officer's pages: the read log, and (with the research admin)
the privacy facts of the platform. Access as everywhere: ``services.access``."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import segno
from flask import (
    Blueprint,
    Flask,
    Response,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, logout_user

from fiptrial.errors import Conflict, NotFound, PlatformError
from fiptrial.services import access, approvals, minimisation, readlog, trials, twofactor
from fiptrial.services.users import load_user
from fiptrial.web.analysis import export_zip
from fiptrial.web.common import (
    apply_service_error,
    home_for,
    install_error_pages,
    pager_args,
    principal,
    requested_page,
    requires,
)
from fiptrial.web.forms import options, parse_dutch_date
from fiptrial.web.privacy_forms import (
    ApprovedDownloadForm,
    DecisionForm,
    EnrolForm,
    ExportRequestForm,
    SecondFactorForm,
)

READ_ACTION_LABELS = {
    "participant.view": _l("deelnemer bekeken"),
    "participant.list": _l("lijst met deelnemers bekeken"),
    "conversation.view": _l("gesprek bekeken"),
    "export.download": _l("export gedownload"),
    "export.view": _l("exportpagina bekeken"),
    "report.view": _l("rapport bekeken"),
    "audit.view": _l("audittrail bekeken"),
    "readlog.view": _l("leeslog bekeken"),
    "page.view": _l("pagina bekeken"),
    "login": _l("ingelogd"),
    "login.failed": _l("inloggen mislukt"),
    "login.second_factor": _l("tweede stap gelukt"),
    "login.second_factor_failed": _l("tweede stap mislukt"),
}

#: The read log's search fields by their name in the query, as the page labels them.
READ_LOG_FIELDS = {"deelnemer": _l("Deelnemernummer"), "van": _l("Van"), "tot": _l("Tot en met")}

bp = Blueprint("privacy", __name__, template_folder="templates", url_prefix="/privacy")
install_error_pages(bp)


def _moment(text: str, *, end: bool = False) -> datetime | None:
    day = parse_dutch_date(text) if text else None
    if day is None:
        return None
    start = datetime.combine(day, time(0), tzinfo=UTC)
    return start + timedelta(days=1) if end else start


def read_log_filters(args: Any) -> tuple[readlog.ReadLogFilters, list[str]]:
    """The search's filters from a query string, and what in it could not be read."""
    problems = []  # the query's names: the page names the fields by their labels
    pid_text = args.get("deelnemer", "").strip()
    participant_id = int(pid_text) if pid_text.isdigit() and len(pid_text) < 8 else None
    if pid_text and participant_id is None:
        problems.append("deelnemer")
    since, until = _moment(args.get("van", "")), _moment(args.get("tot", ""), end=True)
    for name, value in (("van", since), ("tot", until)):
        if args.get(name) and value is None:
            problems.append(name)
    action = args.get("wat", "")
    return readlog.ReadLogFilters(
        actor=args.get("wie", "")[:80],
        action=action if action in readlog.READ_ACTIONS else "",
        participant_id=participant_id,
        site=args.get("locatie", "")[:40],
        since=since,
        until=until,
        page=requested_page(args),
    ), problems


@bp.get("/leeslog")
@requires("readlog.read")
def read_log() -> Any:
    """Who read what: searchable by person, kind of read, participant, site and period."""
    filters, problems = read_log_filters(request.args)
    page = readlog.search(filters)
    args = pager_args(request.args)
    status = 422 if problems else 200
    return render_template(
        "privacy/read_log.html",
        page=page,
        filters=filters,
        problems=problems,
        args=args,
        actions=READ_ACTION_LABELS,
        problem_labels=[str(READ_LOG_FIELDS[name]) for name in problems],
        site_names=trials.site_names(),
    ), status


# --- Two-factor sign-in -------------------------------------------------------------------------
# The password step is the login page as it is (``web.auth``); this guard holds every page of a
# session whose second step is still open, so the login view itself needs no change.

MFA_KEY = "mfa"  # "ok" once the second step is done (or not needed); cleared at every login
MAX_CODE_ATTEMPTS = 5
OPEN_ENDPOINTS = frozenset(
    {"privacy.second_factor", "privacy.enrol", "auth.logout", "auth.language", "auth.login"}
)


def _second_step_target() -> str | None:
    """Where a logged-in user whose second step is open must go, or None."""
    if not current_user.is_authenticated or session.get(MFA_KEY) == "ok":
        return None
    if twofactor.is_enrolled(current_user.id):
        return url_for("privacy.second_factor")
    if twofactor.required_for(current_user.role):
        return url_for("privacy.enrol")
    session[MFA_KEY] = "ok"  # optional for this role, and not set up
    return None


def _guard() -> Any:
    if request.path.startswith(("/api/", "/static/")) or request.endpoint in OPEN_ENDPOINTS:
        return None
    if request.endpoint is None:
        return None
    target = _second_step_target()
    if target is None:
        return None
    if request.method == "GET":  # after the second step, on to the page last asked for
        session["mfa_next"] = request.full_path.rstrip("?")
    return redirect(target)


def _finish_second_step() -> Any:
    session[MFA_KEY] = "ok"
    session.pop("mfa_attempts", None)
    target = session.pop("mfa_next", None)
    if not target or not target.startswith("/") or target.startswith("//"):
        target = home_for(current_user)
    return redirect(target)


@bp.route("/tweede-stap", methods=["GET", "POST"])
def second_factor() -> Any:
    """The code from the authenticator app (or a recovery code) after the password."""
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    if session.get(MFA_KEY) == "ok":
        return redirect(home_for(current_user))
    if not twofactor.is_enrolled(current_user.id):
        return redirect(url_for("privacy.enrol"))
    form = SecondFactorForm()
    if form.validate_on_submit():
        if twofactor.verify(current_user.id, form.code.data or ""):
            readlog.log_login(current_user.username, ok=True, action="login.second_factor")
            return _finish_second_step()
        readlog.log_login(current_user.username, ok=False, action="login.second_factor_failed")
        attempts = int(session.get("mfa_attempts", 0)) + 1
        session["mfa_attempts"] = attempts
        if attempts >= MAX_CODE_ATTEMPTS:
            logout_user()
            session.clear()
            return redirect(url_for("auth.login"))
        form.code.errors = [_("Deze code klopt niet of is verlopen.")]
    status = 422 if form.errors else 200
    return render_template("privacy/second_factor.html", form=form), status


def _qr_svg(uri: str) -> str:
    """The provisioning URI as an inline SVG (the CSP allows no data: images)."""
    return str(segno.make(uri, error="m").svg_inline(scale=4, dark="#1b1b1b", light="#ffffff"))


@bp.route("/tweestapsverificatie", methods=["GET", "POST"])
def enrol() -> Any:
    """Set up two-factor sign-in: a QR code and the secret as text, then the first code."""
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    user = load_user(current_user.id)
    assert user is not None
    if twofactor.is_enrolled(user.id):
        return render_template(
            "privacy/enrol.html",
            enrolled=True,
            left=twofactor.recovery_codes_left(user.id),
            required=twofactor.required_for(user.role),
        )
    if session.get(MFA_KEY) != "ok" and not twofactor.required_for(user.role):
        session[MFA_KEY] = "ok"
    form = EnrolForm()
    pending = twofactor.pending_enrolment(user) or twofactor.begin_enrolment(user)
    if form.validate_on_submit():
        try:
            codes = twofactor.confirm_enrolment(user, form.code.data or "")
        except PlatformError:
            form.code.errors = [_("Deze code klopt niet of is verlopen. Probeer de volgende.")]
        else:
            session[MFA_KEY] = "ok"
            return render_template("privacy/recovery_codes.html", codes=codes)
    status = 422 if form.errors else 200
    return render_template(
        "privacy/enrol.html",
        enrolled=False,
        form=form,
        secret=" ".join(pending.secret[i : i + 4] for i in range(0, len(pending.secret), 4)),
        qr=_qr_svg(pending.uri),
        required=twofactor.required_for(user.role),
    ), status


# --- Export approvals -----------------------------------------------------------------------------

APPROVAL_STATUS = {
    "requested": _l("aangevraagd"),
    "approved": _l("goedgekeurd"),
    "refused": _l("afgewezen"),
    "used": _l("gedownload"),
}


def _request_form() -> ExportRequestForm:
    form = ExportRequestForm(prefix="request")
    form.trial.choices = options([(t.code, t.name) for t in trials.list_trials()])
    return form


def _render_requests(form: ExportRequestForm | None = None, status: int = 200) -> Any:
    who = principal()
    return render_template(
        "privacy/export_requests.html",
        form=form or _request_form(),
        requests=approvals.requests_for(who),
        trials={t.id: t.name for t in trials.list_trials()},
        statuses=APPROVAL_STATUS,
        decide=DecisionForm(prefix="decide"),
        download=ApprovedDownloadForm(prefix="download"),
        is_admin=who.role == access.ADMIN,
        threshold=minimisation.threshold(),
    ), status


@bp.get("/exportverzoeken")
@requires("export.create")
def export_requests() -> Any:
    """Analysts ask for an export here; the research admin approves or refuses."""
    return _render_requests()


@bp.post("/exportverzoeken")
@requires("export.request")
def request_export() -> Any:
    form = _request_form()
    if form.validate_on_submit():
        try:
            approvals.request_export(
                trials.get_trial(form.trial.data or ""),
                form.fmt.data or "",
                form.purpose.data or "",
                principal=principal(),
            )
        except PlatformError as error:
            apply_service_error(form, error, {"format": "fmt"})
        else:
            flash(_("Uw aanvraag is verstuurd naar de onderzoeksbeheerder."), "success")
            return redirect(url_for(".export_requests"))
    return _render_requests(form, status=422)


@bp.post("/exportverzoeken/<int:approval_id>/besluit")
@requires("export.approve")
def decide_export(approval_id: int) -> Any:
    form = DecisionForm(prefix="decide")
    if not form.validate_on_submit() or form.decision.data not in ("approve", "refuse"):
        return _render_requests(status=422)
    approve = form.decision.data == "approve"
    try:
        approvals.decide(approval_id, approve=approve, principal=principal())
    except Conflict:
        flash(_("Over deze aanvraag is al besloten."), "error")
    else:
        if approve:
            flash(_("Aanvraag %(id)s is goedgekeurd.", id=approval_id), "success")
        else:
            flash(_("Aanvraag %(id)s is afgewezen.", id=approval_id), "success")
    return redirect(url_for(".export_requests"))


@bp.post("/exportverzoeken/<int:approval_id>/download")
@requires("export.request")
def download_approved(approval_id: int) -> Any:
    """The analyst's one download of an approved request, small cells suppressed."""
    form = ApprovedDownloadForm(prefix="download")
    if not form.validate_on_submit():
        return _render_requests(status=422)
    approval = approvals.get_request(approval_id)
    if approval is None or approval.requested_by != principal().actor:
        raise NotFound(f"export request {approval_id} does not exist")
    if approval.status != "approved":
        flash(_("Deze aanvraag is niet (meer) goedgekeurd."), "error")
        return redirect(url_for(".export_requests"))
    trial = approvals.trial_of(approval)
    name, data = export_zip(
        trial.code,
        approval.parameters["format"],
        actor=principal().actor,
        role=principal().role,
        small_cells=minimisation.threshold(),
    )
    approvals.use(approval_id, principal=principal())  # 409 if another tab was first
    return Response(
        data,
        mimetype="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def register_privacy(app: Flask) -> None:
    """The read log's hooks, the second sign-in step's guard and the privacy pages."""
    readlog.install(app)
    app.before_request(_guard)
    app.register_blueprint(bp)
