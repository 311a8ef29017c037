"""The platform as deployed: gunicorn with 4 workers on PostgreSQL, 16 concurrent clients.

One test, because the steps share an expensive server: a fresh database migrated with
``fiptrial db upgrade``, tokens from ``fiptrial token create``, gunicorn on a free loopback
port, a trial, two sites, a consent form and participants set up through the API; then every
eligible participant's allocation is asked for twice at once. What must hold:

* exactly one 201 and one 409 (carrying the same allocation) per participant, and no 5xx;
* within each stratum, sequences 1..N and each arm within one block of its exact share;
* a site coordinator cannot read or allocate another site's participants;
* the audit chain verifies through the API and ``fiptrial audit verify``; after a superuser
  alters one entry behind the trigger's back, ``fiptrial audit verify`` exits 1 naming it;
* a ``pg_dump`` of the database holds none of the BSNs used.

Traffic goes to 127.0.0.1 only; every loop is bounded in count and time, and gunicorn is
always stopped.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import create_engine, text

from fiptrial.services.trials import fip_design

pytestmark = [pytest.mark.postgresql, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CLIENTS = 16
WORKERS = 4
REQUEST_TIMEOUT = 30
PHASE_TIMEOUT = 60
PER_STRATUM = 12
TODAY = date.today()
PEOPLE = {  # stratum shapes: (birth_date, benefit_start)
    "older_long": (date(1980, 5, 17), date(2020, 1, 1)),
    "younger_short": (date(1990, 3, 9), date(2025, 1, 1)),
}


# --- Server -------------------------------------------------------------------------------------


@dataclass
class Server:
    base: str
    database_url: str
    env: dict[str, str]
    log: Path

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(BIN / "fiptrial"), *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"fiptrial {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
            )
        return result

    def token(self, *args: str) -> str:
        return self.cli("token", "create", *args).stdout.strip().splitlines()[-1]


def _core_conftest(request: pytest.FixtureRequest) -> Any:
    """tests/conftest.py as pytest loaded it (``import conftest`` may find another one)."""
    module = request.config.pluginmanager.get_plugin(str(ROOT / "tests" / "conftest.py"))
    assert module is not None, "tests/conftest.py is not loaded"
    return module


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_up(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"gunicorn exited with {process.returncode}:\n{log.read_text()}")
        try:
            if requests.get(f"{base}/health", timeout=5).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):
            pass
        time.sleep(0.3)
    raise AssertionError(f"gunicorn did not answer /health within 60 s:\n{log.read_text()}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    core = _core_conftest(request)
    core.require_postgres()
    name = f"fiptrial_load_{os.getpid()}"
    database_url = core.recreate_postgres_database(name)
    env = {
        **os.environ,
        "FIPTRIAL_DATABASE_URL": database_url,
        "FIPTRIAL_PSEUDONYM_KEY": "load-test-pseudonym-key-of-32-bytes-or-more",
        "FIPTRIAL_SECRET_KEY": "load-test-secret-key-of-32-bytes-or-more",
        "FIPTRIAL_AUDIT_KEY": "load-test-audit-key-of-32-bytes-or-more",
        "FIPTRIAL_INSTANCE_PATH": str(tmp_path / "instance"),
    }
    port = _free_port()
    log = tmp_path / "gunicorn.log"
    server = Server(f"http://127.0.0.1:{port}", database_url, env, log)
    process = None
    try:
        server.cli("db", "upgrade")
        with log.open("wb") as sink:
            process = subprocess.Popen(
                [
                    str(BIN / "gunicorn"),
                    "-w",
                    str(WORKERS),
                    "-b",
                    f"127.0.0.1:{port}",
                    "--timeout",
                    "60",
                    "--graceful-timeout",
                    "10",
                    "wsgi:app",
                ],
                cwd=ROOT,
                env=env,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        _wait_until_up(server.base, process, log)
        yield server
    finally:
        if process is not None:
            _stop(process)
        admin = create_engine(core.POSTGRES_SERVER_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# --- Clients ------------------------------------------------------------------------------------


class Clients:
    """Up to 16 threads, each with its own HTTP session; every response is kept for the 5xx
    check. Calls are bounded by a per-request and a per-phase timeout."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.local = threading.local()
        self.statuses: Counter[int] = Counter()
        self.lock = threading.Lock()

    def call(self, method: str, path: str, token: str, body: Any = None) -> requests.Response:
        session = getattr(self.local, "session", None)
        if session is None:
            session = self.local.session = requests.Session()
        response = session.request(
            method,
            self.base + path,
            json=body,
            timeout=REQUEST_TIMEOUT,
            headers={"Authorization": f"Bearer {token}"},
        )
        with self.lock:
            self.statuses[response.status_code] += 1
        return response

    def run_all(self, tasks: list[Callable[[], Any]]) -> list[Any]:
        with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
            futures = [pool.submit(task) for task in tasks]
            deadline = time.monotonic() + PHASE_TIMEOUT
            return [f.result(timeout=max(0.1, deadline - time.monotonic())) for f in futures]


