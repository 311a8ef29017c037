"""The FIP trial platform: create the Flask application.

``create_app`` follows Flask's application-factory pattern: defaults, then the environment
(see :mod:`fiptrial.config`), then a test configuration. Nothing is configured at import time.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # Flask is imported by create_app only: ``fiptrial.plugins`` must not need it
    from flask import Flask

from fiptrial.version import __version__ as __version__

PACKAGE_DIR = Path(__file__).resolve().parent


def default_instance_path() -> Path:
    return Path(os.environ.get("FIPTRIAL_INSTANCE_PATH") or Path.cwd() / "instance").resolve()


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    # Imported here, not at the top: ``import fiptrial`` (which every submodule import runs
    # first, a plugin's ``import fiptrial.plugins`` too) stays light, and only building an app
    # loads Flask, the models, services, API, web pages and CLI.
    from flask import Flask

    from fiptrial.api import api, register_api
    from fiptrial.config import settings_from_environment
    from fiptrial.database import configure_engine, sqlite_engine_options
    from fiptrial.extensions import db, migrate

    instance_path = default_instance_path()
    app = Flask(__name__, instance_path=str(instance_path), instance_relative_config=True)
    app.config.from_mapping(
        API_TITLE="FIP trial platform",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
        # Every operation needs a bearer token (the document itself is open).
        API_SPEC_OPTIONS={"security": [{"bearer": []}]},
        JSON_SORT_KEYS=False,
        SQLALCHEMY_TRACK_MODIFICATIONS=False,
        ALLOCATIONS_PAGE_SIZE=1000,
    )
    if test_config is None or "SQLALCHEMY_DATABASE_URI" not in test_config:
        app.config.update(settings_from_environment(instance_path))
    else:
        app.config.update(settings_from_environment_for_tests(instance_path, test_config))
    if test_config:
        app.config.update(test_config)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {}))
        options.update(sqlite_engine_options())
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options

    from fiptrial.limits import init_limits
    from fiptrial.routing import IdConverter

    # Every <int:...> in a URL is a database id: above PostgreSQL's integer it matches nothing
    # (404) instead of overflowing in the query (500); the OpenAPI document states the maximum.
    app.url_map.converters["int"] = IdConverter
    if int(app.config.get("TRUSTED_PROXIES") or 0) > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = int(app.config["TRUSTED_PROXIES"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    init_limits(app)

    from fiptrial.services.spool import InstanceRequest, remove_stale_spools

    # Uploads wait in instance/spool (0700), never in the system temp folder; spools that a
    # killed worker left behind go now.
    app.request_class = InstanceRequest
    remove_stale_spools(app)

    db.init_app(app)
    with app.app_context():
        configure_engine(db.engine)
    migrate.init_app(app, db, directory=str(PACKAGE_DIR / "migrations"))
    api.init_app(app)
    from flask_smorest.spec.plugins import integerconverter2paramschema

    api.register_converter(IdConverter, integerconverter2paramschema)

    from fiptrial.plugins.manager import init_plugins

    init_plugins(app)
    register_api(app)

    from fiptrial.cli.commands import register_commands
    from fiptrial.web import register_web

    register_web(app)
    from fiptrial.web.privacy import register_privacy  # read log, 2FA, approvals

    register_privacy(app)
    register_commands(app)
    return app


def settings_from_environment_for_tests(
    instance_path: Path, test_config: dict[str, Any]
) -> dict[str, Any]:
    """Tests bring their own database and keys; never create key files for them."""
    return {
        "SECRET_KEY": test_config.get("SECRET_KEY", "test-secret"),
        "PSEUDONYM_KEY": test_config.get("PSEUDONYM_KEY", "test-pseudonym-key"),
        "AUDIT_KEY": test_config.get("AUDIT_KEY", "test-audit-key"),
        "SESSION_LIFETIME_MINUTES": 30,
        "IMPORT_MAX_BYTES": 200 * 1024 * 1024,
        # Tests that sign in by password alone keep working; the two-factor tests set the
        # production roles (config.settings_from_environment) themselves.
        "TWO_FACTOR_ROLES": tuple(test_config.get("TWO_FACTOR_ROLES", ())),
        "SMALL_CELL_THRESHOLD": 5,
        "COHORT_MIN_SIZE": 20,
    }
