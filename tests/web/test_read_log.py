"""The read log (issue 16): every read of personal data is logged with its participants, the
log is append-only in the database, and only the research admin and the FG can search it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from fiptrial.extensions import db
from fiptrial.models import ReadLogEntry, ReadLogSubject

#: No test here writes to the database before asking for the staff: it comes from a snapshot.
SEEDED_STAFF = True


@pytest.fixture
def people(staff: Any, build: Any) -> dict[str, Any]:
    return {
        "bw": [build.participant(staff.bw) for _ in range(3)],
        "breda": [build.participant(staff.breda)],
    }


def entries(actor: str, action: str | None = None) -> list[ReadLogEntry]:
    db.session.expire_all()
    query = db.session.query(ReadLogEntry).filter_by(actor=actor)
    if action:
        query = query.filter_by(action=action)
    return query.order_by(ReadLogEntry.id).all()


def subjects(entry: ReadLogEntry) -> set[int]:
    return {
        pid
        for (pid,) in db.session.query(ReadLogSubject.participant_id).filter_by(entry_id=entry.id)
    }


def test_an_analysts_list_view_is_logged_with_the_participants_shown(
    staff: Any, web: Any, people: dict[str, Any]
) -> None:
    web.login("analyse")
    assert web.client.get("/locatie/bw/deelnemers").status_code == 200
    [entry] = entries("user:analyse", "participant.list")
    assert entry.role == "analyst"
    assert entry.site == "bw" and entry.trial_id == staff.trial.id
    assert subjects(entry) == {p.id for p in people["bw"]}
    assert entry.participants == 3


@pytest.mark.parametrize(
    ("site", "index", "status", "shown"),
    [("bw", 1, 200, True), ("breda", 0, 404, False)],
    ids=["own-site-logged-with-its-participant", "refused-read-logged-without-participants"],
)
def test_a_coordinators_participant_page_is_logged(
    staff: Any, web: Any, people: dict[str, Any], site: str, index: int, status: int, shown: bool
) -> None:
    """The own site's participant page is logged with its participant; another site's is
    refused (404) and logged without participants."""
    web.login("coord")
    person = people[site][index]
    url = f"/locatie/{site}/deelnemers/{person.id}"
    assert web.client.get(url).status_code == status
    [entry] = entries("user:coord", "participant.view")
    assert subjects(entry) == ({person.id} if shown else set())
    assert entry.path == url and entry.status == status


def test_a_bsn_typed_into_the_search_never_enters_the_log(
    staff: Any, web: Any, people: dict[str, Any]
) -> None:
    web.login("coord")
    bsn = "999998523"
    assert web.client.get(f"/locatie/bw/deelnemers?q={bsn}").status_code == 200
    [entry] = entries("user:coord", "participant.list")
    assert entry.query == {"q": "[number masked]"}
    with db.engine.connect() as connection:
        for table in ("read_log_entry", "read_log_subject"):
            for row in connection.execute(text(f"SELECT * FROM {table}")):
                assert bsn not in " ".join(map(str, row))


def test_logins_and_failed_logins_are_logged(staff: Any, web: Any) -> None:
    web.login("analyse", "not-the-password")
    web.login("nobody-like-this", "whatever")
    web.login("analyse")
    assert [e.action for e in entries("user:analyse")][:2] == ["login.failed", "login"]
    [unknown] = entries("user:(unknown)")
    assert unknown.action == "login.failed"
    assert "nobody-like-this" not in str(unknown.query) + unknown.path


def test_api_reads_are_logged_with_the_participants_in_the_answer(
    staff: Any, client: Any, build: Any, bearer: Any, people: dict[str, Any]
) -> None:
    token = build.token("site_coordinator", site=staff.bw)
    response = client.get("/api/v1/sites/bw/participants", headers=bearer(token))
    assert response.status_code == 200
    [entry] = [e for e in db.session.query(ReadLogEntry).filter_by(channel="api")]
    assert entry.action == "participant.list"
    assert subjects(entry) == {p.id for p in people["bw"]}


def test_the_admin_and_the_fg_search_the_log_others_may_not(
    staff: Any, web: Any, people: dict[str, Any]
) -> None:
    from web_support import PASSWORD

    from fiptrial.services.users import create_user

    create_user(username="fg", role="privacy_officer", password=PASSWORD, actor="test")
    person = people["bw"][0]
    web.login("coord")
    web.client.get(f"/locatie/bw/deelnemers/{person.id}")
    for username, status in (("coord", 403), ("analyse", 403), ("beheer", 200), ("fg", 200)):
        web.post_form("/uitloggen", {}, form_page="/privacy/leeslog")
        web.login(username)
        page = web.client.get(f"/privacy/leeslog?deelnemer={person.id}")
        assert page.status_code == status, username
        if status == 200:
            assert f"/locatie/bw/deelnemers/{person.id}" in page.text
            assert "coord (locatiecoördinator)" in page.text and "deelnemer bekeken" in page.text
            assert "1 regel gevonden" in page.text  # the FG's own reads name no participant
    assert web.client.get("/onderzoek/").status_code == 403  # the FG reads no participants
    assert web.client.get("/privacy/leeslog?van=31-02-2026").status_code == 422


def test_the_read_log_api(staff: Any, client: Any, build: Any, bearer: Any, people: Any) -> None:
    coordinator = build.token("site_coordinator", site=staff.bw)
    person = people["bw"][2]
    client.get(f"/api/v1/participants/{person.id}", headers=bearer(coordinator))
    admin = build.token("research_admin")
    found = client.get(
        f"/api/v1/read-log?participant_id={person.id}", headers=bearer(admin)
    ).get_json()
    assert found["total"] == 1
    assert found["entries"][0]["participant_ids"] == [person.id]
    assert found["entries"][0]["action"] == "participant.view"
    fg = build.token("privacy_officer")
    assert client.get("/api/v1/read-log", headers=bearer(fg)).status_code == 200
    for role, site in (("analyst", None), ("site_coordinator", staff.bw)):
        token = build.token(role, site=site)
        assert client.get("/api/v1/read-log", headers=bearer(token)).status_code == 403
    bad = client.get("/api/v1/read-log?participant_id=zero", headers=bearer(admin))
    assert bad.status_code == 422
    assert client.get(f"/api/v1/participants/{person.id}", headers=bearer(fg)).status_code == 403


def test_the_log_is_append_only_until_its_purge_cut_off(
    staff: Any, web: Any, people: dict[str, Any]
) -> None:
    from fiptrial.services import readlog
    from fiptrial.services.transaction import unit_of_work

    web.login("coord")
    web.client.get(f"/locatie/bw/deelnemers/{people['bw'][0].id}")
    [entry] = entries("user:coord", "participant.view")
    entry_id = entry.id
    for statement in (
        "UPDATE read_log_entry SET actor = 'someone else'",
        "DELETE FROM read_log_subject",
        "DELETE FROM read_log_entry",
    ):
        with pytest.raises(DatabaseError, match="append-only"), db.engine.begin() as connection:
            connection.execute(text(statement))
    with db.engine.begin() as connection:
        assert connection.execute(text("SELECT count(*) FROM read_log_subject")).scalar() == 1
    # The retention run's way: move the trial's cut-off past the entry, then purge.
    with unit_of_work():
        readlog.allow_purge_before(staff.trial.id, datetime.now(UTC) + timedelta(seconds=1))
        deleted = readlog.purge(staff.trial.id, datetime.now(UTC) + timedelta(seconds=1))
    assert deleted == 1
    db.session.expire_all()
    assert db.session.get(ReadLogEntry, entry_id) is None
