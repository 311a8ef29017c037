"""Background work that a web request started and a person follows on a status page.

An upload of a large export must not keep the request (and the person's screen) waiting, so
the web page (and the API, above a size) spools the file, records an :class:`ImportTask` and
queues its import as a job (``job_id``, see :mod:`fiptrial.services.job_queue`). The row is
what the status page and the API read: its state, how far the import got, how many times a
worker started it (``attempts``: a worker that died is replaced and the import retried) and,
when done, the batch whose report to show. On SQLite, where the job runs in the web process,
``updated_at`` doubles as the heartbeat (see :mod:`fiptrial.services.import_tasks`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fiptrial.extensions import db
from fiptrial.models.base import UTCDateTime, created_at_column, utcnow
from fiptrial.models.trial import Site

TASK_STATUSES = ("queued", "running", "done", "failed")


class ImportTask(db.Model):  # type: ignore[name-defined]
    __tablename__ = "import_task"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # "participants" or "outcomes"
    status: Mapped[str] = mapped_column(String(20), default="queued")
    rows_done: Mapped[int] = mapped_column(Integer, default=0)
    # The batch whose report to show: the new one, or the earlier one of an identical file.
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batch.id"), nullable=True)
    duplicate: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    # The error's code and parameters, so that the status page can say it in the reader's
    # language (``error`` keeps the English text for logs and the API).
    error_code: Mapped[str | None] = mapped_column(String(60), nullable=True)
    error_params: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # A failed or interrupted task that the coordinator has cleared from the list.
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    cleared_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    filename: Mapped[str] = mapped_column(String(255), default="")  # as the user named it
    spool_name: Mapped[str] = mapped_column(String(255))  # the file under instance/uploads
    created_by: Mapped[str] = mapped_column(String(80))
    # The site's reason-table version to read the file under (None: the current one).
    mapping_version: Mapped[str | None] = mapped_column(String(40), nullable=True)
    # The job in procrastinate's queue (PostgreSQL); None where jobs run in process (SQLite).
    job_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # How many times a worker started the import (more than one: a worker died, it was retried).
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)

    site: Mapped[Site] = relationship()