def _bsns(count: int, start: int) -> list[str]:
    from stdnum.nl import bsn

    found: list[str] = []
    number = start
    while len(found) < count:
        number += 1
        if bsn.is_valid(str(number)):
            found.append(str(number))
    return found


def _second_plugin() -> str:
    names = {ep.name for ep in metadata.entry_points(group="fiptrial.plugins")}
    return "template" if "template" in names else "brabantse_wal"


# --- The test -----------------------------------------------------------------------------------


def test_gunicorn_under_concurrent_clients(server: Server) -> None:
    started = time.monotonic()
    admin = server.token("--role", "research_admin")
    clients = Clients(server.base)
    call = clients.call

    trial = "loadtest"
    response = call("POST", "/api/v1/trials", admin, fip_design(trial, "Load test"))
    assert response.status_code == 201, response.text
    sites = {"north": "brabantse_wal", "south": _second_plugin()}
    for code, plugin in sites.items():
        response = call(
            "POST",
            f"/api/v1/trials/{trial}/sites",
            admin,
            {"code": code, "name": f"Site {code}", "plugin": plugin},
        )
        assert response.status_code == 201, response.text
    response = call(
        "POST",
        f"/api/v1/trials/{trial}/consent-forms",
        admin,
        {"version": "v1", "valid_from": "2026-01-01"},
    )
    assert response.status_code == 201, response.text
    coordinator = server.token("--role", "site_coordinator", "--site", "north")

    # Participants: two strata per site, and one ineligible person per site (< 6 months).
    people = []
    for site in sites:
        for birth_date, benefit_start in PEOPLE.values():
            people += [(site, birth_date, benefit_start)] * PER_STRATUM
        people.append((site, date(1985, 1, 1), date(TODAY.year, TODAY.month, 1)))
    bsns = _bsns(len(people), start=300_000_000 + (os.getpid() % 1000) * 10_000)

    def register(index: int) -> dict[str, Any]:
        site, birth_date, benefit_start = people[index]
        response = call(
            "POST",
            f"/api/v1/sites/{site}/participants",
            admin,
            {
                "bsn": bsns[index],
                "birth_date": birth_date.isoformat(),
                "sex": "female",
                "benefit_start": benefit_start.isoformat(),
            },
        )
        assert response.status_code == 201, response.text
        return {"site": site, **response.json()}

    registered = clients.run_all([lambda i=i: register(i) for i in range(len(people))])
    eligible = [p for p in registered if p["eligible"]]
    ineligible = [p for p in registered if not p["eligible"]]
    assert len(eligible) == len(sites) * len(PEOPLE) * PER_STRATUM and len(ineligible) == 2

    def give_consent(participant: dict[str, Any]) -> None:
        response = call(
            "POST",
            f"/api/v1/participants/{participant['id']}/consents",
            admin,
            {"status": "given", "version": "v1", "date": TODAY.isoformat()},
        )
        assert response.status_code == 201, response.text

    clients.run_all([lambda p=p: give_consent(p) for p in eligible])

    # Every eligible participant asked for twice at once; the ineligible ones once.
    def ask(participant_id: int, together: threading.Barrier | None) -> tuple[int, int, Any]:
        if together is not None:
            together.wait(timeout=PHASE_TIMEOUT)
        response = call("POST", f"/api/v1/participants/{participant_id}/allocation", admin)
        return participant_id, response.status_code, response.json()

    tasks: list[Callable[[], Any]] = []
    for participant in eligible:
        pair = threading.Barrier(2)
        tasks += [lambda p=participant["id"], b=pair: ask(p, b)] * 2
    tasks += [lambda p=participant["id"]: ask(p, None) for participant in ineligible]
    answers = clients.run_all(tasks)

    by_participant: dict[int, list[tuple[int, Any]]] = defaultdict(list)
    for participant_id, status, body in answers:
        by_participant[participant_id].append((status, body))
    allocations = {}
    for participant in eligible:
        attempts = sorted(by_participant[participant["id"]], key=lambda a: a[0])
        assert [status for status, _ in attempts] == [201, 409], attempts
        created, refused = attempts[0][1], attempts[1][1]["error"]
        assert refused["code"] == "already_allocated"
        assert (refused["allocation"]["arm"], refused["allocation"]["sequence"]) == (
            created["arm"],
            created["sequence"],
        )
        assert created["stratum"] == participant["stratum"]
        allocations[participant["id"]] = created
    for participant in ineligible:
        [(status, body)] = by_participant[participant["id"]]
        assert (status, body["error"]["code"]) == (422, "not_eligible")

    by_stratum: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for allocation in allocations.values():
        by_stratum[allocation["stratum"]].append(allocation)
    assert len(by_stratum) == len(sites) * len(PEOPLE)
    for stratum, rows in by_stratum.items():
        assert sorted(r["sequence"] for r in rows) == list(range(1, len(rows) + 1)), stratum
        arms = Counter(r["arm"] for r in rows)
        # Within one block of the exact 1:4 share: the largest block (multiplier 2) holds
        # 2 FIP and 8 control places, so neither arm can be further off than that.
        assert abs(arms["fip"] - len(rows) / 5) <= 2, (stratum, arms)
        assert abs(arms["control"] - len(rows) * 4 / 5) <= 8, (stratum, arms)

    # The paginated list of a site holds exactly its allocations.
    listed = call("GET", "/api/v1/sites/north/allocations", admin).json()
    north = {p["id"] for p in eligible if p["site"] == "north"}
    assert {item["participant"] for item in listed["items"]} == north

    # A site coordinator of north sees north, and nothing of south.
    own = next(p for p in eligible if p["site"] == "north")
    other = next(p for p in eligible if p["site"] == "south")
    assert call("GET", f"/api/v1/participants/{own['id']}", coordinator).status_code == 200
    assert call("GET", "/api/v1/sites/north/allocations", coordinator).status_code == 200
    for method, path in [
        ("GET", f"/api/v1/participants/{other['id']}"),
        ("GET", f"/api/v1/participants/{other['id']}/allocation"),
        ("POST", f"/api/v1/participants/{other['id']}/allocation"),
        ("GET", f"/api/v1/participants/{other['id']}/consents"),
        ("GET", "/api/v1/sites/south"),
        ("GET", "/api/v1/sites/south/participants"),
        ("GET", "/api/v1/sites/south/allocations"),
    ]:
        response = call(method, path, coordinator)
        assert response.status_code in (403, 404), (method, path, response.status_code)
        assert other["stratum"] not in response.text  # nothing of the participant leaks

    assert not [s for s in clients.statuses if s >= 500], clients.statuses

    # The audit chain: through the API and the CLI.
    verify = call("GET", "/api/v1/audit/verify", admin)
    assert verify.status_code == 200 and verify.json()["ok"] is True, verify.text
    expected_entries = len(registered) + len(eligible) * 2  # registrations, consents, allocations
    assert verify.json()["entries"] > expected_entries
    assert json.loads(server.cli("audit", "verify").stdout)["ok"] is True

    # A superuser alters one allocation entry behind the trigger's back: detected, and named.
    engine = create_engine(server.database_url)
    try:
        with engine.begin() as connection:
            target = connection.execute(
                text(
                    "SELECT id FROM audit_entry WHERE action = 'allocation.created' "
                    'AND data LIKE \'%"arm":"control"%\' ORDER BY id LIMIT 1 OFFSET 5'
                )
            ).scalar_one()
        with pytest.raises(Exception, match="append-only"), engine.begin() as connection:
            connection.execute(
                text("UPDATE audit_entry SET actor = 'x' WHERE id = :id"), {"id": target}
            )
        with engine.begin() as connection:
            connection.execute(text("SET LOCAL session_replication_role = replica"))
            changed = connection.execute(
                text(
                    'UPDATE audit_entry SET data = replace(data, \'"arm":"control"\', '
                    '\'"arm":"fip"\') WHERE id = :id'
                ),
                {"id": target},
            ).rowcount
            assert changed == 1
    finally:
        engine.dispose()
    broken = server.cli("audit", "verify", check=False)
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert json.loads(broken.stdout.strip().splitlines()[-1])["first_broken"] == target
    assert f"entry {target}" in broken.stderr

    # A dump of the whole database holds no BSN (pseudonyms only).
    dump = _dump(server.database_url)
    assert trial in dump and "allocation.created" in dump  # the dump does hold the data
    leaked = [b for b in bsns if re.search(rf"(?<![0-9A-Fa-f]){b}(?![0-9A-Fa-f])", dump)]
    assert leaked == [], f"BSNs found in the database dump: {leaked}"

    log = server.log.read_text(errors="replace")
    assert "Traceback" not in log and "[CRITICAL]" not in log, log[-5000:]
    assert time.monotonic() - started < 120


def _dump(database_url: str) -> str:
    """``pg_dump`` of the whole database, or every table read out when pg_dump is missing."""
    libpq_url = database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    pg_dump = "/usr/bin/pg_dump" if Path("/usr/bin/pg_dump").exists() else shutil.which("pg_dump")
    if pg_dump:
        result = subprocess.run(
            [pg_dump, "--no-owner", "--dbname", libpq_url],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            tables = (
                connection.execute(
                    text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
                )
                .scalars()
                .all()
            )
            return "\n".join(
                repr(row)
                for table in tables
                for row in connection.execute(text(f'SELECT * FROM "{table}"'))
            )
    finally:
        engine.dispose()
