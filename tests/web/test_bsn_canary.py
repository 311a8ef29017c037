"""The BSN canary: known valid BSNs (elfproef) go in through every path -- API and web
registration, CLI, API and web imports of both plugins (misaligned rows included), the
lottery, a conversation note -- and then every table (every column), every response body, the
log and every file in the instance folder (spools and uploads included) are scanned for them.
A BSN may exist only as its keyed pseudonym."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, text
from stdnum.nl import bsn as stdnum_bsn

from fiptrial.extensions import db

PASSWORD = "canary-Wachtwoord-2026!"
BW_HEADER = (
    "Registratienummer;BSN;Geboortedatum;Geslacht;Gemeentecode;Aanvangsdatum uitkering;"
    "Einddatum uitkering;Reden beëindiging;Omschrijving reden;Nieuwe gemeentecode"
)
TEMPLATE_HEADER = (
    "bsn;geboortedatum;geslacht;gemeentecode;aanvang_uitkering;einde_uitkering;reden_beeindiging"
)


def canaries(count: int) -> list[str]:
    found, number = [], 734_000_000
    while len(found) < count:
        number += 1
        if stdnum_bsn.is_valid(str(number)):
            found.append(str(number))
    return found


class Responses:
    """Every response body the test saw, to be scanned at the end."""

    def __init__(self) -> None:
        self.bodies: list[str] = []

    def keep(self, response: Any) -> Any:
        self.bodies.append(response.get_data(as_text=True))
        return response


def _bw(rows: list[str]) -> bytes:
    return ("\r\n".join([BW_HEADER, *rows]) + "\r\n").encode("cp1252")


def _bw_row(n: int, bsn: str, end: str = "", reason: str = "") -> str:
    return f"{900000 + n};{bsn};17-05-1980;V;0748;01-01-2020;{end};{reason};;"


def _misaligned(bsn: str) -> str:
    return f"900101;;;{bsn};17-05-1980;V;0748;01-03-2019;;;"


def _scan_database() -> Iterator[tuple[str, str, str]]:
    """(table, column, text) for every value of every table."""
    names = inspect(db.engine).get_table_names()
    for table in names:
        result = db.session.execute(text(f'SELECT * FROM "{table}"'))
        columns = list(result.keys())
        for row in result:
            for column, value in zip(columns, row, strict=True):
                if value is None:
                    continue
                if isinstance(value, bytes | memoryview):
                    value = bytes(value).decode("latin-1")
                yield table, column, str(value)


def _scan_files(folder: Path) -> Iterator[tuple[Path, str]]:
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            yield path, path.read_bytes().decode("latin-1")


@pytest.fixture
def instance(app: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "instance"
    folder.mkdir()
    monkeypatch.setattr(app, "instance_path", str(folder))
    return folder


def test_no_bsn_survives_anywhere_but_as_its_pseudonym(
    app: Any,
    client: Any,
    build: Any,
    bearer: Any,
    runner: Any,
    tmp_path: Path,
    instance: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from web_support import csrf_token

    from fiptrial.services import caseload, import_tasks
    from fiptrial.services.users import create_user

    caplog.set_level(logging.DEBUG)
    bsns = canaries(24)
    seen = Responses()
    trial = build.trial()
    bw = build.site(trial, "bw", "brabantse_wal")
    build.site(trial, "breda", "template", municipalities=["GM0758"])
    km = caseload.add_client_manager(bw, "km_canary", capacity=50, actor="test")
    create_user(username="coord", role="site_coordinator", password=PASSWORD, site=bw, actor="t")
    admin = bearer(build.token("research_admin"))

    # 1. API registration, and the same BSN again (409).
    body = {
        "bsn": bsns[0], "birth_date": "1980-05-17", "sex": "female",
        "benefit_start": "2020-01-01", "municipality": "GM0748",
    }  # fmt: skip
    assert (
        seen.keep(
            client.post("/api/v1/sites/bw/participants", headers=admin, json=body)
        ).status_code
        == 201
    )
    assert (
        seen.keep(
            client.post("/api/v1/sites/bw/participants", headers=admin, json=body)
        ).status_code
        == 409
    )

    # 2. Web registration, a duplicate, and a search by BSN.
    page = seen.keep(client.get("/inloggen"))
    seen.keep(
        client.post(
            "/inloggen",
            data={"csrf_token": csrf_token(page.text), "username": "coord", "password": PASSWORD},
        )
    )
    for number in (bsns[1], bsns[1]):
        form = seen.keep(client.get("/locatie/bw/deelnemers/nieuw"))
        seen.keep(
            client.post(
                "/locatie/bw/deelnemers/nieuw",
                data={
                    "csrf_token": csrf_token(form.text), "bsn": number,
                    "birth_date": "17-05-1980", "sex": "female",
                    "benefit_start": "01-01-2020", "municipality": "GM0748",
                },
            )
        )  # fmt: skip
    seen.keep(client.get(f"/locatie/bw/deelnemers?q={bsns[1]}"))

    # 3. CLI imports of both kinds (the source files are the operator's, outside the instance).
    cli_file = tmp_path / "cli-export.csv"
    cli_file.write_bytes(_bw([_bw_row(1, bsns[2]), _bw_row(2, bsns[3]), _misaligned(bsns[4])]))
    result = runner.invoke(args=["import-participants", "--site", "bw", str(cli_file)])
    assert result.exit_code == 0, result.output
    seen.bodies.append(result.output)
    cli_file.write_bytes(_bw([_bw_row(1, bsns[2], "01-11-2026", "ARB"), _misaligned(bsns[5])]))
    result = runner.invoke(args=["import-outcomes", "--site", "bw", str(cli_file)])
    seen.bodies.append(result.output)

    # 4. API imports of both plugins, misaligned rows included.
    def upload(kind: str, site: str, content: bytes) -> Any:
        return seen.keep(
            client.post(
                f"/api/v1/sites/{site}/{kind}-imports", headers=admin,
                data={"file": (io.BytesIO(content), "export.csv")},
                content_type="multipart/form-data",
            )
        )  # fmt: skip

    assert (
        upload("participant", "bw", _bw([_bw_row(3, bsns[6]), _misaligned(bsns[7])])).status_code
        == 201
    )
    template = (
        TEMPLATE_HEADER
        + "\n"
        + f"{bsns[8]};19800517;2;0758;20200101;;\n;{bsns[9]};19800517;2;0758;20190301;;\n"
    )
    assert upload("participant", "breda", template.encode()).status_code == 201
    assert (
        upload(
            "outcome", "bw", _bw([_bw_row(4, bsns[6], "02-11-2026", "ARB"), _misaligned(bsns[10])])
        ).status_code
        == 201
    )
    assert upload("outcome", "breda", template.encode()).status_code == 201
    seen.keep(client.get("/api/v1/sites/bw/outcome-imports", headers=admin))

    # 5. A web import, through its background task, to its report.
    page = seen.keep(client.get("/locatie/bw/bestanden"))
    web_export = _bw([_bw_row(5, bsns[11]), _bw_row(6, bsns[12]), _misaligned(bsns[13])])
    answer = seen.keep(
        client.post(
            "/locatie/bw/bestanden/deelnemers",
            data={
                "csrf_token": csrf_token(page.text),
                "participants-file": (io.BytesIO(web_export), "web.csv"),
            },
            content_type="multipart/form-data",
        )
    )  # fmt: skip
    assert answer.status_code == 302, answer.text
    task_id = int(answer.headers["Location"].rsplit("/", 1)[1])
    db.session.rollback()
    assert import_tasks.wait(task_id, timeout=120)
    status = seen.keep(client.get(answer.headers["Location"]))
    seen.keep(client.get(status.headers["Location"]))

    # 6. The lottery, after consent for everyone.
    from fiptrial.models import Participant
    from fiptrial.services import consent

    for person in db.session.query(Participant).filter_by(site_id=bw.id, eligible=True):
        if consent.current_state(person).status != "given":
            consent.record(person, status="given", version="v1", on=date(2026, 11, 2), actor="t")
    cohort = seen.keep(
        client.post("/api/v1/sites/bw/cohort-allocation", headers=admin, json={"fip": 2})
    )
    assert cohort.status_code == 201, cohort.text
    seen.keep(client.get("/api/v1/sites/bw/allocations", headers=admin))
    seen.keep(client.get("/locatie/bw/deelnemers"))

    # 7. A note naming a BSN is refused, naming the field, never quoting it.
    caseload.assign_by_load(bw, on=date(2026, 11, 2), actor="test")
    fip = next(a["participant"] for a in cohort.json["allocations"] if a["arm"] == "fip")
    km_token = bearer(build.token("client_manager", site=bw, user=km))
    note = seen.keep(
        client.post(
            f"/api/v1/participants/{fip}/conversations", headers=km_token,
            json={"date": "2026-11-20", "duration_minutes": 30,
                  "notes": f"cliënt gaf BSN {bsns[14][:3]} {bsns[14][3:6]} {bsns[14][6:]} door"},
        )
    )  # fmt: skip
    assert note.status_code == 422 and note.json["error"]["code"] == "bsn_in_free_text", note.text
    seen.keep(client.get(f"/api/v1/participants/{fip}", headers=admin))

    # The scan.
    db.session.rollback()
    pattern = re.compile("|".join(bsns))
    leaks = []
    values = 0
    for table, column, value in _scan_database():
        values += 1
        if pattern.search(value):
            leaks.append(f"table {table}.{column}")
    for number, body_text in enumerate(seen.bodies):
        if pattern.search(body_text):
            leaks.append(f"response {number}")
    files = list(_scan_files(instance))
    for path, content in files:
        if pattern.search(content):
            leaks.append(f"file {path.relative_to(instance)}")
    if pattern.search(caplog.text):
        leaks.append("log")
    assert leaks == [], leaks
    from fiptrial.models import ImportBatch

    assert db.session.query(ImportBatch).count() == 7  # every import path really ran
    assert db.session.query(Participant).count() == 8  # api, web, cli 2, api 2, web 2
    assert values > 500 and len(seen.bodies) >= 25
    tables = len(inspect(db.engine).get_table_names())
    print(
        f"canary: {len(bsns)} BSNs, {values} values in {tables} tables, "
        f"{len(seen.bodies)} responses, {len(files)} files scanned"
    )
