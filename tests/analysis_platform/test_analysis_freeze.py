"""Data freezes: stored once, refused UPDATE and DELETE by the database, and verifiable."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from typing import Any

import pytest
from small_trial import CUTOFF, Outcomes
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from fiptrial.extensions import db
from fiptrial.models import AuditEntry, DataFreeze
from fiptrial.services.audit import verify_chain
from fiptrial.services.exports import build_export
from fiptrial.services.freezes import freeze_trial, verify_freeze


def test_freeze_stores_the_export_and_its_report_with_their_hashes(
    small_trial: dict[str, Any],
) -> None:
    freeze = freeze_trial(small_trial["trial"], "analyst:test", CUTOFF)

    expected_csv = build_export(small_trial["trial"], CUTOFF).csv_bytes()
    assert bytes(freeze.export_csv) == expected_csv
    assert freeze.export_sha256 == hashlib.sha256(expected_csv).hexdigest()
    assert freeze.report_sha256 == hashlib.sha256(freeze.report_json.encode()).hexdigest()
    report = json.loads(freeze.report_json)
    assert report["arms"]["fip"]["net_ratio"] == pytest.approx(1 / 3)
    assert (freeze.cutoff, freeze.participants, freeze.created_by) == (CUTOFF, 10, "analyst:test")
    assert freeze.analysis_version == "0.1.0" or freeze.analysis_version
    entry = db.session.query(AuditEntry).filter_by(action="analysis.frozen").one()
    assert json.loads(entry.data)["export_sha256"] == freeze.export_sha256
    assert verify_chain().ok


@pytest.mark.parametrize(
    "statement",
    ["UPDATE data_freeze SET report_json = '{}' WHERE id = :id",
     "UPDATE data_freeze SET export_sha256 = 'x' WHERE id = :id",
     "DELETE FROM data_freeze WHERE id = :id"],
)  # fmt: skip
def test_the_database_refuses_to_change_or_delete_a_freeze(
    small_trial: dict[str, Any], statement: str
) -> None:
    freeze = freeze_trial(small_trial["trial"], "test", CUTOFF)
    stored = freeze.report_json
    with pytest.raises(DBAPIError, match="immutable"):
        db.session.execute(text(statement), {"id": freeze.id})
        db.session.flush()
    db.session.rollback()
    db.session.expire_all()
    assert db.session.get(DataFreeze, freeze.id).report_json == stored


def test_verify_reproduces_the_figures_even_after_new_data_arrive(
    small_trial: dict[str, Any],
) -> None:
    freeze = freeze_trial(small_trial["trial"], "test", CUTOFF)
    # A later import adds an exit within the frozen period: today's export changes ...
    out = Outcomes(small_trial["site"])
    out.add(small_trial["people"]["stays"], "exit", date(2026, 8, 1), "11")
    db.session.commit()
    assert build_export(small_trial["trial"], CUTOFF).csv_bytes() != bytes(freeze.export_csv)
    # ... but the freeze still reproduces exactly what was published.
    result = verify_freeze(db.session.get(DataFreeze, freeze.id))
    assert result.ok and result.identical and result.differences == []
    second = freeze_trial(small_trial["trial"], "test", CUTOFF)
    assert second.export_sha256 != freeze.export_sha256
    assert json.loads(second.report_json)["arms"]["control"]["net_ratio"] == pytest.approx(4 / 6)


def test_verify_detects_a_tampered_copy(small_trial: dict[str, Any]) -> None:
    """Tampering is simulated on a detached copy: the stored row itself cannot change."""
    freeze = freeze_trial(small_trial["trial"], "test", CUTOFF)
    columns = {c.name: getattr(freeze, c.name) for c in DataFreeze.__table__.columns}

    copy = DataFreeze(**{**columns, "report_json": freeze.report_json.replace("0.5", "0.6")})
    result = verify_freeze(copy)
    assert not result.report_hash_ok and result.export_hash_ok and not result.ok

    lines = bytes(freeze.export_csv).decode().splitlines(keepends=True)
    doctored = "".join(line.replace(",control,", ",fip,", 1) if i == len(lines) - 1 else line
                       for i, line in enumerate(lines)).encode()  # fmt: skip
    copy = DataFreeze(**{**columns, "export_csv": doctored,
                         "export_sha256": hashlib.sha256(doctored).hexdigest()})  # fmt: skip
    result = verify_freeze(copy)
    assert result.export_hash_ok and result.report_hash_ok  # consistent hashes ...
    assert not result.reproduced and not result.ok  # ... but the figures do not reproduce
    assert any("arms" in difference for difference in result.differences)
