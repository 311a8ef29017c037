"""Server-rendered pages for site staff and the research team.

:func:`register_web` sets up everything the pages need, so that ``create_app`` only calls it:
Flask-Login (sessions that expire after ``SESSION_LIFETIME_MINUTES`` without activity),
Flask-WTF's CSRF check on every form (the bearer-token API under ``/api/`` is exempt: a token
in a header cannot be sent by another site's form), Flask-Babel (Dutch by default, English
available), and security headers with a strict Content-Security-Policy: no inline scripts or
styles, everything from ``static/``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, Flask, Response, redirect, request, session, url_for
from flask_babel import Babel, refresh
from flask_login import LoginManager, current_user, logout_user
from flask_wtf.csrf import CSRFError, CSRFProtect

from fiptrial.http_errors import allow_header, api_error_response
from fiptrial.security_headers import SECURITY_HEADERS
from fiptrial.services.access import may_see
from fiptrial.web import admin, auth, manager, research, site
from fiptrial.web.common import ROLE_NAMES, WebUser, home_for, render_error
from fiptrial.web.filters import register_filters

LANGUAGES = ("nl", "en")
DEFAULT_LANGUAGE = "nl"


csrf = CSRFProtect()
login_manager = LoginManager()
babel = Babel()


def select_language() -> str:
    chosen = session.get("lang")
    return chosen if chosen in LANGUAGES else DEFAULT_LANGUAGE


def shows(resource: str, field: str) -> bool:
    """Template global: may the logged-in user see ``field`` of ``resource``? The one field
    policy of ``services.access`` decides, as it does for the API and the exports."""
    return bool(current_user.is_authenticated) and may_see(current_user.principal, resource, field)


def register_web(app: Flask) -> None:
    app.config.setdefault("SESSION_LIFETIME_MINUTES", 30)
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # the session's own expiry bounds it
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False  # checked below, for the pages only
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LANGUAGE)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "Europe/Amsterdam")
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(
        minutes=int(app.config["SESSION_LIFETIME_MINUTES"])
    )
    app.config.setdefault("SESSION_COOKIE_HTTPONLY", True)
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config.setdefault("REMEMBER_COOKIE_DURATION", timedelta(seconds=0))
    # The cookie is sent again only when the session changes (at most once a minute for the
    # idle clock, see SESSION_TOUCH_SECONDS), not with every response.
    app.config["SESSION_REFRESH_EACH_REQUEST"] = False
    app.config.setdefault("SESSION_TOUCH_SECONDS", 60)

    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_language)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None  # the login page explains itself
    login_manager.session_protection = "strong"

    @login_manager.user_loader
    def _load(user_id: str) -> WebUser | None:
        version = session.get("sv")
        if not isinstance(version, int):
            return None  # a session without a version predates them: it has ended
        return WebUser.load(user_id, version)

    @app.before_request
    def _expire_and_protect() -> Any:
        refresh()  # the language is chosen per request, never cached across requests
        if request.path.startswith(("/api/", "/static/")):
            # The API uses bearer tokens, no cookies: neither sessions nor CSRF apply. Static
            # files must not touch the session either: a stylesheet or icon answered in
            # parallel with a form post would otherwise send back an older session cookie.
            return None
        if "_user_id" in session:
            now = datetime.now(UTC).timestamp()
            seen = session.get("seen")
            lifetime = app.permanent_session_lifetime.total_seconds()
            if seen is not None and now - float(seen) > lifetime:
                logout_user()
                session.clear()
                session["expired"] = True
                return redirect(url_for("auth.login", next=request.full_path))
            touch = float(app.config["SESSION_TOUCH_SECONDS"])
            if current_user.is_authenticated and (seen is None or now - float(seen) >= touch):
                session.permanent = True
                session["seen"] = now
        if request.routing_exception is not None:
            return None  # no such page or method: its 404 or 405 (with Allow) follows
        if request.method not in ("GET", "HEAD", "OPTIONS", "TRACE"):
            csrf.protect()
        return None

    @app.after_request
    def _security_headers(response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if not request.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.errorhandler(404)
    @app.errorhandler(405)
    @app.errorhandler(413)
    def _page_not_found(error: Any) -> Any:
        """A calm Dutch page for a mistyped address, a wrong method (with ``Allow``) or a body
        too large; the API keeps its JSON errors."""
        if request.path.startswith("/api/"):
            return api_error_response(error)
        page, status = render_error(error.code or 404)
        return page, status, allow_header(error)

    @app.errorhandler(CSRFError)
    def _csrf_refused(error: CSRFError) -> Any:
        return render_error(400, "csrf")

    register_filters(app.jinja_env)
    app.jinja_env.globals["LANGUAGES"] = LANGUAGES
    app.jinja_env.globals["ROLE_NAMES"] = ROLE_NAMES
    app.jinja_env.globals["shows"] = shows
    app.register_blueprint(
        Blueprint("static_web", __name__, static_folder="static", static_url_path="/static/web")
    )

    for module in (auth, site, research, manager, admin):
        app.register_blueprint(module.bp)

    @app.get("/")
    def index() -> Any:
        """Each role starts on its own page."""
        if not current_user.is_authenticated:
            return redirect(url_for("auth.login"))
        return redirect(home_for(current_user))
