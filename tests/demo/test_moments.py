"""Facts entered after they happened: the explicit moments the services take, and refuse.

``allocated_at``, ``received_at`` and ``frozen_at`` (services.moments) must never lie in the
future, nor before what they follow; a refusal is a 422 naming the field and saying what the
moment may not precede, never quoting a date. The audit entry keeps the real time.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from fiptrial.errors import Unprocessable

NOON = datetime(2026, 11, 10, 11, 0, tzinfo=UTC)


def _refusal(call: Any) -> Unprocessable:
    with pytest.raises(Unprocessable) as caught:
        call()
    error = caught.value
    assert not any(ch.isdigit() for ch in error.message), error.message  # no dates quoted
    return error


def test_allocated_at_is_checked_and_audited(app: Any, build: Any) -> None:
    from fiptrial.extensions import db
    from fiptrial.models import AuditEntry
    from fiptrial.services import randomisation

    site = build.site(build.trial())
    first, second, third = (build.participant(site) for _ in range(3))
    future = _refusal(lambda: randomisation.allocate(
        first.id, actor="test", allocated_at=datetime.now(UTC) + timedelta(hours=2)))  # fmt: skip
    assert future.code == "moment_in_future" and "allocated_at" in future.fields
    early = _refusal(lambda: randomisation.allocate(
        first.id, actor="test", allocated_at=date(2026, 11, 1)))  # fmt: skip
    assert early.code == "allocated_before_registration"
    allocation = randomisation.allocate(first.id, actor="test", allocated_at=NOON)
    assert allocation.allocated_at.replace(tzinfo=UTC) == NOON
    entry = db.session.query(AuditEntry).filter_by(action="allocation.created").one()
    assert json.loads(entry.data)["allocated_at"] == NOON.isoformat()
    assert entry.recorded_at[:10] == datetime.now(UTC).date().isoformat()  # the real time
    order = _refusal(lambda: randomisation.allocate(
        second.id, actor="test", allocated_at=NOON - timedelta(minutes=5)))  # fmt: skip
    assert order.code == "allocated_before_last_allocation"
    assert randomisation.verify_trial(site.trial) == []
    third_at = NOON + timedelta(days=1)
    cohort = randomisation.allocate_cohort(site.id, 1, actor="test", allocated_at=third_at)
    assert cohort.created_at.replace(tzinfo=UTC) == third_at
    moments = {allocation_of(p).allocated_at.replace(tzinfo=UTC) for p in (second, third)}
    assert moments == {third_at}


def allocation_of(participant: Any) -> Any:
    from fiptrial.services.randomisation import existing_allocation

    allocation = existing_allocation(participant.id)
    assert allocation is not None
    return allocation


def test_consent_after_the_moment_refuses_the_allocation(app: Any, build: Any) -> None:
    from fiptrial.services import randomisation

    site = build.site(build.trial())
    person = build.participant(site)  # consent given on 2 November 2026
    refused = _refusal(lambda: randomisation.allocate(
        person.id, actor="test", allocated_at=datetime(2026, 11, 2, 0, 30, tzinfo=UTC)
        - timedelta(days=1)))  # fmt: skip
    assert refused.code in {"allocated_before_consent", "allocated_before_registration"}


def test_received_at_dates_the_import_and_keeps_the_history_in_order(
    app: Any, build: Any, tmp_path: Path
) -> None:
    from fiptrial.extensions import db
    from fiptrial.models import ImportBatch, Participant
    from fiptrial.services import imports

    site = build.site(build.trial())
    export = tmp_path / "export.csv"
    export.write_bytes(_sample(site))
    received = datetime(2026, 6, 4, 9, 0, tzinfo=UTC)
    report = imports.import_participants(site, export, actor="test", received_at=received)
    batch = db.session.get(ImportBatch, report["batch"])
    assert batch.created_at.replace(tzinfo=UTC) == received
    registered = db.session.query(Participant).all()
    assert registered and {p.registered_on for p in registered} == {date(2026, 6, 4)}
    other = tmp_path / "other.csv"
    other.write_bytes(export.read_bytes() + b"\n")
    refused = _refusal(lambda: imports.import_participants(
        site, other, actor="test", received_at=received - timedelta(days=30)))  # fmt: skip
    assert refused.code == "received_before_last_import" and "received_at" in refused.fields
    future = _refusal(lambda: imports.import_outcomes(
        site, other, actor="test", received_at=datetime.now(UTC) + timedelta(days=1)))  # fmt: skip
    assert future.code == "moment_in_future"


def _sample(site: Any) -> bytes:
    from fiptrial.services.imports.common import site_plugin

    sample = site_plugin(site).sample_export()
    assert sample is not None
    return sample.read_bytes()


def test_frozen_at_may_not_precede_the_cutoff(app: Any, build: Any) -> None:
    from fiptrial.services import freezes, randomisation

    site = build.site(build.trial())
    for _ in range(10):
        build.participant(site)
    randomisation.allocate_cohort(site.id, 3, actor="test")
    refused = _refusal(lambda: freezes.freeze_trial(
        site.trial, "test", date.today(), frozen_at=date.today() - timedelta(days=1)))  # fmt: skip
    assert refused.code == "frozen_before_cutoff"
