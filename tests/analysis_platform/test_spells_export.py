"""The spells file next to the participant file: `fiptrial export` in CSV, SPSS and
Stata, read back with pyreadstat, described by the codebook and hashed by the freeze.

The small trial's events are the ones the platform stored before it kept the rows' benefit
starts (see small_trial.py), so these spells also prove the derivation for older events. The
expected spells are worked out by hand from its events.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from small_trial import CUTOFF

from fiptrial.extensions import db
from fiptrial.models import DataFreeze
from fiptrial.services.exports import SPELL_COLUMNS, build_export, canonical_json, spells_path
from fiptrial.services.freezes import freeze_trial, verify_freeze

START = date(2020, 1, 1)  # every participant's benefit start at registration
# name -> the spells in follow-up (2025-12-01 to the cut-off 2026-11-20, or the withdrawal)
EXPECTED_SPELLS: dict[str, list[tuple[Any, ...]]] = {
    "work": [(1, START, date(2026, 3, 1), "11", None, 0)],
    "pension": [(1, START, date(2026, 4, 1), "03", None, 0)],
    "undone": [(1, START, None, None, None, 1)],  # the exit became a move within the site
    "moved": [(1, START, None, None, None, 1)],
    "corrected": [(1, START, date(2026, 3, 15), "19", None, 0)],
    "withdrew": [(1, START, None, None, None, 0)],  # ended after the withdrawal: censored
    # Its first spell ended before allocation; the re-entry's spell is the one followed.
    "returned": [(1, date(2025, 9, 1), date(2026, 5, 1), "13", None, 0)],
    "late": [(1, START, None, None, None, 0)],  # ended after the cut-off: censored
    "job": [(1, START, date(2026, 6, 1), "11", None, 0)],
    "stays": [(1, START, None, None, None, 0)],
}


def _expected_rows(small_trial: dict[str, Any]) -> list[tuple[Any, ...]]:
    people = small_trial["people"]
    return sorted(
        (people[name].id, *spell) for name, spells in EXPECTED_SPELLS.items() for spell in spells
    )


def test_spells_of_the_small_trial(small_trial: dict[str, Any]) -> None:
    export = build_export(small_trial["trial"], CUTOFF)
    assert export.spells == _expected_rows(small_trial)
    # exit_date and exit_code are the end of spell 1.
    rows = {row["participant"]: row for row in export.rows}
    for pid, number, _start, end, code, _municipality, _transfers in export.spells:
        assert number == 1 and (rows[pid]["exit_date"], rows[pid]["exit_code"]) == (end, code)


def test_cli_writes_both_files_in_every_format(
    runner: Any, small_trial: dict[str, Any], tmp_path: Path
) -> None:
    import pyreadstat

    expected = _expected_rows(small_trial)
    for fmt in ("csv", "sav", "dta"):
        out = tmp_path / f"trial.{fmt}"
        result = runner.invoke(
            args=[
                "export",
                "--trial",
                "t1",
                "--cutoff",
                CUTOFF.isoformat(),
                "--with-baseline",
                str(out),
            ]
        )
        assert result.exit_code == 0, result.output
        spells = tmp_path / f"trial_spells.{fmt}"
        assert spells_path(out) == spells and spells.exists() and out.exists()
        assert f"wrote {spells}" in result.output

    with (tmp_path / "trial_spells.csv").open(encoding="utf-8", newline="") as handle:
        lines = list(csv.reader(handle))
    assert tuple(lines[0]) == SPELL_COLUMNS
    assert lines[1:] == [
        [str(pid), str(n), s.isoformat(), e.isoformat() if e else "", c or "", m or "", str(t)]
        for pid, n, s, e, c, m, t in expected
    ]

    for fmt, read in (("sav", pyreadstat.read_sav), ("dta", pyreadstat.read_dta)):
        frame, meta = read(str(tmp_path / f"trial_spells.{fmt}"))
        assert tuple(frame.columns) == SPELL_COLUMNS
        assert meta.column_names_to_labels["end_code"] == "Reason the spell ended (BUS kenmerk 34)"
        assert all(meta.column_names_to_labels[name] for name in SPELL_COLUMNS)
        assert meta.variable_value_labels["end_code"][19] == "19 Other income"
        got = []
        for row in frame.to_dict("records"):
            end = row["end"] if row["end"] == row["end"] else None  # NaN: missing
            code = f"{int(row['end_code']):02d}" if row["end_code"] == row["end_code"] else None
            got.append((int(row["participant"]), int(row["spell"]), row["start"], end, code,
                        row["municipality"] or None, int(row["transfers"])))  # fmt: skip
        assert got == expected, fmt
        assert isinstance(got[0][2], date)  # a real date, not text

    codebook = (tmp_path / "trial.codebook.md").read_text(encoding="utf-8")
    assert "## Spells file: trial_spells.dta" in codebook  # the last export written
    for name in SPELL_COLUMNS:
        assert f"| {name} |" in codebook
    assert "within 31 days" in codebook and "BUS statistiekcode 01" in codebook


def test_the_freeze_hashes_the_spells_file(small_trial: dict[str, Any]) -> None:
    freeze = freeze_trial(small_trial["trial"], "test", CUTOFF)
    spells_csv = build_export(small_trial["trial"], CUTOFF).spells_csv_bytes()
    assert bytes(freeze.spells_csv) == spells_csv
    assert freeze.spells_sha256 == hashlib.sha256(spells_csv).hexdigest()
    assert verify_freeze(freeze).ok

    columns = {c.name: getattr(freeze, c.name) for c in DataFreeze.__table__.columns}
    doctored = spells_csv.replace(b",13,", b",11,")
    assert doctored != spells_csv
    result = verify_freeze(DataFreeze(**{**columns, "spells_csv": doctored}))
    assert not result.spells_hash_ok and not result.ok
    # A freeze made before spells files (and plans) existed has neither, and its report had no
    # plan section: it still verifies (the re-run's added figures change no stored one).
    report = json.loads(freeze.report_json)
    del report["planned"], report["plan"]
    old_report = canonical_json(report)
    older = DataFreeze(**{
        **columns, "spells_csv": None, "spells_sha256": None, "plan_json": None,
        "plan_sha256": None, "report_json": old_report,
        "report_sha256": hashlib.sha256(old_report.encode()).hexdigest(),
    })  # fmt: skip
    assert verify_freeze(older).ok
    # The plan of a newer freeze is part of what is re-run: another plan gives other figures.
    plan = json.loads(freeze.plan_json)
    plan["plan"]["sustained_exit_days"] = 1
    plan["sha256"] = None
    altered = verify_freeze(DataFreeze(**{**columns, "plan_json": json.dumps(plan)}))
    assert not altered.plan_hash_ok and not altered.ok
    assert any("planned" in d for d in altered.differences)


def test_the_municipality_is_in_the_spells_file_only(
    small_trial: dict[str, Any],
) -> None:
    from fiptrial.models import OutcomeEvent

    people = small_trial["people"]
    event = db.session.query(OutcomeEvent).filter_by(participant_id=people["job"].id).one()
    event.municipality = "GM0748"  # as imports record it now
    db.session.commit()
    export = build_export(small_trial["trial"], CUTOFF, role="research_admin")
    assert "GM0748" not in export.csv_text()
    spells = list(csv.DictReader(io.StringIO(export.spells_csv_text())))
    job = next(row for row in spells if row["participant"] == str(people["job"].id))
    assert job["municipality"] == "GM0748"
    # An analyst's export (and a freeze) has no municipality at all: study data only.
    pooled = build_export(small_trial["trial"], CUTOFF)
    assert "GM0748" not in pooled.csv_text() + pooled.spells_csv_text()
    assert "municipality" not in pooled.spells_csv_text().splitlines()[0]
    for person in people.values():
        text = export.spells_csv_text()
        assert person.pseudonym not in text and person.birth_date.isoformat() not in text


@pytest.mark.parametrize("cutoff", [date(2026, 4, 15), date(2026, 2, 5)])
def test_a_spell_ending_after_the_cutoff_is_written_running(
    small_trial: dict[str, Any], cutoff: date
) -> None:
    export = build_export(small_trial["trial"], cutoff)
    job = small_trial["people"]["job"].id
    (spell,) = [row for row in export.spells if row[0] == job]
    assert spell[3:5] == (None, None)  # ends 2026-06-01, after the cut-off
    assert all(row[3] is None or row[3] <= cutoff for row in export.spells)
