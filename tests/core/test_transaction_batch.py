"""Several service calls in one transaction (``services.transaction.batch``): each call is its
own unit (a savepoint), the batch commits them together, and the audit chain stays whole."""

from __future__ import annotations

from typing import Any

import pytest

from fiptrial.extensions import db
from fiptrial.models import AuditEntry
from fiptrial.services import audit
from fiptrial.services.transaction import batch, in_batch, unit_of_work


def _entry(action: str) -> None:
    with unit_of_work():
        audit.record(action, actor="test", entity="test", entity_id=1)


def _actions() -> list[str]:
    return [
        e.action
        for e in db.session.query(AuditEntry)
        .filter(AuditEntry.action.like("test.%"))
        .order_by(AuditEntry.id)
    ]


def test_a_refused_call_in_a_batch_leaves_nothing_and_the_others_commit(app: Any) -> None:
    with batch():
        assert in_batch()
        _entry("test.one")
        with pytest.raises(RuntimeError), unit_of_work():
            audit.record("test.refused", actor="test", entity="test", entity_id=2)
            raise RuntimeError("refused by its rules")
        _entry("test.three")
    assert not in_batch()
    db.session.remove()  # a fresh session: what was committed
    assert _actions() == ["test.one", "test.three"]
    ids = [e.id for e in db.session.query(AuditEntry).order_by(AuditEntry.id)]
    assert ids == list(range(1, len(ids) + 1))  # the refused entry's id was not used
    assert audit.verify_chain().ok


def test_an_error_leaving_the_batch_rolls_all_of_it_back(app: Any) -> None:
    before = audit.verify_chain().entries
    with pytest.raises(RuntimeError), batch():
        _entry("test.one")
        _entry("test.two")
        raise RuntimeError("the batch fails")
    db.session.remove()
    assert _actions() == []
    report = audit.verify_chain()
    assert report.ok and report.entries == before
