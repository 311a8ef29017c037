"""Logging in and out, and choosing the language of the pages."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from fiptrial.errors import PlatformError
from fiptrial.limits import address_and_name, limiter, login_failed
from fiptrial.services import users
from fiptrial.web.common import (
    WebUser,
    apply_service_error,
    home_for,
    install_error_pages,
    render_form,
    requires_login,
)
from fiptrial.web.forms import LanguageForm, LoginForm, LogoutForm, PasswordChangeForm

bp = Blueprint("auth", __name__, template_folder="templates")
install_error_pages(bp)


def _safe_next(target: str | None) -> str | None:
    """Only a path on this site; never an absolute URL that leads elsewhere."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def _fresh_session() -> None:
    """Empty the session except for the language, and forget the old CSRF token."""
    lang = session.get("lang")
    session.clear()
    g.pop("csrf_token", None)  # Flask-WTF caches the token per app context
    if lang:
        session["lang"] = lang


def _too_many_attempts(_limit: Any) -> Any:
    """Flask-Limiter's answer past a login limit: the same page and words for every name."""
    form = LoginForm()
    form.form_errors.append(
        _(
            "Te veel mislukte inlogpogingen vanaf dit adres. Wacht een kwartier en probeer het "
            "dan opnieuw, of neem contact op met de beheerder."
        )
    )
    return make_response(render_template("auth/login.html", form=form, expired=False), 429)


@bp.route("/inloggen", methods=["GET", "POST"])
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_ADDRESS"],
    methods=["POST"],
    deduct_when=login_failed,
    on_breach=_too_many_attempts,
    scope="login-address",
)
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_NAME"],
    key_func=address_and_name,
    methods=["POST"],
    deduct_when=login_failed,
    on_breach=_too_many_attempts,
    scope="login-name",
)
def login() -> Any:
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    form = LoginForm()
    expired = session.pop("expired", False)
    if form.validate_on_submit():
        try:
            user = users.authenticate(form.username.data or "", form.password.data or "")
        except users.LoginFailed:
            form.password.errors = [_("Gebruikersnaam of wachtwoord is onjuist.")]
        else:
            _fresh_session()  # no session fixation: nothing carries over but the language
            session.permanent = True
            session["seen"] = datetime.now(UTC).timestamp()
            session["sv"] = user.session_version or 0
            login_user(WebUser.from_user(user))
            web_user = WebUser.from_user(user)
            return redirect(_safe_next(request.args.get("next")) or home_for(web_user))
    status = 200 if not form.errors and not form.form_errors else 422
    return render_template("auth/login.html", form=form, expired=expired), status


@bp.post("/uitloggen")
def logout() -> Any:
    form = LogoutForm()
    if form.validate_on_submit():
        if current_user.is_authenticated:
            users.end_sessions(current_user.id)  # every session of the user, not only this one
        logout_user()
        _fresh_session()
    return redirect(url_for("auth.login"))


@bp.route("/wachtwoord", methods=["GET", "POST"])
@requires_login
def change_password() -> Any:
    """Change one's own password; every session of the user ends, this one too."""
    form = PasswordChangeForm()
    if form.validate_on_submit():
        if form.password.data != form.repeat.data:
            form.repeat.errors = [_("De twee nieuwe wachtwoorden zijn niet gelijk.")]
        else:
            try:
                users.change_own_password(
                    current_user.id, form.current_password.data or "", form.password.data or ""
                )
            except PlatformError as error:
                apply_service_error(form, error, default_field="password")
            else:
                logout_user()
                _fresh_session()
                flash(
                    _(
                        "Uw wachtwoord is gewijzigd. U bent overal uitgelogd; log opnieuw in "
                        "met het nieuwe wachtwoord."
                    ),
                    "success",
                )
                return redirect(url_for("auth.login"))
    return render_form("auth/password.html", form)


@bp.post("/taal")
def language() -> Any:
    form = LanguageForm()
    if form.validate_on_submit():
        session["lang"] = form.lang.data
    return redirect(_safe_next(request.form.get("back")) or url_for("index"))
