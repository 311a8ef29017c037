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
from datetime import date, datetime
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO

from flask import current_app

from fiptrial.errors import Unprocessable, field_error
from fiptrial.extensions import db
from fiptrial.models import ImportBatch, Site
from fiptrial.plugins.manager import SitePlugin, get_site_plugin
from fiptrial.plugins.mapping import ReasonMapping
from fiptrial.plugins.parsing import redacted
from fiptrial.plugins.prepared import is_prepared
from fiptrial.plugins.rows import ExportRow, RowError
from fiptrial.services import audit
from fiptrial.services.moments import as_moment, past_moment
from fiptrial.services.source_keys import PreparedPlugin
from fiptrial.services.spool import new_spool
from fiptrial.services.transaction import locked, unit_of_work

CHUNK_BYTES = 1024 * 1024
#: Rows per executemany: large enough to amortise the round trip, small enough to stay flat.
INSERT_CHUNK = 5000
#: Rows between two calls of an import's optional ``progress`` callback.
PROGRESS_ROWS = 5000

ImportBody = Callable[[SitePlugin, ReasonMapping, ImportBatch, Path], dict[str, Any]]


def checked_received_at(site: Site, kind: str, received_at: datetime | date) -> datetime:
    """When an export imported late (from an archive, or the demo's three years) arrived.

    Not in the future and not before the site's latest import of the same kind, so that the
    import history stays in the order the exports arrived. A 422 naming ``received_at``.
    """
    moment = past_moment(received_at, "received_at")
    last = (
        db.session.query(db.func.max(ImportBatch.created_at))
        .filter_by(site_id=site.id, kind=kind)
        .scalar()
    )
    if last is not None:
        past_moment(
            moment,
            "received_at",
            not_before=last,
            what="the site's latest import",
            code="received_before_last_import",
        )
    return moment


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
                for chunk in read_chunks(source, max_bytes):
                    size += len(chunk)
                    digest.update(chunk)
                    spool.write(chunk)
            yield cls(Path(name), digest.hexdigest(), size)
        finally:
            Path(name).unlink(missing_ok=True)


def read_chunks(stream: BinaryIO, max_bytes: int | None) -> Iterator[bytes]:
    """The upload in chunks of ``CHUNK_BYTES``, never more than ``max_bytes`` in all.

    Raises:
        Unprocessable: naming the field ``file`` once the upload exceeds ``max_bytes``.
    """
    size = 0
    while chunk := stream.read(CHUNK_BYTES):
        size += len(chunk)
        if max_bytes is not None and size > max_bytes:
            raise field_error(
                "file",
                f"is larger than {max_bytes // (1024 * 1024)} MB",
                code="file_too_large",
                max_mb=max_bytes // (1024 * 1024),
            )
        yield chunk


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


def chosen_mapping(plugin: SitePlugin, version: str | None) -> ReasonMapping:
    """The version of the site's table an import uses: the current one, or the one asked for
    (to re-read an old export under the version it was read with).

    Raises:
        Unprocessable: naming the field ``mapping_version`` when the site never had it.
    """
    if not version:
        return plugin.mapping
    mapping = plugin.mapping_named(version)
    if mapping is None:
        known = ", ".join(m.version for m in plugin.history)
        raise field_error(
            "mapping_version",
            f"the site's plugin has no mapping version {version!r} (it has {known})",
            code="mapping_version_unknown",
            version=version,
            known=known,
        )
    return mapping


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


