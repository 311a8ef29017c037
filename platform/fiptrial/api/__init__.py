"""The JSON API, version 1. Views are thin: they authorise, call a service, serialise."""

from __future__ import annotations

from flask import Flask, jsonify
from sqlalchemy import text

from fiptrial.api import (
    allocations,
    analysis,
    audit,
    conversations,
    imports,
    participants,
    privacy,
    sites,
    trials,
)
from fiptrial.api.auth import load_principal
from fiptrial.api.errors import PlatformApi, platform_error_response
from fiptrial.errors import PlatformError
from fiptrial.extensions import db

#: The API's flask-smorest object, bound to the app by :func:`fiptrial.create_app`.
api = PlatformApi()

BLUEPRINT_MODULES = (
    trials,
    sites,
    participants,
    allocations,
    audit,
    imports,
    conversations,
    analysis,
    privacy,
)


def register_api(app: Flask) -> None:
    """The API's blueprints, bearer-token principal, error shape and ``/health``."""
    api.spec.components.security_scheme(
        "bearer", {"type": "http", "scheme": "bearer", "description": "fiptrial token create"}
    )
    for module in BLUEPRINT_MODULES:
        api.register_blueprint(module.blp)
    app.before_request(load_principal)
    app.register_error_handler(PlatformError, platform_error_response)

    @app.get("/health")
    def health():  # type: ignore[no-untyped-def]
        db.session.execute(text("SELECT 1"))
        return jsonify({"status": "ok", "database": db.engine.dialect.name})
