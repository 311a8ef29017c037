"""What both imports share: the file and its hash, the plugin, the batch and its audit entry.

The file is hashed before it is parsed: a re-import of an identical file must cost a hash and a
lookup, not a parse. An upload is spooled to a private file in ``instance/spool`` while it is
hashed (it is never held in memory whole, and never in the system temp folder: see
``services.spool``), and the plugin then streams the rows from that file.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from flask import current_app

from fiptrial.errors import Unprocessable, field_error
from fiptrial.extensions import db
from fiptrial.models import ImportBatch, Site
from fiptrial.plugins.manager import SitePlugin, get_site_plugin
from fiptrial.services import audit
from fiptrial.services.spool import new_spool
from fiptrial.services.transaction import locked, unit_of_work

CHUNK_BYTES = 1024 * 1024
#: Rows per executemany: large enough to amortise the round trip, small enough to stay flat.
INSERT_CHUNK = 5000
#: Rows between two calls of an import's optional ``progress`` callback.
PROGRESS_ROWS = 5000

ImportBody = Callable[[SitePlugin, ImportBatch, Path], dict[str, Any]]


@dataclass(frozen=True)
class ExportFile:
    """An export on disk with its SHA-256; a spooled upload is deleted after the import."""

    path: Path
    sha256: str
    size: int

    @classmethod
    @contextmanager
    def prepare(
        cls, source: BinaryIO | str | os.PathLike[str], max_bytes: int | None = None
    ) -> Iterator[ExportFile]:
        """Hash a path in place, or spool a binary stream (an upload) to a temporary file.

        Raises:
            Unprocessable: naming the field ``file`` when the upload exceeds ``max_bytes``.
        """
        if isinstance(source, (str, os.PathLike)):
            path = Path(source)
            digest = hashlib.sha256()
            size = 0
            with path.open("rb") as handle:
                while chunk := handle.read(CHUNK_BYTES):
                    digest.update(chunk)
                    size += len(chunk)
            yield cls(path, digest.hexdigest(), size)
            return
        descriptor, spooled = new_spool()
        name = str(spooled)
        try:
            with os.fdopen(descriptor, "wb") as spool:
                digest = hashlib.sha256()
                size = 0
                while chunk := source.read(CHUNK_BYTES):
                    size += len(chunk)
                    if max_bytes is not None and size > max_bytes:
                        raise field_error(
                            "file",
                            f"is larger than {max_bytes // (1024 * 1024)} MB",
                            code="file_too_large",
                            max_mb=max_bytes // (1024 * 1024),
                        )
                    digest.update(chunk)
                    spool.write(chunk)
            yield cls(Path(name), digest.hexdigest(), size)
        finally:
            Path(name).unlink(missing_ok=True)


def site_plugin(site: Site) -> SitePlugin:
    """The checked plugin of a site, or a 422 saying that it is not installed."""
    plugin = get_site_plugin(site.plugin)
    if plugin is None:
        raise Unprocessable(
            f"site {site.code} reads its exports with the plugin {site.plugin!r}, "
            "which is not installed",
            code="plugin_missing",
        )
    return plugin


def find_batch(site: Site, kind: str, sha256: str, mapping_version: str) -> ImportBatch | None:
    return (
        db.session.query(ImportBatch)
        .filter_by(site_id=site.id, kind=kind, file_sha256=sha256, mapping_version=mapping_version)
        .one_or_none()
    )


def list_batches(site: Site, kind: str = "outcomes") -> list[ImportBatch]:
    """A site's import batches of one kind, newest first."""
    return (
        db.session.query(ImportBatch)
        .filter_by(site_id=site.id, kind=kind)
        .order_by(ImportBatch.id.desc())
        .all()
    )


def audit_data(export: ExportFile, plugin: SitePlugin, **extra: Any) -> dict[str, Any]:
    return {
        "file_sha256": export.sha256,
        "file_bytes": export.size,
        "plugin": plugin.name,
        "plugin_version": plugin.version,
        "mapping_version": plugin.mapping_version,
        "mapping_fingerprint": plugin.mapping.fingerprint,
        **extra,
    }


def run_import(
    site: Site,
    source: BinaryIO | str | os.PathLike[str],
    *,
    kind: str,
    actor: str,
    body: ImportBody,
    empty_report: Callable[[], dict[str, Any]],
) -> tuple[dict[str, Any], bool]:
    """Hash, short-circuit a duplicate, else run ``body`` in one unit of work with its audit.

    Returns the report and whether a new batch was made (``False`` for a duplicate file).
    Imports of one site are serialised on the site's row (SQLite serialises every writer
    anyway), so two uploads of the same file cannot both pass the duplicate check, and two
    exports cannot interleave their events. ``body`` may raise (an
    :class:`~fiptrial.plugins.rows.ExportFormatError` halfway through the file): the unit of
    work then rolls back the batch and every row written so far.
    """
    plugin = site_plugin(site)
    max_bytes = current_app.config.get("IMPORT_MAX_BYTES")
    with ExportFile.prepare(source, max_bytes) as export, unit_of_work():
        locked(db.session.query(Site).filter_by(id=site.id)).one()
        earlier = find_batch(site, kind, export.sha256, plugin.mapping_version)
        if earlier is not None:
            return _duplicate(site, kind, actor, export, plugin, earlier, empty_report), False
        batch = ImportBatch(
            site_id=site.id,
            kind=kind,
            file_sha256=export.sha256,
            plugin=plugin.name,
            plugin_version=plugin.version,
            mapping_version=plugin.mapping_version,
            rows=0,
            report={},
            created_by=actor,
        )
        db.session.add(batch)
        db.session.flush()
        report = body(plugin, batch, export.path)
        if report["rows"] == 0:  # raised inside the unit of work: the batch is rolled back
            raise field_error(
                "file",
                "has a header but no rows: nothing was imported",
                code="export_no_rows",
            )
        batch.rows = report["rows"]
        batch.report = report
        audit.record(
            f"import.{kind}",
            actor=actor,
            entity="import_batch",
            entity_id=batch.id,
            site=site.code,
            data=audit_data(export, plugin, counts=_counts(report)),
        )
    return report, True


def _counts(report: dict[str, Any]) -> dict[str, Any]:
    """The report without its row lists, for the audit entry."""
    return {
        key: (len(value) if key == "rejected" else value)
        for key, value in report.items()
        if key not in ("batch", "duplicate_of")
    }


def _duplicate(
    site: Site,
    kind: str,
    actor: str,
    export: ExportFile,
    plugin: SitePlugin,
    earlier: ImportBatch,
    empty_report: Callable[[], dict[str, Any]],
) -> dict[str, Any]:
    """Nothing is imported; the audit trail still shows that the file was offered again."""
    audit.record(
        f"import.{kind}.duplicate",
        actor=actor,
        entity="import_batch",
        entity_id=earlier.id,
        site=site.code,
        data=audit_data(export, plugin, duplicate_of=earlier.id),
    )
    report = empty_report()
    report["duplicate_of"] = earlier.id
    return report
