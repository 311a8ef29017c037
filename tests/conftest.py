"""Fixtures for the platform's tests: an app on a throwaway database, on SQLite and PostgreSQL.

Every database test runs twice: on SQLite (a copy of a migrated template file) and on the real
PostgreSQL server (marker ``postgresql``; a database migrated once per session and emptied
between tests). Each test process builds the app once per database and resets it between
tests (see ``SharedApp``). Without a reachable server the PostgreSQL runs are skipped, except under
CI=true, where they fail: CI must never pass on SQLite alone.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text

POSTGRES_SERVER_URL = os.environ.get(
    "FIPTRIAL_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
# At least 32 bytes each, as the platform demands of every key it reads from the environment.
TEST_KEYS = {
    "SECRET_KEY": "test-secret-key-of-thirty-two-bytes-or-more",
    "PSEUDONYM_KEY": "test-pseudonym-key-of-thirty-two-bytes-or-more",
    "AUDIT_KEY": "test-audit-key-of-thirty-two-bytes-or-more",
}
# The tests build sites of a few participants; the lottery's default minimum of 20 is tested
# with its own app in tests/core/test_lottery.py.
TEST_SETTINGS = {"COHORT_MIN_SIZE": 2}
# National test BSNs of RvIG and the public examples (shared/domain/README.md).
TEST_BSNS = ["999998523", "999998535", "999993653", "999990019", "123456782", "111222333"]


def make_app(database_url: str, **extra: Any) -> Flask:
    from fiptrial import create_app

    return create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": database_url,
            **TEST_KEYS,
            **TEST_SETTINGS,
            **extra,
        }
    )


def migrate(app: Flask) -> None:
    from flask_migrate import upgrade

    with app.app_context():
        upgrade()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Modules with a slow test (marker ``slow`` or ``browser``) run first, each kept whole.

    The test workers then share the long tests out from the start; in collection order the last
    slow module could leave one worker running it long after the others are done. A module stays
    in one piece, so that its module fixtures are built once.
    """
    slow_modules = {
        item.module
        for item in items
        if item.get_closest_marker("slow") or item.get_closest_marker("browser")
    }
    items.sort(key=lambda item: item.module not in slow_modules)


# --- SQLite -----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.sqlite"
    app = make_app(f"sqlite:///{path}")
    migrate(app)
    with app.app_context():
        from fiptrial.extensions import db

        db.engine.dispose()
    return path


# The three-year story at 200 clients: the demo tests read it and the browser demo journey
# serves it. It takes seconds to play, so it is played once per run, by whichever test process
# asks first (the others wait on a file lock), and every test module gets its own copy.
STORY_PARTICIPANTS, STORY_SEED = 200, 2014


@dataclass(frozen=True)
class PlayedStory:
    """The played story's database and the summary ``play`` returned."""

    sqlite_file: Path
    summary: dict[str, Any]

    def app(self, folder: Path, **config: Any) -> Flask:
        """An app on a copy of the story's database in ``folder``, for one module to read and
        change, with the keys the story was played with (its pseudonyms and audit chain)."""
        from fiptrial import create_app

        path = folder / "story.sqlite"
        restore_sqlite(self.sqlite_file, path)
        return create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", **TEST_KEYS, **config})


@pytest.fixture(scope="session")
def played_story(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path, worker_id: str
) -> PlayedStory:
    from filelock import FileLock

    # Under xdist every process has its own base temp folder below one shared by the run.
    shared = tmp_path_factory.getbasetemp()
    if worker_id != "master":
        shared = shared.parent
    path, summary_file = shared / "story.sqlite", shared / "story.json"
    with FileLock(f"{path}.lock"):
        if not summary_file.is_file():
            shutil.copy(sqlite_template, path)
            summary_file.write_text(json.dumps(_play_story(path)))
    return PlayedStory(path, json.loads(summary_file.read_text()))


def _play_story(path: Path) -> dict[str, Any]:
    from fiptrial import create_app
    from fiptrial.demo.story import play
    from fiptrial.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", **TEST_KEYS})
    with app.app_context():
        summary = play(participants=STORY_PARTICIPANTS, seed=STORY_SEED)
        db.session.remove()
        db.engine.dispose()
    return summary


# --- PostgreSQL -------------------------------------------------------------------------------


def postgres_reachable() -> str | None:
    try:
        engine = create_engine(POSTGRES_SERVER_URL, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as error:
        return str(error).splitlines()[0]


def require_postgres() -> None:
    problem = postgres_reachable()
    if problem is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"PostgreSQL is not reachable under CI=true: {problem}")
    pytest.skip(f"PostgreSQL is not reachable: {problem}")


def postgres_database_url(name: str) -> str:
    return POSTGRES_SERVER_URL.rsplit("/", 1)[0] + "/" + name


