"""Where uploads wait on disk while they are imported: inside the instance folder, never in the
system temp folder, and never longer than their import.

An export holds BSNs in clear. An API upload is spooled to ``instance/spool`` (mode 0700)
while it is hashed and read; the web's background imports spool to ``instance/uploads``
(``services.import_tasks``). Both are deleted when the import ends. A worker killed halfway
(kill -9, gunicorn's worker timeout, a power cut) cannot delete its spool, so stale spools are
deleted when the application starts (:func:`remove_stale_spools`, from ``create_app``) and by
the nightly job (:func:`fiptrial.services.import_tasks.remove_stale_uploads` as well):

* an API spool is named after its process (``api-<pid>-<random>.spool``); it is stale when
  that process is gone, or when it is older than ``STALE_AFTER`` whatever its name says;
* a web upload (or a queued API upload) is stale when no import task waits for it, or its
  task has ended or lost its job (ended in the queue on PostgreSQL; on SQLite no thread and
  ``import_tasks.STALE_AFTER`` without a heartbeat). A task whose worker died keeps its upload:
  another worker imports it again.

Werkzeug's own buffering of a multipart upload is sent to the spool folder too
(:class:`InstanceRequest`), as an anonymous file that the kernel frees when the process ends.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import IO, Any

from flask import Flask, Request, current_app

SPOOL_FOLDER = "spool"
UPLOAD_FOLDER = "uploads"
API_PREFIX = "api-"
#: An import older than this has died, whoever's process id its spool still names.
STALE_AFTER_SECONDS = 24 * 3600


def private_folder(app: Flask | None, name: str) -> Path:
    """``instance/<name>``, created on first use with mode 0700 (and kept so)."""
    folder = Path((app or current_app).instance_path) / name
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder.chmod(0o700)
    return folder


def spool_folder(app: Flask | None = None) -> Path:
    return private_folder(app, SPOOL_FOLDER)


def new_spool(app: Flask | None = None) -> tuple[int, Path]:
    """A new private file (0600) for an API upload: its descriptor and path."""
    descriptor, name = tempfile.mkstemp(
        prefix=f"{API_PREFIX}{os.getpid()}-", suffix=".spool", dir=spool_folder(app)
    )
    return descriptor, Path(name)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def _spool_pid(path: Path) -> int | None:
    parts = path.name.split("-")
    if len(parts) < 3 or parts[0] + "-" != API_PREFIX or not parts[1].isdigit():
        return None
    return int(parts[1])


def remove_stale_spools(app: Flask | None = None, now: float | None = None) -> int:
    """Delete the API spools whose process is gone (or that are older than a day)."""
    folder = spool_folder(app)
    now = time.time() if now is None else now
    removed = 0
    for path in folder.iterdir():
        try:
            age = now - path.stat().st_mtime
        except FileNotFoundError:
            continue
        pid = _spool_pid(path)
        stale = age > STALE_AFTER_SECONDS or pid is None or not _process_alive(pid)
        if pid == os.getpid() and age <= STALE_AFTER_SECONDS:
            stale = False  # this process's own import, running now
        if stale:
            path.unlink(missing_ok=True)
            removed += 1
    return removed


class InstanceRequest(Request):
    """Flask's request, buffering large multipart uploads in the instance's spool folder
    instead of the system temp folder (an anonymous file: nothing to clean up)."""

    def _get_file_stream(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        if total_content_length is not None and total_content_length <= 500 * 1024:
            return super()._get_file_stream(
                total_content_length, content_type, filename, content_length
            )
        # Returned open: werkzeug writes the upload into it and closes it with the request.
        stream: Any = tempfile.TemporaryFile("rb+", dir=spool_folder())  # noqa: SIM115
        return stream  # type: ignore[no-any-return]
