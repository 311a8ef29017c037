"""Logging in and out, and choosing the language of the pages."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from fiptrial.services import users
from fiptrial.web.common import WebUser, home_for, install_error_pages
from fiptrial.web.forms import LanguageForm, LoginForm, LogoutForm

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


@bp.route("/inloggen", methods=["GET", "POST"])
def login() -> Any:
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    form = LoginForm()
    expired = session.pop("expired", False)
    if form.validate_on_submit():
        try:
            user = users.authenticate(form.username.data or "", form.password.data or "")
        except users.AccountLocked as locked:
            minutes = max(1, int((locked.until - datetime.now(UTC)).total_seconds() // 60) + 1)
            form.form_errors.append(
                _(
                    "Dit account is tijdelijk geblokkeerd na te veel mislukte pogingen. "
                    "Probeer het over %(minutes)s minuten opnieuw of neem contact op met de "
                    "beheerder.",
                    minutes=minutes,
                )
            )
        except users.LoginFailed:
            form.password.errors = [_("Gebruikersnaam of wachtwoord is onjuist.")]
        else:
            _fresh_session()  # no session fixation: nothing carries over but the language
            session.permanent = True
            session["seen"] = datetime.now(UTC).timestamp()
            login_user(WebUser.from_user(user))
            web_user = WebUser.from_user(user)
            return redirect(_safe_next(request.args.get("next")) or home_for(web_user))
    status = 200 if not form.errors and not form.form_errors else 422
    return render_template("auth/login.html", form=form, expired=expired), status


@bp.post("/uitloggen")
def logout() -> Any:
    form = LogoutForm()
    if form.validate_on_submit():
        logout_user()
        _fresh_session()
    return redirect(url_for("auth.login"))


@bp.post("/taal")
def language() -> Any:
    form = LanguageForm()
    if form.validate_on_submit():
        session["lang"] = form.lang.data
    return redirect(_safe_next(request.form.get("back")) or url_for("index"))
