"""The analysis export: its rows, the rules behind each value, and the files it writes."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from small_trial import ALLOCATED, CUTOFF, EXPECTED, WITHDRAWN

from fiptrial.services.exports import (
    EXPORT_COLUMNS,
    add_years,
    build_export,
    write_export,
)

REPORT_COLUMNS = ("participant", "site", "arm", "allocated_on", "followup_end", "exit_date",
                  "exit_code", "stratum", "age_band", "benefit_duration_band", "sex",
                  "consent_status", "conversations_held", "client_manager")  # fmt: skip
# The baseline columns follow the report's columns (analysis/README.md), in this order.
BASELINE_COLUMNS = ("unit", "age_at_allocation", "months_on_benefit_at_allocation",
                    "aow_days_from_allocation", "education", "country_of_birth_region")  # fmt: skip


def by_name(small_trial: dict[str, Any], export: Any) -> dict[str, dict[str, Any]]:
    rows = {row["participant"]: row for row in export.rows}
    return {name: rows[person.id] for name, person in small_trial["people"].items()}


def test_columns_are_the_report_input_in_order_then_the_baseline_facts() -> None:
    assert EXPORT_COLUMNS == REPORT_COLUMNS + BASELINE_COLUMNS


def test_one_row_per_allocated_participant_with_exits_after_corrections(
    small_trial: dict[str, Any],
) -> None:
    export = build_export(small_trial["trial"], CUTOFF)
    rows = by_name(small_trial, export)

    assert len(export.rows) == len(EXPECTED)  # the allocation made in error is left out
    assert small_trial["mistake"].id not in {r["participant"] for r in export.rows}
    for name, (arm, exit_date, exit_code) in EXPECTED.items():
        row = rows[name]
        assert (row["arm"], row["exit_date"], row["exit_code"]) == (arm, exit_date, exit_code), name
        assert row["site"] == "bw" and row["allocated_on"] == ALLOCATED
        assert row["sex"] == "female" and row["age_band"] and row["stratum"].startswith("site=bw")
    # Follow-up: one year after allocation would be 2026-12-01, so the cut-off ends it ...
    assert rows["stays"]["followup_end"] == CUTOFF
    # ... except for the withdrawal, which ends it on the day consent was withdrawn.
    assert rows["withdrew"]["followup_end"] == WITHDRAWN
    assert rows["withdrew"]["consent_status"] == "withdrawn"
    assert rows["stays"]["consent_status"] == "given"


def test_follow_up_is_capped_by_the_trial_years_when_the_cutoff_is_later(
    small_trial: dict[str, Any],
) -> None:
    from fiptrial.extensions import db

    small_trial["trial"].followup_years = 0  # a design change, to move the end before cut-off
    db.session.flush()
    rows = by_name(small_trial, build_export(small_trial["trial"], CUTOFF))
    assert rows["stays"]["followup_end"] == ALLOCATED
    assert all(r["exit_date"] is None for r in rows.values())  # nobody left on day 0


def test_conversations_and_client_manager_are_counted_within_follow_up(
    small_trial: dict[str, Any],
) -> None:
    rows = by_name(small_trial, build_export(small_trial["trial"], CUTOFF))
    first, _second = small_trial["managers"]
    # Held on 2026-01-10 and 2026-07-10; the missed one and the one after cut-off do not count.
    assert rows["work"]["conversations_held"] == 2
    assert rows["work"]["client_manager"] == first.id  # the first (allocated) client manager
    assert rows["pension"]["conversations_held"] == 0 and rows["pension"]["client_manager"] is None
    assert rows["stays"]["conversations_held"] == 0 and rows["stays"]["client_manager"] is None


def test_consort_counts(small_trial: dict[str, Any]) -> None:
    export = build_export(small_trial["trial"], CUTOFF)
    # 10 + the one randomised in error + the ineligible one registered; 11 eligible.
    assert export.consort == {"assessed": 12, "eligible": 11, "randomised": 11}
    assert export.excluded_randomised_in_error == 1


def test_nothing_identifying_is_exported(small_trial: dict[str, Any]) -> None:
    text = build_export(small_trial["trial"], CUTOFF).csv_text()
    for person in small_trial["people"].values():
        assert person.pseudonym not in text
        assert person.birth_date.isoformat() not in text
    assert "GM0748" not in text and "private note" not in text
    assert "Karin" not in text and "km1" not in text


def test_a_later_cutoff_sees_later_events_and_an_earlier_one_does_not(
    small_trial: dict[str, Any],
) -> None:
    early = by_name(small_trial, build_export(small_trial["trial"], date(2026, 4, 15)))
    assert early["job"]["exit_date"] is None  # 2026-06-01 lies after this cut-off
    assert early["pension"]["exit_code"] == "03"
    assert early["withdrew"]["consent_status"] != "withdrawn"  # withdrawn only on 2026-11-10
    assert early["withdrew"]["followup_end"] == date(2026, 4, 15)
    assert early["work"]["conversations_held"] == 1


def test_csv_is_read_by_fiptrial_analysis_and_reproduces_hand_computed_figures(
    small_trial: dict[str, Any],
    tmp_path: Path,
) -> None:
    """Net ratios by hand from EXPECTED: FIP 4 participants, 2 exits of which 1 pension age,
    so 1 / 3; control 6 participants, 3 exits, none for pension age, so 3 / 6. Pearson's
    chi-square on [[1, 2], [3, 3]]: N (ad - bc)^2 / (r1 r2 c1 c2) = 9 * 9 / (3 * 6 * 4 * 5)."""
    export = build_export(small_trial["trial"], CUTOFF)
    out = tmp_path / "export.csv"
    written = write_export(export, out, "csv")
    assert [p.name for p in written] == [
        "export.csv",
        "export_spells.csv",
        "export.codebook.md",
        "export.consort.json",
        "export.plan.json",
    ]

    result = subprocess.run(
        [sys.executable, "-m", "fiptrial_analysis", "report", str(out),
         "--consort", str(written[3]), "--json"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    report = json.loads(result.stdout)
    assert report["arms"]["fip"]["net_ratio"] == pytest.approx(1 / 3)
    assert report["arms"]["control"]["net_ratio"] == pytest.approx(3 / 6)
    # The command line found the spells file and the unfrozen plan next to the export.
    plan = json.loads(written[4].read_text(encoding="utf-8"))
    assert report["plan"]["sha256"] == plan["sha256"] and report["plan"]["frozen"] is False
    assert "UNFROZEN ANALYSIS PLAN" in result.stderr
    assert report["planned"]["plan"]["version"] == 1
    assert report["arms"]["fip"]["pension_age_exits"] == 1
    assert report["chi_square"]["statistic"] == pytest.approx(9 * 9 / (3 * 6 * 4 * 5))
    assert report["consort"]["assessed"] == 12 and report["consort"]["randomised"] == 11
    assert report["consort"]["arms"]["control"]["lost_to_follow_up"] == 1
    assert report["consort"]["arms"]["fip"]["received_allocated"] == 1  # only "work" was seen
    exits = {row["code"]: (row["fip"], row["control"]) for row in report["exits_by_code"]}
    assert exits["11"] == (1, 1) and exits["19"] == (0, 1) and exits["13"] == (0, 1)
    assert report["data_quality"]["exits_after_followup_not_counted"] == 0  # never exported


@pytest.mark.parametrize("fmt", ["sav", "dta"])
def test_sav_and_dta_round_trip_with_labels(
    small_trial: dict[str, Any], tmp_path: Path, fmt: str
) -> None:
    import pyreadstat

    export = build_export(small_trial["trial"], CUTOFF, role="research_admin")
    out = tmp_path / f"export.{fmt}"
    write_export(export, out, fmt)
    reader = pyreadstat.read_sav if fmt == "sav" else pyreadstat.read_dta
    frame, meta = reader(str(out))

    assert list(frame.columns) == list(EXPORT_COLUMNS)
    assert meta.column_names_to_labels["exit_code"] == "Reason the benefit ended (BUS kenmerk 34)"
    assert all(meta.column_names_to_labels[name] for name in EXPORT_COLUMNS)
    labels = meta.variable_value_labels
    assert labels["arm"] == {1: "fip", 2: "control"}
    assert labels["sex"] == {1: "male", 2: "female"}
    assert labels["exit_code"][3] == "03 Reached state pension (AOW) age"
    assert labels["exit_code"][11].startswith("11 Income from paid employment")

    rows = {int(r["participant"]): r for r in frame.to_dict("records")}
    for name, (arm, exit_date, exit_code) in EXPECTED.items():
        row = rows[small_trial["people"][name].id]
        assert labels["arm"][int(row["arm"])] == arm
        assert row["allocated_on"] == ALLOCATED
        if exit_date is None:
            assert row["exit_date"] != row["exit_date"]  # NaN: missing
            assert row["exit_code"] != row["exit_code"]
        else:
            assert row["exit_date"] == exit_date
            assert f"{int(row['exit_code']):02d}" == exit_code
    assert rows[small_trial["people"]["withdrew"].id]["followup_end"] == WITHDRAWN
    assert rows[small_trial["people"]["work"].id]["conversations_held"] == 2


def test_codebook_names_every_variable_and_bus_code(
    small_trial: dict[str, Any], tmp_path: Path
) -> None:
    export = build_export(small_trial["trial"], CUTOFF, role="research_admin")
    written = write_export(export, tmp_path / "export.csv", "csv")
    codebook = written[2].read_text(encoding="utf-8")
    for name in EXPORT_COLUMNS:
        assert f"| {name} |" in codebook
    assert "| 03 | Reached state pension (AOW) age |" in codebook
    assert "randomised_in_error" in codebook  # the exclusion is stated


# --- The rules on their own -------------------------------------------------------------------


def test_add_years_handles_29_february() -> None:
    assert add_years(date(2024, 2, 29), 1) == date(2025, 2, 28)
    assert add_years(date(2024, 2, 29), 4) == date(2028, 2, 29)
