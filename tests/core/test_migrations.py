"""The migrations are the schema: they must match the models and run both ways."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from fiptrial.extensions import db


def ours(obj: Any, name: str | None, type_: str, _reflected: bool, _compare_to: Any) -> bool:
    table = obj if type_ == "table" else getattr(obj, "table", None)
    table_name = getattr(table, "name", name) or ""
    return not table_name.startswith(("apscheduler_", "procrastinate_"))


def test_models_match_the_migrations(app: Any) -> None:
    with db.engine.connect() as connection:
        # APScheduler owns its job-store table, procrastinate its queue (PostgreSQL);
        # our metadata describes neither.
        context = MigrationContext.configure(connection, opts={"include_object": ours})
        differences = compare_metadata(context, db.metadata)
    assert differences == [], "run `fiptrial db migrate` and review the new revision"


def test_downgrade_to_base_and_upgrade_again(app: Any) -> None:
    downgrade(revision="base")
    with db.engine.connect() as connection:
        tables = set(db.inspect(connection).get_table_names()) - {"alembic_version"}
    assert tables == set()
    upgrade()
    with db.engine.connect() as connection:
        assert "audit_entry" in db.inspect(connection).get_table_names()
