"""Minimisation (issue 16): no birth date ever leaves the platform, an analyst's export needs a
research admin's approval, and its small cells (fewer than 5 participants) are suppressed."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import date
from typing import Any

import pytest
from web_support import csrf_token

from fiptrial.extensions import db
from fiptrial.models import AuditEntry, ExportApproval

#: No test here writes to the database before asking for the staff: it comes from a snapshot.
SEEDED_STAFF = True


@pytest.fixture
def cohort(staff: Any, build: Any) -> list[Any]:
    """Ten allocated participants at bw and three at breda (a cell of 3 in ``site``), each with
    a birth date of their own; three of bw's with a university degree."""
    from fiptrial.services import randomisation

    people = [
        build.participant(
            staff.bw if i < 10 else staff.breda,
            birth_date=date(1970 + i, 3, 1 + i),
            education="wo" if i < 3 else "mbo_havo_vwo",
        )
        for i in range(13)
    ]
    randomisation.allocate_cohort(staff.bw.id, 2, actor="test")
    for person in people[10:]:  # breda has no client managers: one by one, not as a cohort
        randomisation.allocate(person.id, actor="test")
    return people


def participant_csv(archive: bytes) -> list[dict[str, str]]:
    files = zipfile.ZipFile(io.BytesIO(archive))
    [name] = [n for n in files.namelist() if n.endswith(".csv") and "_spells" not in n]
    return list(csv.DictReader(io.StringIO(files.read(name).decode("utf-8"))))


def birth_date_forms(people: list[Any]) -> list[str]:
    forms = []
    for person in people:
        day = person.birth_date
        forms += [day.isoformat(), f"{day:%d-%m-%Y}", f"{day:%Y%m%d}", f"{day:%d/%m/%Y}"]
    return forms


def logout(web: Any) -> None:
    from flask import g

    web.client = web.client.application.test_client()
    g.pop("_login_user", None)
    g.pop("csrf_token", None)


def ask(web: Any, purpose: str = "Cox-model per leeftijdsgroep voor het eindrapport") -> Any:
    page = web.client.get("/privacy/exportverzoeken")
    return web.client.post(
        "/privacy/exportverzoeken",
        data={
            "csrf_token": csrf_token(page.text),
            "request-trial": "t1",
            "request-fmt": "csv",
            "request-purpose": purpose,
        },
    )


