"""API uploads above FIPTRIAL_IMPORT_SYNC_MAX_MB are queued (issue 15): 202 with a status URL
that follows the job to its report; at or below the size, 201 with the report as before. The
status endpoint keeps each site inside its own jobs. On PostgreSQL the job goes through
procrastinate's queue (worked here by ``import_tasks.wait`` and ``fiptrial worker --once``), on
SQLite through a thread of the process."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
from import_helpers import HEADER, Line, export_bytes

from fiptrial.extensions import db
from fiptrial.models import AuditEntry, ImportBatch, ImportTask, Participant

STATUS_URL = re.compile(r"^/api/v1/sites/bw/import-jobs/(\d+)$")


#: Each test spools its uploads into its own instance folder.
pytestmark = pytest.mark.usefixtures("instance_folder")


def _export(build: Any, rows: int = 3) -> bytes:
    return export_bytes([Line(build.next_bsn()) for _ in range(rows)])


def _queued(response: Any) -> int:
    assert response.status_code == 202, response.get_json()
    match = STATUS_URL.match(response.headers["Location"])
    assert match, response.headers["Location"]
    body = response.get_json()
    assert body["status"] == "queued" and body["finished"] is False
    assert body["status_url"] == response.headers["Location"]
    return int(match.group(1))


def _finish(task_id: int) -> None:
    from fiptrial.services import import_tasks

    db.session.rollback()  # SQLite: let go of the write lock the import's thread needs
    assert import_tasks.wait(task_id, timeout=120), "the queued import did not finish"


def test_an_upload_at_the_synchronous_size_is_imported_in_the_request(
    app: Any, build: Any, bw_site: Any, upload: Any
) -> None:
    content = _export(build)
    app.config["IMPORT_SYNC_MAX_BYTES"] = len(content)

    response = upload("participant", "bw", content)

    assert response.status_code == 201, response.get_json()
    assert response.get_json()["registered"] == 3
    assert "Location" not in response.headers
    assert db.session.query(ImportTask).count() == 0


def test_a_larger_upload_answers_202_and_its_status_url_leads_to_the_report(
    app: Any, build: Any, bw_site: Any, upload: Any, client: Any, bearer: Any, instance_folder: Path
) -> None:
    content = _export(build, rows=4)
    app.config["IMPORT_SYNC_MAX_BYTES"] = len(content) - 1
    headers = bearer(build.token("site_coordinator", site=bw_site))

    task_id = _queued(upload("participant", "bw", content))
    _finish(task_id)
    status = client.get(f"/api/v1/sites/bw/import-jobs/{task_id}", headers=headers)

    assert status.status_code == 200, status.get_json()
    job = status.get_json()
    batch = db.session.query(ImportBatch).one()
    assert (job["status"], job["finished"], job["batch"], job["duplicate_of"]) == (
        "done",
        True,
        batch.id,
        None,
    )
    assert (job["attempts"], job["rows_done"], job["kind"]) == (1, 4, "participants")
    assert job["report"]["registered"] == 4 and job["report"]["batch"] == batch.id
    assert db.session.query(Participant).count() == 4
    assert list((instance_folder / "uploads").iterdir()) == []  # the spooled export is gone

    again = _queued(upload("participant", "bw", content))
    _finish(again)
    second = client.get(f"/api/v1/sites/bw/import-jobs/{again}", headers=headers).get_json()

    assert (second["status"], second["batch"], second["duplicate_of"]) == ("done", None, batch.id)
    assert db.session.query(ImportBatch).count() == 1
    assert db.session.query(Participant).count() == 4


def test_a_queued_import_that_cannot_be_read_fails_with_its_reason_and_stores_nothing(
    app: Any, bw_site: Any, upload: Any, client: Any, bearer: Any, build: Any
) -> None:
    app.config["IMPORT_SYNC_MAX_BYTES"] = 10
    task_id = _queued(upload("participant", "bw", (HEADER + "\r\n").encode("cp1252")))
    _finish(task_id)

    job = client.get(
        f"/api/v1/sites/bw/import-jobs/{task_id}", headers=bearer(build.token("research_admin"))
    ).get_json()

    assert (job["status"], job["error_code"], job["report"]) == ("failed", "export_no_rows", None)
    assert "no rows" in job["error"]
    assert db.session.query(ImportBatch).count() == 0
    assert db.session.query(AuditEntry).filter(AuditEntry.action.like("import.%")).count() == 0


def test_an_unknown_mapping_version_is_refused_before_anything_is_queued(
    app: Any, build: Any, bw_site: Any, client: Any, bearer: Any
) -> None:
    app.config["IMPORT_SYNC_MAX_BYTES"] = 10
    response = client.post(
        "/api/v1/sites/bw/participant-imports",
        headers=bearer(build.token("research_admin")),
        data={"file": (io.BytesIO(_export(build)), "x.csv"), "mapping_version": "1999-01"},
        content_type="multipart/form-data",
    )

    assert response.status_code == 422
    assert response.get_json()["error"]["fields"]["mapping_version"]
    assert db.session.query(ImportTask).count() == 0


def test_the_status_endpoint_keeps_each_site_inside_its_own_jobs(
    app: Any, build: Any, bw_site: Any, upload: Any, client: Any, bearer: Any
) -> None:
    from fiptrial.extensions import db as database
    from fiptrial.models import User

    other = build.site(bw_site.trial, "other", "template", municipalities=["GM0758"])
    app.config["IMPORT_SYNC_MAX_BYTES"] = 10
    task_id = _queued(upload("participant", "bw", _export(build)))
    _finish(task_id)
    manager = User(username="km", role="client_manager", site_id=bw_site.id)
    database.session.add(manager)
    database.session.commit()
    own = bearer(build.token("site_coordinator", site=bw_site))
    foreign = bearer(build.token("site_coordinator", site=other))
    manager_token = bearer(build.token("client_manager", site=bw_site, user=manager))

    def status(site: str, headers: dict[str, str], job: int = task_id) -> int:
        return client.get(f"/api/v1/sites/{site}/import-jobs/{job}", headers=headers).status_code

    assert status("bw", own) == 200
    assert status("bw", foreign) == 404  # another site's coordinator: as if it did not exist
    assert status("other", foreign) == 404  # the job is bw's, not other's
    assert status("bw", manager_token) == 403  # client managers read no imports
    assert status("bw", own, job=task_id + 1000) == 404
    assert status("bw", {}) == 401


def test_the_worker_command_works_the_queue_or_says_there_is_none(
    app: Any, build: Any, bw_site: Any, upload: Any, runner: Any
) -> None:
    from fiptrial.services import import_tasks, job_queue

    app.config["IMPORT_SYNC_MAX_BYTES"] = 10
    task_id = _queued(upload("participant", "bw", _export(build)))
    db.session.rollback()
    if job_queue.backend(app) == job_queue.PROCESS:
        import_tasks.wait(task_id, timeout=120)
        result = runner.invoke(args=["worker"])
        assert result.exit_code == 0 and "SQLite" in result.output
    else:
        assert db.session.get(ImportTask, task_id).job_id is not None
        assert job_queue.job_status(db.session.get(ImportTask, task_id).job_id) == "todo"
        db.session.rollback()
        result = runner.invoke(args=["worker", "--once"])
        assert result.exit_code == 0, result.output
    db.session.remove()
    task = db.session.get(ImportTask, task_id)
    assert (task.status, task.attempts) == ("done", 1)
    assert db.session.query(Participant).count() == 3


def test_a_job_that_ended_in_the_queue_without_its_import_is_shown_as_interrupted(
    app: Any, build: Any, bw_site: Any, upload: Any, client: Any, bearer: Any, instance_folder: Path
) -> None:
    """The status is read from the job, not from a process's memory: a job cancelled in the
    queue (as an operator would, or after a failure outside the import) ends the task."""
    import procrastinate

    from fiptrial.services import job_queue

    if job_queue.backend(app) != job_queue.DATABASE:
        pytest.skip("the database's queue is PostgreSQL's")
    app.config["IMPORT_SYNC_MAX_BYTES"] = 10
    task_id = _queued(upload("participant", "bw", _export(build)))
    job_id = db.session.get_one(ImportTask, task_id).job_id
    db.session.rollback()
    connector = procrastinate.PsycopgConnector(conninfo=job_queue.conninfo(app))
    with job_queue.queue.replace_connector(connector) as queue:
        queue.open()
        try:
            assert queue.job_manager.cancel_job_by_id(job_id)
        finally:
            queue.close()

    job = client.get(
        f"/api/v1/sites/bw/import-jobs/{task_id}", headers=bearer(build.token("research_admin"))
    ).get_json()

    assert (job["status"], job["error_code"], job["finished"]) == (
        "interrupted",
        "import_interrupted",
        True,
    )
    assert list((instance_folder / "uploads").iterdir()) == []  # nothing will read the spool again
    assert db.session.query(Participant).count() == 0


def _stored_task(bw_site: Any, instance_folder: Path, content: bytes, **fields: Any) -> ImportTask:
    """A task as a worker that died would have left it, with its upload still spooled."""
    from fiptrial.services import import_tasks

    spooled = import_tasks.upload_folder() / "import-retry.upload"
    spooled.write_bytes(content)
    task = ImportTask(
        site_id=bw_site.id, kind="participants", status="running", rows_done=0, duplicate=False,
        filename="x.csv", spool_name=spooled.name, created_by="user:coord", **fields,
    )  # fmt: skip
    db.session.add(task)
    db.session.commit()
    return task


def test_a_retry_after_the_first_worker_committed_imports_nothing_twice(
    app: Any, build: Any, bw_site: Any, instance_folder: Path
) -> None:
    """The first worker committed the import and died before recording it: the retry finds the
    batch by the file's SHA-256, adds nothing, and shows it as this task's own import."""
    from fiptrial.services import import_tasks, imports

    content = _export(build)
    task = _stored_task(bw_site, instance_folder, content, attempts=1)
    task_id = task.id
    committed = imports.import_participants(bw_site, io.BytesIO(content), actor="user:coord")

    import_tasks.run_task(task_id)

    db.session.remove()
    done = db.session.get_one(ImportTask, task_id)
    assert (done.status, done.attempts, done.batch_id, done.duplicate) == (
        "done",
        2,
        committed["batch"],
        False,
    )
    assert db.session.query(ImportBatch).count() == 1
    assert db.session.query(Participant).count() == 3
    assert not (instance_folder / "uploads" / "import-retry.upload").exists()


def test_an_import_whose_workers_keep_dying_fails_after_three_starts(
    app: Any, build: Any, bw_site: Any, instance_folder: Path
) -> None:
    from fiptrial.services import import_tasks

    task = _stored_task(
        bw_site, instance_folder, _export(build), attempts=import_tasks.MAX_ATTEMPTS
    )
    task_id = task.id

    import_tasks.run_task(task_id)

    db.session.remove()
    failed = db.session.get_one(ImportTask, task_id)
    assert (failed.status, failed.error_code) == ("failed", "import_interrupted")
    assert db.session.query(ImportBatch).count() == 0
    assert not (instance_folder / "uploads" / "import-retry.upload").exists()


def test_the_openapi_document_names_both_answers_and_the_status_endpoint(client: Any) -> None:
    document = client.get("/api/v1/openapi.json").get_json()
    for kind in ("participant", "outcome"):
        answers = document["paths"][f"/api/v1/sites/{{site_code}}/{kind}-imports"]["post"]
        assert {"200", "201", "202", "422"} <= set(answers["responses"])
        assert "Location" in answers["responses"]["202"]["headers"]
        assert "FIPTRIAL_IMPORT_SYNC_MAX_MB" in answers["responses"]["202"]["description"]
    status = document["paths"]["/api/v1/sites/{site_code}/import-jobs/{task_id}"]["get"]
    assert status["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ImportJob"
    }