def audit_data(
    export: ExportFile, plugin: SitePlugin, mapping: ReasonMapping, **extra: Any
) -> dict[str, Any]:
    return {
        "file_sha256": export.sha256,
        "file_bytes": export.size,
        "plugin": plugin.name,
        "plugin_version": plugin.version,
        "mapping_version": mapping.version,
        "mapping_fingerprint": mapping.fingerprint,
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
    mapping_version: str | None = None,
    received_at: datetime | None = None,
) -> tuple[dict[str, Any], bool]:
    """Hash, short-circuit a duplicate, else run ``body`` in one unit of work with its audit.

    Returns the report and whether a new batch was made (``False`` for a duplicate file).
    Imports of one site are serialised on the site's row (SQLite serialises every writer
    anyway), so two uploads of the same file cannot both pass the duplicate check, and two
    exports cannot interleave their events. ``body`` may raise (an
    :class:`~fiptrial.plugins.rows.ExportFormatError` halfway through the file): the unit of
    work then rolls back the batch and every row written so far.

    ``mapping_version`` (default: the current version) reads the file under an earlier version
    of the site's table; the batch records the version used, so the same file under the same
    version is the same batch. ``received_at`` (checked by :func:`checked_received_at` under the
    site's lock) dates the batch when the export arrived earlier than it is imported; the audit
    entry keeps the real time and names it.
    """
    plugin = site_plugin(site)
    mapping = chosen_mapping(plugin, mapping_version)
    max_bytes = current_app.config.get("IMPORT_MAX_BYTES")
    with ExportFile.prepare(source, max_bytes) as export, unit_of_work():
        locked(db.session.query(Site).filter_by(id=site.id)).one()
        earlier = find_batch(site, kind, export.sha256, mapping.version)
        if earlier is not None:
            report = _duplicate(site, kind, actor, export, plugin, mapping, earlier, empty_report)
            return report, False
        moment = None if received_at is None else checked_received_at(site, kind, received_at)
        batch = ImportBatch(
            site_id=site.id,
            kind=kind,
            file_sha256=export.sha256,
            plugin=plugin.name,
            plugin_version=plugin.version,
            mapping_version=mapping.version,
            rows=0,
            report={},
            created_by=actor,
            **({"created_at": moment} if moment is not None else {}),
        )
        db.session.add(batch)
        db.session.flush()
        prepared = is_prepared(export.path)  # pseudonymised at the source
        if prepared:
            plugin = PreparedPlugin(plugin, site)  # type: ignore[assignment]
        report = body(plugin, mapping, batch, export.path)
        if report["rows"] == 0:  # raised inside the unit of work: the batch is rolled back
            raise field_error(
                "file",
                "has a header but no rows: nothing was imported",
                code="export_no_rows",
            )
        if prepared:
            report["bsn_received"] = False  # the report says no BSN arrived
        batch.rows = report["rows"]
        batch.report = report
        audit.record_about(
            f"import.{kind}",
            batch,
            actor=actor,
            site=site.code,
            data=audit_data(
                export,
                plugin,
                mapping,
                counts=_counts(report),
                **({"received_at": moment.isoformat()} if moment is not None else {}),
            ),
        )
    return report, True


@dataclass(frozen=True)
class ImportRequest:
    """What the caller of an import asked for, handed to the kind's body with the batch."""

    site: Site
    actor: str
    #: Called with the rows read so far (see :class:`ExportImporter`), or ``None``.
    progress: Callable[[int], None] | None
    #: When the export arrived, for an export imported late; ``None``: now.
    moment: datetime | None


KindBody = Callable[[ImportRequest, SitePlugin, ReasonMapping, ImportBatch, Path], dict[str, Any]]


@dataclass(frozen=True)
class ExportImporter:
    """One kind of import (enrolment, outcomes): the same call for every kind, so that the
    API, the CLI and the background tasks can run either through one signature."""

    kind: str
    body: KindBody
    empty_report: Callable[[], dict[str, Any]]

    def __call__(
        self,
        site: Site,
        source: BinaryIO | str | os.PathLike[str],
        *,
        actor: str,
        progress: Callable[[int], None] | None = None,
        mapping_version: str | None = None,
        received_at: datetime | date | None = None,
    ) -> dict[str, Any]:
        """Import one export of ``site``; returns the kind's report.

        ``received_at`` dates an export imported after it arrived (see
        :func:`checked_received_at`).

        ``progress`` (optional) is called with the number of rows read so far every
        ``PROGRESS_ROWS`` rows, from inside the import's transaction: it must not write through
        the import's session (the web's background imports keep a status page up to date with
        it).

        The same file under the same mapping version again returns an empty report whose
        ``duplicate_of`` names the earlier batch, without parsing the file.

        Raises:
            ExportFormatError: the file cannot be read (422); nothing is changed.
        """
        moment = None if received_at is None else as_moment(received_at)
        request = ImportRequest(site, actor, progress, moment)
        report, _created = run_import(
            site, source, kind=self.kind, actor=actor, body=partial(self.body, request),
            empty_report=self.empty_report, mapping_version=mapping_version, received_at=moment,
        )  # fmt: skip
        return report


def row_rejection(row: ExportRow) -> dict[str, Any]:
    """The report entry of a row the plugin could not read: the English reasons, and, when
    the plugin said them as :class:`~fiptrial.plugins.rows.RowError`, each error's code and
    parameters, so that the pages say them in the reader's language. Never a value of the row:
    the reason and the parameters pass through ``redacted``, whatever a plugin wrote."""
    entry: dict[str, Any] = {"line": row.line, "reason": redacted("; ".join(row.errors))}
    coded = [
        {
            "code": error.code,
            "params": {
                k: redacted(v) if isinstance(v, str) else v for k, v in error.params.items()
            },
        }
        for error in row.errors
        if isinstance(error, RowError)
    ]
    if coded and len(coded) == len(row.errors):
        entry["errors"] = coded
    return entry


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
    mapping: ReasonMapping,
    earlier: ImportBatch,
    empty_report: Callable[[], dict[str, Any]],
) -> dict[str, Any]:
    """Nothing is imported; the audit trail still shows that the file was offered again."""
    audit.record_about(
        f"import.{kind}.duplicate",
        earlier,
        actor=actor,
        site=site.code,
        data=audit_data(export, plugin, mapping, duplicate_of=earlier.id),
    )
    report = empty_report()
    report["duplicate_of"] = earlier.id
    return report