def test_an_analysts_export_is_approved_first_and_its_cell_of_3_suppressed(
    staff: Any, web: Any, cohort: list[Any]
) -> None:
    web.login("analyse")
    page = web.client.get("/onderzoek/exports")
    refused = web.client.post(
        "/onderzoek/exports/download",
        data={"csrf_token": csrf_token(page.text), "onderzoek": "t1", "export-fmt": "csv"},
    )
    assert refused.status_code == 403  # no export without approval
    short = ask(web, "even")
    assert short.status_code == 422
    assert ask(web).status_code == 302
    [request] = db.session.query(ExportApproval).all()
    assert request.status == "requested" and request.requested_by == "user:analyse"
    token = csrf_token(web.client.get("/privacy/exportverzoeken").text)
    early = web.client.post(
        f"/privacy/exportverzoeken/{request.id}/download", data={"csrf_token": token}
    )
    assert early.status_code == 302  # not approved yet: back to the list, nothing sent
    assert early.headers["Content-Type"] != "application/zip"
    own = web.client.post(
        f"/privacy/exportverzoeken/{request.id}/besluit",
        data={"csrf_token": token, "decide-decision": "approve"},
    )
    assert own.status_code == 403  # an analyst never approves

    logout(web)
    web.login("beheer")
    page = web.client.get("/privacy/exportverzoeken")
    assert "Cox-model per leeftijdsgroep" in page.text and "Goedkeuren" in page.text
    approved = web.client.post(
        f"/privacy/exportverzoeken/{request.id}/besluit",
        data={"csrf_token": csrf_token(page.text), "decide-decision": "approve"},
    )
    assert approved.status_code == 302
    # The admin's own export is not suppressed: the three university graduates are there.
    page = web.client.get("/onderzoek/exports")
    admin_export = web.client.post(
        "/onderzoek/exports/download",
        data={"csrf_token": csrf_token(page.text), "onderzoek": "t1", "export-fmt": "csv"},
    )
    rows = participant_csv(admin_export.data)
    assert sum(row["site"] == "breda" for row in rows) == 3
    assert sum(row["education"] == "wo" for row in rows) == 3  # the admin's baseline columns

    logout(web)
    web.login("analyse")
    token = csrf_token(web.client.get("/privacy/exportverzoeken").text)
    download = web.client.post(
        f"/privacy/exportverzoeken/{request.id}/download", data={"csrf_token": token}
    )
    assert download.status_code == 200 and download.headers["Content-Type"] == "application/zip"
    rows = participant_csv(download.data)
    assert len(rows) == 13
    assert "education" not in rows[0]  # not among the analyst's columns at all (FIELD_POLICY)
    assert sum(row["site"] == "breda" for row in rows) == 0  # the cell of 3: suppressed
    assert sum(row["site"] == "" for row in rows) == 3
    assert sum(row["site"] == "bw" for row in rows) == 10  # a cell of 10 stays
    codebook = next(
        zipfile.ZipFile(io.BytesIO(download.data)).read(n).decode()
        for n in zipfile.ZipFile(io.BytesIO(download.data)).namelist()
        if n.endswith(".codebook.md")
    )
    assert "Small cells suppressed" in codebook and "site 3" in codebook
    again = web.client.post(
        f"/privacy/exportverzoeken/{request.id}/download", data={"csrf_token": token}
    )
    assert again.status_code == 302  # one download per approval
    actions = [e.action for e in db.session.query(AuditEntry).order_by(AuditEntry.id)]
    for action in ("export.requested", "export.approved", "export.approval_used"):
        assert action in actions
    exported = db.session.query(AuditEntry).filter_by(action="analysis.exported").all()
    assert '"site":3' in exported[-1].data


def test_requests_are_the_analysts_and_decisions_the_admins(
    staff: Any, web: Any, cohort: list[Any]
) -> None:
    web.login("beheer")
    assert ask(web).status_code == 403  # an admin exports directly
    logout(web)
    web.login("coord")
    assert web.client.get("/privacy/exportverzoeken").status_code == 403


def test_no_birth_date_leaves_the_platform(
    staff: Any, web: Any, client: Any, build: Any, bearer: Any, cohort: list[Any]
) -> None:
    """The admin's export (CSV and SPSS), a freeze, the API's participant answers and the
    read log: none holds any participant's birth date in any common spelling."""
    from fiptrial.services import freezes

    forms = birth_date_forms(cohort)
    outputs: list[bytes] = []
    web.login("beheer")
    page = web.client.get("/onderzoek/exports")
    for fmt in ("csv", "sav"):
        response = web.client.post(
            "/onderzoek/exports/download",
            data={"csrf_token": csrf_token(page.text), "onderzoek": "t1", "export-fmt": fmt},
        )
        assert response.status_code == 200
        archive = zipfile.ZipFile(io.BytesIO(response.data))
        outputs += [archive.read(name) for name in archive.namelist()]
    frozen = freezes.freeze_trial(staff.trial, "user:beheer")
    freeze_zip = web.client.get(f"/onderzoek/bevriezingen/{frozen.id}.zip")
    archive = zipfile.ZipFile(io.BytesIO(freeze_zip.data))
    outputs += [archive.read(name) for name in archive.namelist()]
    token = build.token("research_admin")
    outputs.append(client.get("/api/v1/sites/bw/participants", headers=bearer(token)).data)
    outputs.append(client.get(f"/api/v1/participants/{cohort[0].id}", headers=bearer(token)).data)
    outputs.append(client.get("/api/v1/read-log", headers=bearer(token)).data)
    text = b"\n".join(outputs).decode("latin-1")
    assert len(outputs) > 10
    found = [form for form in forms if form in text]
    assert found == []
