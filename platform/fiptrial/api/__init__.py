"""The JSON API, version 1. Views are thin: they authorise, call a service, serialise."""

from __future__ import annotations

from flask import Flask, jsonify
from flask_smorest import Api

from fiptrial.api.errors import platform_error_response
from fiptrial.errors import PlatformError


def register_api(app: Flask, api: Api) -> None:
    # Imported here: the view modules need the models, which need fiptrial.extensions,
    # which needs this package's PlatformApi.
    from fiptrial.api import allocations, audit, participants, sites, trials
    from fiptrial.api.auth import load_principal

    api.spec.components.security_scheme(
        "bearer", {"type": "http", "scheme": "bearer", "description": "fiptrial token create"}
    )
    for module in (trials, sites, participants, allocations, audit):
        api.register_blueprint(module.blp)
    from fiptrial.api import imports  # issue 3: enrolment and outcome imports

    api.register_blueprint(imports.blp)
    from fiptrial.api import conversations  # issue 5: conversations, agendas, fidelity

    api.register_blueprint(conversations.blp)
    from fiptrial.api import analysis  # issue 4: trial report and data freezes

    api.register_blueprint(analysis.blp)
    from fiptrial.api import privacy  # issue 16: the read log

    api.register_blueprint(privacy.blp)
    app.before_request(load_principal)
    app.register_error_handler(PlatformError, platform_error_response)

    @app.get("/health")
    def health():  # type: ignore[no-untyped-def]
        from sqlalchemy import text

        from fiptrial.extensions import db

        db.session.execute(text("SELECT 1"))
        return jsonify({"status": "ok", "database": db.engine.dialect.name})
