"""PostgreSQL with the application's role not owning the tables (tools/postgres-app-role.sql,
README "PostgreSQL roles"): the platform works as that role, and that role can neither change
the audit trail nor switch off or bypass the triggers that guard it."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from fiptrial.extensions import db

ROLE_SQL = Path(__file__).resolve().parents[2] / "tools" / "postgres-app-role.sql"

ATTACKS = [
    ("ALTER TABLE audit_entry DISABLE TRIGGER ALL", "must be owner"),
    ("ALTER TABLE audit_head DISABLE TRIGGER audit_head_guard", "must be owner"),
    ("DROP TRIGGER audit_head_guard ON audit_head", "must be owner"),
    ("SET session_replication_role = replica", "permission denied"),
    ("UPDATE audit_entry SET actor = 'someone' WHERE id = 1", "permission denied"),
    ("DELETE FROM audit_entry WHERE id = 1", "permission denied"),
    ("TRUNCATE audit_entry", "permission denied"),
    ("DELETE FROM audit_head", "permission denied"),
    ("UPDATE audit_head SET last_id = 1", "only moves forward"),
    ("UPDATE audit_head SET keyed_from = keyed_from + 1, last_id = last_id + 1", "forward"),
    ("ALTER TABLE audit_entry ADD COLUMN x int", "must be owner"),
    ("CREATE TABLE evil (id int)", "permission denied"),
]


@pytest.fixture
def app_role(database_url: str) -> Any:
    """The role of tools/postgres-app-role.sql (a name of its own per test process), and the
    URL through which the application connects as it."""
    if not database_url.startswith("postgresql"):
        pytest.skip("a PostgreSQL set-up")
    role = f"fiptrial_app_{os.getpid()}"
    owner = create_engine(database_url)
    with owner.begin() as connection:
        connection.exec_driver_sql(ROLE_SQL.read_text().replace("fiptrial_app", role))
    url = make_url(database_url).set(username=role, password=None)
    yield role, url.render_as_string(hide_password=False)
    with owner.begin() as connection:
        connection.execute(text(f'DROP OWNED BY "{role}"'))
        connection.execute(text(f'DROP ROLE "{role}"'))
    owner.dispose()


@pytest.mark.postgresql
def test_the_platform_works_as_a_role_that_does_not_own_the_tables(app_role: Any, app: Any) -> None:
    from fiptrial import create_app
    from fiptrial.services import audit, consent, participants, randomisation, trials

    role, url = app_role
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": url,
            # tests/conftest.py signs the emptied head with the tests' audit key
            **{k: app.config[k] for k in ("SECRET_KEY", "PSEUDONYM_KEY", "AUDIT_KEY")},
        }
    )
    with app.app_context():
        assert db.session.execute(text("SELECT current_user")).scalar() == role
        trial = trials.create_trial(trials.fip_design("t1", "Trial"), actor="test")
        consent.register_form(
            trial, version="v1", valid_from=date(2020, 1, 1), requires_reconsent=False,
            actor="test",
        )  # fmt: skip
        site = trials.add_site(trial, {"code": "bw", "plugin": "brabantse_wal"}, actor="test")
        person = participants.register(
            site,
            {
                "bsn": "999998523",
                "birth_date": date(1980, 5, 17),
                "sex": "female",
                "benefit_start": date(2020, 1, 1),
                "registered_on": date(2026, 11, 2),
            },
            actor="test",
        )
        consent.record(person, status="given", version="v1", on=date(2026, 11, 2), actor="test")
        randomisation.allocate(person.id, actor="test")
        assert audit.verify_chain().ok
        assert randomisation.verify_trial(trial) == []
        db.session.remove()
        engine = db.engine
        refused = []
        for statement, message in ATTACKS:
            with pytest.raises(DBAPIError) as error, engine.begin() as connection:
                connection.execute(text(statement))
            assert message in str(error.value), (statement, str(error.value))
            refused.append(statement)
        assert refused == [statement for statement, _ in ATTACKS]
        assert audit.verify_chain().ok
        engine.dispose()


@pytest.mark.postgresql
def test_the_job_queue_works_as_the_application_role(
    app_role: Any, app: Any, build: Any, tmp_path: Path
) -> None:
    """The role's grants cover procrastinate's tables and functions: a queued import is
    deferred, taken by a worker (which registers itself and beats its heartbeat) and done."""
    import io

    from fiptrial import create_app
    from fiptrial.models import ImportTask, Participant
    from fiptrial.services import import_tasks, trials

    build.site(build.trial("t1"), "bw", "brabantse_wal")
    db.session.commit()
    _role, url = app_role
    role_app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": url,
            **{k: app.config[k] for k in ("SECRET_KEY", "PSEUDONYM_KEY", "AUDIT_KEY")},
        }
    )
    role_app.instance_path = str(tmp_path / "instance")
    content = (
        "Registratienummer;BSN;Geboortedatum;Geslacht;Gemeentecode;Aanvangsdatum uitkering;"
        "Einddatum uitkering;Reden beëindiging;Omschrijving reden;Nieuwe gemeentecode\r\n"
        "1;999998523;17-05-1980;V;0748;01-01-2020;;;;\r\n"
    ).encode("cp1252")
    with role_app.app_context():
        site = trials.get_site("bw")
        task_id = import_tasks.start_import(site, "participants", io.BytesIO(content), actor="t")
        assert db.session.get_one(ImportTask, task_id).job_id is not None
        assert import_tasks.wait(task_id)
        assert db.session.get_one(ImportTask, task_id).status == "done"
        assert db.session.query(Participant).count() == 1
        db.session.remove()
        db.engine.dispose()
