"""kill -9 during imports: a CLI import and an API import (a real server process) killed while
they run leave nothing half-written (no batch, no participant: the import is one transaction),
and after a restart no spool with BSNs is left in the instance folder. Several trials each."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from stdnum.nl import bsn as stdnum_bsn

from cli_support import FIPTRIAL, cli_environment
from fiptrial.extensions import db
from fiptrial.models import ImportBatch, Participant

# Each trial starts the platform in new processes and kills one: seconds a trial.
pytestmark = pytest.mark.slow

ROWS = 30_000
TRIALS = 3
HEADER = (
    "Registratienummer;BSN;Geboortedatum;Geslacht;Gemeentecode;Aanvangsdatum uitkering;"
    "Einddatum uitkering;Reden beëindiging;Omschrijving reden;Nieuwe gemeentecode"
)


def _export(rows: int) -> tuple[bytes, str]:
    """A Brabantse Wal export of ``rows`` running benefits; also its first BSN (the canary)."""
    lines, number, first = [HEADER], 760_000_000, ""
    while len(lines) <= rows:
        number += 1
        bsn = str(number)
        if stdnum_bsn.is_valid(bsn):
            first = first or bsn
            lines.append(f"{len(lines)};{bsn};17-05-1980;V;0748;01-01-2020;;;;")
    return ("\r\n".join(lines) + "\r\n").encode("cp1252"), first


@pytest.fixture(scope="module")
def export() -> tuple[bytes, str]:
    return _export(ROWS)


@pytest.fixture
def world(app: Any, build: Any, tmp_path: Path) -> dict[str, Any]:
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("the kill -9 trials run on SQLite (one transaction there as on PostgreSQL)")
    build.site(build.trial())
    token = build.token("research_admin")
    instance = tmp_path / "instance"
    env = cli_environment(app, instance)
    db.session.commit()
    db.session.remove()
    return {"env": env, "instance": instance, "token": token}


def _nothing_half_written() -> None:
    db.session.remove()
    assert db.session.query(ImportBatch).count() == 0
    assert db.session.query(Participant).count() == 0


def _kill(process: subprocess.Popen[bytes]) -> None:
    assert process.poll() is None, "the import ended before the kill: make the file larger"
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


def _files_with(folder: Path, canary: bytes) -> list[Path]:
    if not folder.exists():
        return []
    return [p for p in folder.rglob("*") if p.is_file() and canary in p.read_bytes()]


def _restart(world: dict[str, Any]) -> None:
    """Start the application again (a worker after the crash): its start-up cleans spools."""
    result = subprocess.run(
        [*FIPTRIAL, "routes"], env=world["env"], capture_output=True, timeout=120
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("trial", range(TRIALS))
def test_kill_9_during_a_cli_import(
    world: dict[str, Any], export: tuple[bytes, str], tmp_path: Path, trial: int
) -> None:
    content, canary = export
    source = tmp_path / "export.csv"
    source.write_bytes(content)
    process = subprocess.Popen(
        [*FIPTRIAL, "import-participants", "--site", "bw", str(source)],
        env=world["env"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    assert process.stderr is not None
    # Warnings may come first: read up to the first "5000 rows read ...", the import under way.
    for said in iter(process.stderr.readline, b""):
        if b"rows read" in said:
            break
    else:
        pytest.fail("the import ended without saying how far it had read")
    time.sleep(0.3 * trial)  # and then at another row each trial
    _kill(process)
    _nothing_half_written()
    _restart(world)
    assert _files_with(world["instance"], canary.encode()) == []


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _multipart(content: bytes) -> tuple[bytes, str]:
    boundary = "fiptrial-kill-test-boundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="export.csv"\r\nContent-Type: text/csv\r\n\r\n'
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


@pytest.mark.parametrize("trial", range(TRIALS))
def test_kill_9_during_an_api_import(
    world: dict[str, Any], export: tuple[bytes, str], trial: int
) -> None:
    content, canary = export
    port = _free_port()
    server = subprocess.Popen(
        [*FIPTRIAL, "run", "--host", "127.0.0.1", "--port", str(port)],
        env=world["env"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while True:
        try:
            urllib.request.urlopen(f"{base}/health", timeout=2).read()
            break
        except OSError:
            assert time.time() < deadline, "the server did not start"
            time.sleep(0.2)
    body, content_type = _multipart(content)
    request = urllib.request.Request(
        f"{base}/api/v1/sites/bw/participant-imports",
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {world['token']}", "Content-Type": content_type},
    )
    answers: list[Any] = []

    def send() -> None:
        try:
            answers.append(urllib.request.urlopen(request, timeout=300).status)
        except Exception as error:  # the server dies under the request
            answers.append(error)

    sender = threading.Thread(target=send)
    sender.start()
    spool = world["instance"] / "spool"
    deadline = time.time() + 60
    while not any(p.stat().st_size >= len(content) for p in spool.glob("api-*.spool")):
        assert time.time() < deadline, "the upload was never spooled"
        time.sleep(0.05)
    time.sleep(0.5 + trial * 0.5)  # the rows are being registered now
    _kill(server)
    sender.join(timeout=60)
    assert answers and not isinstance(answers[0], int), answers  # no answer: it was killed
    _nothing_half_written()
    assert _files_with(spool, canary.encode()) != []  # the killed worker left its spool ...
    _restart(world)
    assert _files_with(world["instance"], canary.encode()) == []  # ... start-up removed it