def recreate_postgres_database(name: str) -> str:
    admin = create_engine(POSTGRES_SERVER_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(
            text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
            {"n": name},
        )
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
        # A test database needs no durability: a commit need not wait for its WAL to reach disk.
        connection.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
    admin.dispose()
    return postgres_database_url(name)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    require_postgres()
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    url = recreate_postgres_database(f"fiptrial_test_{worker}_{os.getpid()}")
    migrate(make_app(url))
    yield url
    engine = _postgres_engines.pop(url, None)
    if engine is not None:
        engine.dispose()
    admin = create_engine(POSTGRES_SERVER_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
    admin.dispose()


_postgres_engines: dict[str, Any] = {}


def _public_tables(connection: Any) -> list[str]:
    """The application's tables (not Alembic's), in name order."""
    return list(
        connection.execute(
            text(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                "AND tablename <> 'alembic_version' ORDER BY tablename"
            )
        ).scalars()
    )


def empty_postgres(url: str) -> None:
    """Empty every table (audit triggers bypassed as a superuser may) and reset the chain.

    Only the tables that hold rows are emptied, with DELETE: TRUNCATE gives each of the ~45
    tables and its indexes new files, which cost more than the test that follows. The sequences
    a test used start again where RESTART IDENTITY would start them. One engine per database
    and test process, so that no test pays for a new connection here.
    """
    engine = _postgres_engines.get(url)
    if engine is None:
        engine = _postgres_engines[url] = create_engine(url)
    with engine.begin() as connection:
        tables = _public_tables(connection)
        holding_rows = connection.execute(
            text(
                " UNION ALL ".join(
                    f"SELECT '{t}' WHERE EXISTS (SELECT 1 FROM \"{t}\")" for t in tables
                )
            )
        ).scalars()
        connection.execute(text("SET LOCAL session_replication_role = replica"))
        for table in holding_rows.all():
            connection.execute(text(f'DELETE FROM "{table}"'))
        connection.execute(
            text(
                "SELECT setval(format('%I.%I', schemaname, sequencename), start_value, false) "
                "FROM pg_sequences WHERE schemaname = 'public' AND last_value IS NOT NULL"
            )
        )
        from fiptrial.services.audit import GENESIS_HASH, head_mac

        key = TEST_KEYS["AUDIT_KEY"].encode()

        connection.execute(
            text(
                "INSERT INTO audit_head (id, last_id, last_hash, keyed_from, mac) "
                "VALUES (1, 0, :h, 1, :mac)"
            ),
            {
                "h": GENESIS_HASH,
                "mac": head_mac(0, GENESIS_HASH, 1, key),
            },
        )


# --- The app ----------------------------------------------------------------------------------

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)]


# Building the app (about 90 URL rules compiled, the OpenAPI document generated, the plugins
# found) costs more than most tests: each test process builds it once per database and resets
# it between tests (its database, configuration, request hooks, extensions, login counts).
# FIPTRIAL_TEST_FRESH_APP=1 builds a fresh one for every test instead, to rule the sharing out
# when a test fails only in company.
FRESH_APP_PER_TEST = os.environ.get("FIPTRIAL_TEST_FRESH_APP") == "1"
#: The Flask attributes that tests (tests/security/security_world.py) or late registrations
#: change; restored after every test.
APP_HOOKS = (
    "before_request_funcs",
    "after_request_funcs",
    "teardown_request_funcs",
    "teardown_appcontext_funcs",
    "url_value_preprocessors",
    "url_default_functions",
    "template_context_processors",
    "error_handler_spec",
)


def _copied(config: dict[str, Any]) -> dict[str, Any]:
    """A copy that a test cannot change in place (modules and the like are kept as they are)."""
    copied = {}
    for key, value in config.items():
        try:
            copied[key] = copy.deepcopy(value)
        except TypeError:
            copied[key] = value
    return copied


def _containers_copied(value: Any) -> Any:
    """The dicts and lists copied (defaultdicts keep their factory); what they hold is kept."""
    if isinstance(value, dict):
        copied = copy.copy(value)  # same class, default_factory included
        copied.clear()
        copied.update({key: _containers_copied(item) for key, item in value.items()})
        return copied
    if isinstance(value, list):
        return [_containers_copied(item) for item in value]
    return value


