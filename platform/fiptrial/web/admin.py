"""The research admin's screens: trial settings, sites and plugins, users and roles, client
managers and their capacities, site closing days.

So that running the trial needs no developer at the command line. Every change goes through a
service that audits it; the views only read the forms and show the result. Settings that the
trial's design or analysis fixes are shown, but refused by the service once fixed.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _

from fiptrial.errors import NotFound, PlatformError
from fiptrial.models import Site, Trial, User
from fiptrial.models.identity import SITE_ROLES
from fiptrial.plugins.manager import get_site_plugin, list_site_plugins
from fiptrial.services import caseload, planning, trials, users
from fiptrial.timezone import local_today
from fiptrial.web import messages
from fiptrial.web.admin_forms import (
    CapacityForm,
    ClosingDayForm,
    NewSiteForm,
    NewUserForm,
    PasswordResetForm,
    RemoveClosingDayForm,
    SiteForm,
    TrialSettingsForm,
    UserActionForm,
)
from fiptrial.web.common import (
    ROLE_NAMES,
    apply_service_error,
    form_status,
    install_error_pages,
    principal,
    render_form,
    requires,
)
from fiptrial.web.forms import options

bp = Blueprint("admin", __name__, template_folder="templates", url_prefix="/beheer")
install_error_pages(bp)

PLAN_FIELDS = planning.PLAN_FIELDS
FORM_FIELDS = {
    "name": "name",
    "start_date": "start_date",
    "method": "method",
    "consent_design": "consent_design",
    "followup_years": "followup_years",
    "cost_per_benefit_year": "cost_per_benefit_year",
    "arms": "fip_ratio",
}


@bp.context_processor
def _admin_trials() -> dict[str, Any]:
    return {"admin_trials": trials.list_trials()}


def _trial(code: str) -> Trial:
    return trials.get_trial(code)


@bp.get("/")
@requires("site.update")
def home() -> Any:
    return redirect(url_for(".sites"))


# --- Trial settings ---------------------------------------------------------------------------


@bp.route("/onderzoek/<code>", methods=["GET", "POST"])
@requires("trial.create")
def trial_settings(code: str) -> Any:
    trial = _trial(code)
    form = TrialSettingsForm()
    ratios = trial.ratios()
    if not form.is_submitted():
        form.process(
            obj=trial,
            fip_ratio=ratios.get("fip"),
            control_ratio=ratios.get("control"),
        )
    elif form.validate_on_submit():
        changes = {
            "name": (form.name.data or "").strip(),
            "start_date": form.start_date.data,
            "method": form.method.data,
            "consent_design": form.consent_design.data,
            "followup_years": form.followup_years.data,
            "cost_per_benefit_year": form.cost_per_benefit_year.data,
            "arms": [
                {"code": "fip", "ratio": form.fip_ratio.data},
                {"code": "control", "ratio": form.control_ratio.data},
            ],
        }
        plan = {name: getattr(form, name).data for name in PLAN_FIELDS}
        try:
            trials.update_settings(trial, changes, actor=principal().actor)
            plan_changes = {n: v for n, v in plan.items() if getattr(trial, n) != v}
            if plan_changes:
                planning.reconfigure_trial(trial, plan_changes, actor=principal().actor)
        except PlatformError as error:
            apply_service_error(form, error, FORM_FIELDS)
        else:
            flash(_("De instellingen van het onderzoek zijn opgeslagen."), "success")
            return redirect(url_for(".trial_settings", code=trial.code))
    return render_form(
        "admin/trial.html",
        form,
        trial=trial,
        design_since=trials.design_locked_since(trial),
        analysis_since=trials.analysis_locked_since(trial),
    )


# --- Sites and their plugins ------------------------------------------------------------------


def _plugin_choices() -> list[tuple[str, str]]:
    return [(p.name, f"{p.site_name} ({p.version})") for p in list_site_plugins()]


@bp.route("/locaties", methods=["GET", "POST"])
@requires("site.update")
def sites() -> Any:
    all_trials = trials.list_trials()
    form = NewSiteForm()
    form.plugin.choices = options(_plugin_choices())
    if form.validate_on_submit() and all_trials:
        try:
            site = trials.add_site(
                all_trials[0],
                {
                    "code": form.code.data,
                    "name": form.name.data or None,
                    "plugin": form.plugin.data,
                },
                actor=principal().actor,
            )
        except PlatformError as error:
            apply_service_error(form, error)
        else:
            flash(_("Locatie %(name)s is toegevoegd.", name=site.name), "success")
            return redirect(url_for(".site", code=site.code))
    plugins = {
        site.id: get_site_plugin(site.plugin) for trial in all_trials for site in trial.sites
    }
    return render_form("admin/sites.html", form, trials=all_trials, plugins=plugins)


def _site(code: str) -> Site:
    return trials.get_site(code)


def _render_site(site: Site, status: int = 200, **forms: Any) -> Any:
    ratios = site.arm_ratios or {}
    site_form = forms.get("site_form") or SiteForm(prefix="site")
    if not site_form.is_submitted():
        site_form.name.data = site.name
        site_form.fip_ratio.data = ratios.get("fip")
        site_form.control_ratio.data = ratios.get("control")
    closing_form = forms.get("closing_form") or ClosingDayForm(prefix="closing")
    managers = caseload.client_managers(site.id)
    loads = caseload.current_loads(site.id)
    capacity_forms = {}
    for manager in managers:
        form = forms.get(f"capacity_{manager.id}") or CapacityForm(prefix=f"capacity-{manager.id}")
        if not form.is_submitted():
            form.capacity.data = manager.capacity
        capacity_forms[manager.id] = form
    return render_template(
        "admin/site.html",
        site=site,
        plugin=get_site_plugin(site.plugin),
        site_form=site_form,
        closing_form=closing_form,
        remove_form=RemoveClosingDayForm(),
        managers=managers,
        loads=loads,
        capacity_forms=capacity_forms,
        today=local_today(),
    ), status


@bp.get("/locaties/<code>")
@requires("site.update")
def site(code: str) -> Any:
    return _render_site(_site(code))


@bp.post("/locaties/<code>")
@requires("site.update")
def update_site(code: str) -> Any:
    site = _site(code)
    form = SiteForm(prefix="site")
    if form.validate_on_submit():
        ratios = None
        if form.fip_ratio.data or form.control_ratio.data:
            ratios = {"fip": form.fip_ratio.data or 0, "control": form.control_ratio.data or 0}
        try:
            trials.update_site(
                site,
                {"name": (form.name.data or "").strip(), "arm_ratios": ratios},
                actor=principal().actor,
            )
        except PlatformError as error:
            apply_service_error(form, error, {"arm_ratios": "fip_ratio"})
        else:
            flash(_("De locatie is opgeslagen."), "success")
            return redirect(url_for(".site", code=code))
    return _render_site(site, 422, site_form=form)


@bp.post("/locaties/<code>/sluitingsdagen")
@requires("site.update")
def add_closing_day(code: str) -> Any:
    site = _site(code)
    form = ClosingDayForm(prefix="closing")
    if form.validate_on_submit() and form.day.data is not None:
        try:
            moved = trials.change_closing_day(
                site, form.day.data, add=True, actor=principal().actor
            )
        except PlatformError as error:
            apply_service_error(form, error, default_field="day")
        else:
            flash(
                _(
                    "Sluitingsdag %(d)s is toegevoegd; %(n)s geplande gesprekken zijn verplaatst.",
                    d=form.day.data.strftime("%d-%m-%Y"),
                    n=moved,
                ),
                "success",
            )
            return redirect(url_for(".site", code=code) + "#sluitingsdagen")
    return _render_site(site, 422, closing_form=form)


@bp.post("/locaties/<code>/sluitingsdagen/<day>/verwijderen")
@requires("site.update")
def remove_closing_day(code: str, day: str) -> Any:
    site = _site(code)
    form = RemoveClosingDayForm()
    try:
        which = date.fromisoformat(day)
    except ValueError:
        raise NotFound("no such closing day") from None
    if form.validate_on_submit():
        trials.change_closing_day(site, which, add=False, actor=principal().actor)
        flash(_("Sluitingsdag %(d)s is verwijderd.", d=which.strftime("%d-%m-%Y")), "success")
    return redirect(url_for(".site", code=code) + "#sluitingsdagen")


@bp.post("/locaties/<code>/klantmanagers/<int:user_id>")
@requires("site.update")
def set_capacity(code: str, user_id: int) -> Any:
    site = _site(code)
    form = CapacityForm(prefix=f"capacity-{user_id}")
    if form.validate_on_submit():
        try:
            manager = caseload.set_capacity(user_id, form.capacity.data, actor=principal().actor)
        except PlatformError as error:
            apply_service_error(form, error)
        else:
            flash(
                _(
                    "%(name)s heeft nu %(n)s FIP-plaatsen.",
                    name=manager.display_name,
                    n=manager.capacity,
                ),
                "success",
            )
            return redirect(url_for(".site", code=code) + "#klantmanagers")
    return _render_site(site, 422, **{f"capacity_{user_id}": form})


# --- Users and roles --------------------------------------------------------------------------


def _new_user_form() -> NewUserForm:
    form = NewUserForm(prefix="new")
    sites = trials.list_sites()
    form.site.choices = options([("", _("— geen —"))] + [(s.code, s.name) for s in sites])
    return form


def _render_users(new_form: NewUserForm | None = None, status: int = 200, **extra: Any) -> Any:
    people = users.list_users()
    return render_template(
        "admin/users.html",
        people=people,
        new_form=new_form or _new_user_form(),
        action_form=UserActionForm(),
        password_forms={
            u.id: extra.get(f"password_{u.id}") or PasswordResetForm(prefix=f"password-{u.id}")
            for u in people
        },
    ), status


@bp.route("/gebruikers", methods=["GET", "POST"])
@requires("token.manage")
def user_list() -> Any:
    form = _new_user_form()
    if form.validate_on_submit():
        site = trials.get_site(form.site.data) if form.site.data else None
        try:
            created = users.create_user(
                username=form.username.data or "",
                role=form.role.data,
                password=form.password.data or "",
                site=site if form.role.data in SITE_ROLES else None,
                display_name=(form.display_name.data or "").strip(),
                capacity=form.capacity.data if form.role.data == "client_manager" else None,
                actor=principal().actor,
            )
        except PlatformError as error:
            apply_service_error(form, error)
        else:
            flash(
                _(
                    "%(name)s kan nu inloggen als %(role)s.",
                    name=created.display_name,
                    role=messages.label(_role_names(), created.role),
                ),
                "success",
            )
            return redirect(url_for(".user_list"))
    return _render_users(form, form_status(form))


def _role_names() -> dict[str, Any]:
    return ROLE_NAMES


def _user(user_id: int) -> User:
    user = users.get_user(user_id)
    if user is None:
        raise NotFound(f"user {user_id} does not exist")
    return user


USER_ACTIONS = {
    "uitschakelen": users.deactivate_user,
    "inschakelen": users.reactivate_user,
}


@bp.post("/gebruikers/<int:user_id>/<action>")
@requires("token.manage")
def user_action(user_id: int, action: str) -> Any:
    if action not in USER_ACTIONS:
        raise NotFound("no such action")
    user = _user(user_id)
    form = UserActionForm()
    if form.validate_on_submit():
        try:
            USER_ACTIONS[action](user.id, actor=principal().actor)
        except PlatformError as error:
            flash(messages.error_text(error), "error")
        else:
            flash(_success_text(action, user.display_name or user.username), "success")
    return redirect(url_for(".user_list") + f"#gebruiker-{user_id}")


def _success_text(action: str, name: str) -> str:
    if action == "uitschakelen":
        return _("%(name)s is uitgeschakeld en kan niet meer inloggen.", name=name)
    return _("%(name)s is weer ingeschakeld.", name=name)


@bp.post("/gebruikers/<int:user_id>/wachtwoord")
@requires("token.manage")
def reset_password(user_id: int) -> Any:
    user = _user(user_id)
    form = PasswordResetForm(prefix=f"password-{user_id}")
    if form.validate_on_submit():
        try:
            users.set_password(user.id, form.password.data or "", actor=principal().actor)
        except PlatformError as error:
            apply_service_error(form, error)
        else:
            flash(
                _(
                    "Het wachtwoord van %(name)s is ingesteld; %(name)s is overal uitgelogd.",
                    name=user.display_name or user.username,
                ),
                "success",
            )
            return redirect(url_for(".user_list") + f"#gebruiker-{user_id}")
    return _render_users(status=422, **{f"password_{user_id}": form})
