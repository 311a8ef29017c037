"""Upload spools (services.spool): inside the instance folder in a 0700 directory, never in
the system temp folder, gone after the import, and stale ones deleted at start-up and by the
nightly job."""

from __future__ import annotations

import os
import stat
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from import_helpers import Line, export_bytes

from fiptrial.services import spool


@pytest.fixture
def instance(app: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "instance"
    monkeypatch.setattr(app, "instance_path", str(folder))
    system_temp = tmp_path / "system-temp"
    system_temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(system_temp))
    return folder


def test_each_test_spools_into_a_folder_of_its_own(
    app: Any, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The test processes run at once and share one app per process between tests: a folder
    common to them (the checkout's ``instance``) would let one test's spooled upload appear in,
    or vanish from, another's while it runs."""
    from fiptrial import create_app, default_instance_path
    from fiptrial.services.import_tasks import upload_folder

    assert upload_folder() == tmp_path / "instance" / "uploads"
    assert spool.spool_folder() == tmp_path / "instance" / "spool"
    # An app built without a folder of its own (a CLI call, a second app) gets this process's.
    process_folder = tmp_path_factory.getbasetemp().resolve()
    assert default_instance_path().is_relative_to(process_folder)
    other = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    assert Path(other.instance_path).is_relative_to(process_folder)


def test_an_api_upload_is_spooled_privately_in_the_instance_folder(
    bw_site: Any, build: Any, upload: Any, instance: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fiptrial.plugins.manager import SitePlugin

    seen: list[tuple[Path, int, int]] = []
    read = SitePlugin._read

    def spying(self: Any, source: Any, wanted: Any = None) -> Any:
        path = Path(source.name)
        seen.append(
            (path, stat.S_IMODE(path.parent.stat().st_mode), stat.S_IMODE(path.stat().st_mode))
        )
        return read(self, source, wanted)

    monkeypatch.setattr(SitePlugin, "_read", spying)
    response = upload("participant", "bw", export_bytes([Line(build.next_bsn())]))
    assert response.status_code == 201, response.json
    ((path, folder_mode, file_mode),) = seen
    assert path.parent == instance / "spool"
    assert (folder_mode, file_mode) == (0o700, 0o600)
    assert path.name.startswith(f"api-{os.getpid()}-")
    assert not path.exists()  # deleted when the import ended
    assert list((instance / "spool").iterdir()) == []
    assert list(Path(tempfile.gettempdir()).iterdir()) == []  # nothing in the system temp


def test_werkzeug_buffers_a_large_upload_in_the_spool_folder(app: Any, instance: Path) -> None:
    """Above 500 kB werkzeug writes the multipart body to a file: an anonymous one in
    instance/spool, never in the system temp folder."""
    import io

    from flask import request

    body = b"BSN;999998523\n" * 60000
    with app.test_request_context(
        "/upload", method="POST", data={"file": (io.BytesIO(body), "big.csv")}
    ):
        stream = request.files["file"].stream
        target = os.readlink(f"/proc/self/fd/{stream.fileno()}")
        assert target.startswith(str(instance / "spool")), target
        assert stream.read(14) == b"BSN;999998523\n"
    assert list(Path(tempfile.gettempdir()).iterdir()) == []


def test_a_refused_upload_leaves_no_spool(
    bw_site: Any, upload: Any, instance: Path, app: Any
) -> None:
    app.config["IMPORT_MAX_BYTES"] = 1024
    response = upload("participant", "bw", b"x" * 5000)
    assert response.status_code == 422
    assert list((instance / "spool").iterdir()) == []


def _spool_file(folder: Path, name: str, age_seconds: float = 0) -> Path:
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(b"BSN;999998523\n")
    if age_seconds:
        then = time.time() - age_seconds
        os.utime(path, (then, then))
    return path


def _dead_pid() -> int:
    pid = 4_000_000
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except PermissionError:
            pass
        pid += 1


def test_stale_api_spools_are_deleted_when_the_application_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fiptrial import create_app

    folder = tmp_path / "instance"
    monkeypatch.setenv("FIPTRIAL_INSTANCE_PATH", str(folder))
    dead = _spool_file(folder / "spool", f"api-{_dead_pid()}-abc.spool")
    alive = _spool_file(folder / "spool", f"api-{os.getppid()}-def.spool")
    old = _spool_file(folder / "spool", f"api-{os.getppid()}-old.spool", age_seconds=2 * 86400)
    stray = _spool_file(folder / "spool", "something-else")
    create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.sqlite'}"})
    assert not dead.exists() and not old.exists() and not stray.exists()
    assert alive.exists()  # another worker's import, running now
    assert stat.S_IMODE((folder / "spool").stat().st_mode) == 0o700


def test_the_nightly_job_deletes_stale_spools_and_uploads(
    app: Any, bw_site: Any, instance: Path
) -> None:
    from fiptrial.extensions import db
    from fiptrial.models import ImportTask
    from fiptrial.scheduler import jobs

    uploads = instance / "uploads"
    orphan = _spool_file(uploads, "import-orphan.upload")
    finished = _spool_file(uploads, "import-done.upload")
    running = _spool_file(uploads, "import-running.upload")
    dead_api = _spool_file(instance / "spool", f"api-{_dead_pid()}-x.spool")
    for name, status in (("import-done.upload", "failed"), ("import-running.upload", "running")):
        db.session.add(
            ImportTask(
                site_id=bw_site.id, kind="participants", status=status, rows_done=0,
                duplicate=False, filename="x.csv", spool_name=name, created_by="test",
            )
        )  # fmt: skip
    db.session.commit()
    from fiptrial.services import import_tasks

    running_task = db.session.query(ImportTask).filter_by(status="running").one()
    with import_tasks._live_lock:  # a worker of this process holds it
        import_tasks._live[running_task.id] = 0
    try:
        counts = jobs.nightly_overdue(date.today())
    finally:
        with import_tasks._live_lock:
            import_tasks._live.pop(running_task.id, None)
    assert counts["stale_spools_removed"] == 3
    assert not orphan.exists() and not finished.exists() and not dead_api.exists()
    assert running.exists()
    assert spool.remove_stale_spools() == 0
