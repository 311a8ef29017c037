"""The sites' keys for pseudonymisation at the source (see ``fiptrial.plugins.prepared``).

A site key is derived, never stored: HMAC-SHA512 of the site's trial, code and key version
under the platform's pseudonym key, so the platform can always re-derive any site's key and a
municipality's key says nothing about another's. Issuing a version (``fiptrial site-key
issue``) records its fingerprint and writes the key file for the municipality; retiring a
version (after rotation) makes the platform refuse files prepared with it. Both are audited.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any

from flask import current_app
from sqlalchemy import func

from fiptrial.errors import NotFound
from fiptrial.extensions import db
from fiptrial.models import Site, SourceKey
from fiptrial.plugins.prepared import PreparedHeader, SiteKey, read_prepared
from fiptrial.plugins.rows import ExportFormatError
from fiptrial.services import audit
from fiptrial.services.transaction import unit_of_work


def derive(site: Site, version: int) -> SiteKey:
    master = current_app.config["PSEUDONYM_KEY"].encode()
    label = f"fiptrial-site-key:{site.trial.code}:{site.code}:v{version}".encode()
    key = hmac.new(master, label, hashlib.sha512).digest()
    return SiteKey(site.trial.code, site.code, site.plugin, version, key)


def issue(site: Site, *, actor: str) -> SiteKey:
    """A new key version for ``site`` (the earlier ones stay valid until retired)."""
    with unit_of_work():
        latest = db.session.query(func.max(SourceKey.version)).filter_by(site_id=site.id).scalar()
        key = derive(site, (latest or 0) + 1)
        row = SourceKey(
            site_id=site.id, version=key.version, fingerprint=key.fingerprint(), issued_by=actor
        )
        db.session.add(row)
        db.session.flush()
        _audit_key("source_key.issued", site, key.version, key.fingerprint(), actor=actor)
    return key


def retire(site: Site, version: int, *, actor: str) -> None:
    with unit_of_work():
        row = db.session.query(SourceKey).filter_by(site_id=site.id, version=version).first()
        if row is None:
            raise NotFound(f"site {site.code} has no key version {version}")
        row.retired_at = row.retired_at or datetime.now(UTC)
        _audit_key("source_key.retired", site, version, row.fingerprint, actor=actor)


def _audit_key(action: str, site: Site, version: int, fingerprint: str, *, actor: str) -> None:
    """A key version's issue or retirement is audited about its site (named by its code, as
    the key file names it), with the version and its fingerprint: never the key itself."""
    audit.record(
        action,
        actor=actor,
        entity="site",
        entity_id=site.code,
        site=site.code,
        data={"version": version, "fingerprint": fingerprint},
    )


def key_for(site: Site) -> Any:
    """The chooser :func:`fiptrial.plugins.prepared.read_prepared` asks for a file's key."""

    def choose(header: PreparedHeader) -> SiteKey:
        if header.site != site.code or header.trial != site.trial.code:
            raise ExportFormatError(
                "the file was prepared for another site or trial", code="prepared_wrong_site"
            )
        row = (
            db.session.query(SourceKey)
            .filter_by(site_id=site.id, version=header.key_version)
            .one_or_none()
        )
        if row is None or row.retired_at is not None:
            raise ExportFormatError(
                f"key version {header.key_version} of this site is not (or no longer) valid",
                code="prepared_key_retired",
                version=header.key_version,
            )
        return derive(site, header.key_version)

    return choose


class PreparedPlugin:
    """The site's plugin, except that it reads a prepared file (``run_import`` swaps it in)."""

    def __init__(self, plugin: Any, site: Site) -> None:
        self._plugin = plugin
        self._site = site

    def __getattr__(self, name: str) -> Any:
        return getattr(self._plugin, name)

    def read_export(self, source: Any, wanted: Any = None) -> Any:
        """The prepared file's rows, each read in full (``wanted`` is not needed: the file
        holds no more than the site's reader gave)."""
        return read_prepared(source, key_for(self._site))
