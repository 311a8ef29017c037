"""Request limits: body sizes refused before they are read, and login throttling.

Bodies: every request may carry at most ``FORM_MAX_BYTES`` (1 MB by default: forms and JSON),
an upload of an export at most ``IMPORT_MAX_BYTES`` plus the multipart envelope. A larger
``Content-Length`` is answered 413 before a byte of the body is read, ahead of every other
check (even before the login form's CSRF check); a body without ``Content-Length`` (chunked) is
cut off by Werkzeug at the same limit.

Logins: Flask-Limiter counts *failed* logins per client address and per client address and
user name (``LOGIN_LIMIT_PER_ADDRESS``, ``LOGIN_LIMIT_PER_NAME``). Past either, that address
gets the same 429 for every name, known or not; nobody can lock an account for anyone else,
and nobody learns from the answer which names exist. The counts live in
``RATELIMIT_STORAGE_URI`` (memory by default, per process; ``redis://...`` shares them between
gunicorn workers).
"""

from __future__ import annotations

from flask import Flask, current_app, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from werkzeug.exceptions import RequestEntityTooLarge

#: Endpoints that take an export file (API and web).
UPLOAD_ENDPOINTS = frozenset(
    {"imports.create_participant_import", "imports.create_outcome_import", "site.upload"}
)
#: Room for the multipart envelope around an upload that is exactly IMPORT_MAX_BYTES long.
MULTIPART_ALLOWANCE = 64 * 1024

limiter = Limiter(key_func=get_remote_address)


def body_limit() -> int:
    """The most bytes the current request's body may have."""
    if request.endpoint in UPLOAD_ENDPOINTS:
        return int(current_app.config["IMPORT_MAX_BYTES"]) + MULTIPART_ALLOWANCE
    return int(current_app.config["FORM_MAX_BYTES"])


def refuse_large_bodies() -> None:
    """before_request, the first of all: 413 for a body above its limit, before reading it."""
    limit = body_limit()
    request.max_content_length = limit
    if request.content_length is not None and request.content_length > limit:
        megabytes = max(1, limit // (1024 * 1024))
        raise RequestEntityTooLarge(f"the request body is larger than {megabytes} MB")


def address_and_name() -> str:
    """Flask-Limiter key of a login attempt: the client address and the user name typed."""
    name = (request.form.get("username") or "").strip().lower()[:80]
    return f"{get_remote_address()}|{name}"


def login_failed(response: object) -> bool:
    """Only failed logins count (a successful one answers a redirect)."""
    return getattr(response, "status_code", 500) != 302


def init_limits(app: Flask) -> None:
    app.config.setdefault("FORM_MAX_BYTES", 1024 * 1024)
    app.config.setdefault("LOGIN_LIMIT_PER_ADDRESS", "30 per 15 minutes")
    app.config.setdefault("LOGIN_LIMIT_PER_NAME", "5 per 15 minutes")
    app.config.setdefault("RATELIMIT_STORAGE_URI", "memory://")
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", False)
    # The largest body any endpoint takes; refuse_large_bodies narrows it per endpoint.
    app.config["MAX_CONTENT_LENGTH"] = max(
        int(app.config["IMPORT_MAX_BYTES"]) + MULTIPART_ALLOWANCE, app.config["FORM_MAX_BYTES"]
    )
    app.before_request_funcs.setdefault(None, []).insert(0, refuse_large_bodies)
    limiter.init_app(app)