@dataclass
class SharedApp:
    """A test process's app on one database, with what a test may change as it was built."""

    app: Flask
    config: dict[str, Any]
    hooks: dict[str, Any]
    extensions: dict[str, Any]

    @classmethod
    def build(cls, database_url: str) -> SharedApp:
        app = make_app(database_url)
        hooks = {name: _containers_copied(getattr(app, name)) for name in APP_HOOKS}
        return cls(app, _copied(dict(app.config)), hooks, dict(app.extensions))

    def reset(self) -> None:
        """Put back what the last test changed; empty the login counts (Flask-Limiter)."""
        from fiptrial.limits import limiter

        self.app.config.clear()
        self.app.config.update(_copied(self.config))
        for name, value in self.hooks.items():
            setattr(self.app, name, _containers_copied(value))
        self.app.extensions.clear()
        self.app.extensions.update(self.extensions)
        limiter.reset()


@pytest.fixture(scope="session")
def shared_apps() -> dict[str, SharedApp]:
    return {}


@pytest.fixture(scope="session")
def sqlite_shared_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("shared") / "fiptrial.sqlite"


def restore_sqlite(template: Path, path: Path) -> None:
    """Make ``path`` a copy of the migrated template through SQLite's backup API, which takes
    SQLite's locks: a connection still open on it (a test's own app) sees the new content."""
    source = sqlite3.connect(template)
    target = sqlite3.connect(path)
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        if FRESH_APP_PER_TEST:
            path = tmp_path / "fiptrial.sqlite"
            shutil.copy(template, path)
        else:
            path = request.getfixturevalue("sqlite_shared_path")
            restore_sqlite(template, path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("postgres_url")
    empty_postgres(url)
    return url


@pytest.fixture(scope="session", autouse=True)
def process_instance_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """This test process's instance folder (``FIPTRIAL_INSTANCE_PATH``), for every app it builds
    and every command it starts without one of their own: the test processes run at once, and
    in one shared folder (the checkout's ``instance``) they would spool into, and delete, each
    other's uploads."""
    folder = tmp_path_factory.mktemp("instance")
    before = os.environ.get("FIPTRIAL_INSTANCE_PATH")
    os.environ["FIPTRIAL_INSTANCE_PATH"] = str(folder)
    yield folder
    if before is None:
        os.environ.pop("FIPTRIAL_INSTANCE_PATH", None)
    else:
        os.environ["FIPTRIAL_INSTANCE_PATH"] = before


@pytest.fixture
def app(database_url: str, shared_apps: dict[str, SharedApp], tmp_path: Path) -> Iterator[Flask]:
    """The test process's app on the test's database, with an instance folder of the test's own
    (``tmp_path / "instance"``): the files one test spools are never seen by the next."""
    from fiptrial.extensions import db

    if FRESH_APP_PER_TEST:
        application = make_app(database_url)
    else:
        if database_url not in shared_apps:
            shared_apps[database_url] = SharedApp.build(database_url)
        shared = shared_apps[database_url]
        shared.reset()
        application = shared.app
    application.instance_path = str(tmp_path / "instance")
    try:
        with application.app_context():
            yield application
            db.session.remove()
            db.engine.dispose()
    finally:
        if not FRESH_APP_PER_TEST:
            shared.reset()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> Any:
    return app.test_cli_runner()


# --- Seeded snapshots -------------------------------------------------------------------------


@dataclass
class Snapshot:
    """A seeded database state kept by one test process: a SQLite file or a PostgreSQL schema
    holding a copy of every table, the sequences' values, what the seed returned, and where the
    seed left the builder's BSNs (a later participant must not reuse one)."""

    result: Any
    sqlite_file: Path | None = None
    postgres_schema: str | None = None
    sequences: dict[str, int] = field(default_factory=dict)
    last_bsn: int | None = None


class SeededSnapshots:
    """Seeded states that many tests start from, built once per test process and backend.

    The first test that asks for a state runs its seed (the demo plus a day of work takes
    seconds); every later one gets a copy restored into its freshly emptied database instead.
    What the seed writes outside the database is not kept: a seed for this must write nothing
    else.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.kept: dict[tuple[str, str], Snapshot] = {}

    def load(self, app: Flask, name: str, seed: Any, builder: Any = None) -> Any:
        """The state ``name`` in ``app``'s (empty) database: seeded, or restored from a copy.

        ``builder``, the test's ``TrialBuilder`` where the seed registers participants with
        it, goes on from the seed's last BSN after a restore as it would after the seed.
        """
        from fiptrial.extensions import db
        from fiptrial.models import AuditEntry, User

        url = app.config["SQLALCHEMY_DATABASE_URI"]
        backend = "sqlite" if url.startswith("sqlite") else "postgresql"
        # A restore replaces the whole database (on SQLite silently): whatever the test wrote
        # before asking for the state would be lost, so it must not have written anything.
        written = db.session.query(AuditEntry).count() + db.session.query(User).count()
        assert written == 0, f"the seeded state {name!r} must be the test's first write"
        kept = self.kept.get((backend, name))
        if kept is not None:
            db.session.remove()
            if kept.sqlite_file is not None:
                restore_sqlite(kept.sqlite_file, Path(db.engine.url.database or ""))
            else:
                _restore_postgres(db.engine, kept)
            if builder is not None and kept.last_bsn is not None:
                builder._bsn = kept.last_bsn
            return copy.deepcopy(kept.result)
        result = seed()
        db.session.remove()
        if backend == "sqlite":
            kept = Snapshot(result, sqlite_file=self.folder / f"{name}.sqlite")
            restore_sqlite(Path(db.engine.url.database or ""), kept.sqlite_file)
        else:
            kept = _keep_postgres(db.engine, name, result)
        kept.last_bsn = builder._bsn if builder is not None else None
        self.kept[(backend, name)] = kept
        return copy.deepcopy(result)


def _keep_postgres(engine: Any, name: str, result: Any) -> Snapshot:
    schema = f"snapshot_{name}"
    with engine.begin() as connection:
        connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        for table in _public_tables(connection):
            connection.execute(text(f'CREATE TABLE "{schema}"."{table}" AS TABLE public."{table}"'))
        sequences = dict(
            connection.execute(
                text(
                    "SELECT sequencename, last_value FROM pg_sequences "
                    "WHERE schemaname = 'public' AND last_value IS NOT NULL"
                )
            ).all()
        )
    return Snapshot(result, postgres_schema=schema, sequences=sequences)


def _restore_postgres(engine: Any, kept: Snapshot) -> None:
    """Copy the kept tables into the emptied database (triggers off, as ``empty_postgres``
    empties it) and set the sequences where the seed left them."""
    with engine.begin() as connection:
        connection.execute(text("SET LOCAL session_replication_role = replica"))
        connection.execute(text("DELETE FROM audit_head"))  # the genesis row empty_postgres wrote
        for table in _public_tables(connection):
            connection.execute(
                text(
                    f'INSERT INTO public."{table}" OVERRIDING SYSTEM VALUE '
                    f'SELECT * FROM "{kept.postgres_schema}"."{table}"'
                )
            )
        for sequence, value in kept.sequences.items():
            connection.execute(text("SELECT setval(:s, :v, true)"), {"s": sequence, "v": value})


@pytest.fixture(scope="session")
def seeded_snapshots(tmp_path_factory: pytest.TempPathFactory) -> SeededSnapshots:
    return SeededSnapshots(tmp_path_factory.mktemp("snapshots"))


# --- Builders ---------------------------------------------------------------------------------


class TrialBuilder:
    """Sets up trials, sites and participants through the services, as an operator would."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._bsn = 100000000

    def trial(self, code: str = "t1", **overrides: Any) -> Any:
        from fiptrial.services import consent, trials

        data = trials.fip_design(code, "Test trial", **overrides)
        trial = trials.create_trial(data, actor="test")
        consent.register_form(
            trial, version="v1", valid_from=date(2020, 1, 1), requires_reconsent=False, actor="test"
        )
        return trial

    def site(
        self, trial: Any, code: str = "bw", plugin: str = "brabantse_wal", **extra: Any
    ) -> Any:
        from fiptrial.services import trials

        return trials.add_site(trial, {"code": code, "plugin": plugin, **extra}, actor="test")

    def next_bsn(self) -> str:
        """A fresh valid BSN (elfproef) for each call."""
        from stdnum.nl import bsn

        while True:
            self._bsn += 1
            candidate = str(self._bsn).zfill(9)
            if bsn.is_valid(candidate):
                return candidate

    def participant(self, site: Any, *, consent_given: bool = True, **overrides: Any) -> Any:
        from fiptrial.services import consent, participants

        data = {
            "bsn": self.next_bsn(),
            "birth_date": date(1980, 5, 17),
            "sex": "female",
            "benefit_start": date(2020, 1, 1),
            "registered_on": date(2026, 11, 2),
        }
        data.update(overrides)
        participant = participants.register(site, data, actor="test")
        if consent_given and participant.eligible and site.trial.consent_design == "consent_first":
            consent.record(
                participant, status="given", version="v1", on=date(2026, 11, 2), actor="test"
            )
        return participant

    def token(self, role: str, site: Any = None, user: Any = None) -> str:
        from fiptrial.services.tokens import create_token

        return create_token(role=role, site=site, user=user, actor="test")[1]


@pytest.fixture
def build(app: Flask) -> TrialBuilder:
    return TrialBuilder(app)


@pytest.fixture
def bearer() -> Any:
    """``bearer(token)`` gives the Authorization header of an API call."""
    return lambda token: {"Authorization": f"Bearer {token}"}


@pytest.fixture
def instance_folder(app: Flask) -> Path:
    """The app's instance folder, the test's own (see ``app``): its spooled uploads land there."""
    return Path(app.instance_path)
