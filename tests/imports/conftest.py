"""Fixtures for the import tests: a Brabantse Wal site whose participants are registered,
consented and allocated through the services, and an uploader."""

from __future__ import annotations

import io
from typing import Any

import pytest


@pytest.fixture
def bw_site(build: Any) -> Any:
    trial = build.trial("t1")
    return build.site(trial, "bw", "brabantse_wal")


@pytest.fixture
def enrol(build: Any, bw_site: Any) -> Any:
    """``enrol(allocate=True)`` registers, consents and (optionally) allocates a client;
    returns (participant, bsn)."""
    from fiptrial.services import randomisation

    def make(allocate: bool = True, **overrides: Any) -> tuple[Any, str]:
        bsn = build.next_bsn()
        person = build.participant(bw_site, bsn=bsn, **overrides)
        if allocate:
            randomisation.allocate(person.id, actor="test")
        return person, bsn

    return make


@pytest.fixture
def upload(client: Any, build: Any, bearer: Any) -> Any:
    """``upload(kind, site_code, data)`` POSTs an export as a research admin."""
    headers = bearer(build.token("research_admin"))

    def post(kind: str, site_code: str, data: bytes, name: str = "export.csv") -> Any:
        return client.post(
            f"/api/v1/sites/{site_code}/{kind}-imports",
            headers=headers,
            data={"file": (io.BytesIO(data), name)},
            content_type="multipart/form-data",
        )

    return post
