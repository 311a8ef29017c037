"""The synthetic export generator: realistic, reproducible, and its summary is exact."""

from __future__ import annotations

import io
import itertools
from collections import Counter
from datetime import date
from importlib import resources
from statistics import mean

import pytest
from stdnum.nl import bsn as stdnum_bsn

from fiptrial.plugins.manager import build_plugin_host
from fiptrial_brabantse_wal import synthetic

SITE = build_plugin_host(entry_points="brabantse_wal")["brabantse_wal"]
read_export = SITE.read_export


def _export(rows: int = 2000, **options) -> tuple[bytes, synthetic.SyntheticSummary]:
    buffer = io.BytesIO()
    summary = synthetic.write_export(buffer, rows, **options)
    return buffer.getvalue(), summary


def test_same_seed_same_file():
    assert _export(300, seed=9)[0] == _export(300, seed=9)[0]
    assert _export(300, seed=9)[0] != _export(300, seed=10)[0]


def test_bsns_are_valid_and_distinct():
    numbers = list(itertools.islice(synthetic.valid_bsns(1), 20_000))
    assert len(set(numbers)) == len(numbers)
    assert all(stdnum_bsn.is_valid(n) for n in numbers[:2000])
    assert any(n.startswith("0") for n in numbers)


def test_the_summary_matches_what_the_platform_reads(site):
    data, summary = _export(3000, unknown_codes=2, bad_bsns=3, bad_dates=4, historic_share=0.2)
    mapper = site.reason_mapper()
    counts: Counter[str] = Counter()
    exits: Counter[str] = Counter()
    unmapped_lines, error_lines = [], []
    for row in read_export(io.BytesIO(data)):
        if row.errors:
            error_lines.append(row.line)
            continue
        if row.local_reason is None:
            counts["running"] += 1
            continue
        mapped = mapper(row.local_reason, row.new_municipality)
        counts[mapped.kind] += 1
        if mapped.kind == "exit":
            exits[mapped.bus_code] += 1
        elif mapped.kind == "unmapped":
            unmapped_lines.append(row.line)
    assert counts["running"] == summary.running
    assert counts["transfer"] == summary.transfers_within_site
    assert exits == summary.exits_by_code
    assert unmapped_lines == sorted(summary.unknown_code_lines)
    assert error_lines == sorted(summary.bad_bsn_lines + summary.bad_date_lines)
    assert summary.rows == 3000
    assert summary.historic_code_rows > 0 and summary.leading_zero_dropped > 0


def test_partners_share_one_benefit_and_special_assistance_is_another_kind():
    data, summary = _export(3000, partner_share=0.2, special_assistance=5)
    rows = list(read_export(io.BytesIO(data)))
    assert summary.rows == len(rows) == 3005
    special = [row for row in rows if row.statistic_code == "12"]
    assert [row.line for row in special] == sorted(summary.special_assistance_lines)
    assert all(row.benefit_end is not None and row.unit_key for row in special)
    benefits: dict[str, list] = {}
    for row in rows:
        if row.statistic_code == "01":
            benefits.setdefault(row.unit_key, []).append(row)
    couples = [pair for pair in benefits.values() if len(pair) > 1]
    assert len(couples) == summary.partners > 400  # about a fifth of 3000 rows
    assert all(len(pair) == 2 for pair in couples)  # couples, never three on a benefit
    for first, second in couples:
        assert first.bsn != second.bsn and first.line + 1 == second.line
        assert (first.municipality, first.benefit_start) == (
            second.municipality,
            second.benefit_start,
        )
    ended_together = sum(first.benefit_end == second.benefit_end for first, second in couples)
    assert ended_together >= 0.95 * len(couples)  # one benefit ends for both (but pension age)
    _, without = _export(300, partner_share=0)
    assert without.partners == 0


def test_population_resembles_the_pilot():
    data, summary = _export(20_000)
    rows = list(read_export(io.BytesIO(data)))
    reference = date(2026, 2, 1)
    ages = [(reference - r.birth_date).days / 365.25 for r in rows]
    months = [(reference - r.benefit_start).days / 30.44 for r in rows]
    assert 42 < mean(ages) < 46 and min(ages) >= 18 and max(ages) < 68.1
    assert 50 < mean(months) < 60 and min(months) >= 6
    assert 0.44 < sum(r.sex == "male" for r in rows) / len(rows) < 0.49
    ended = len(rows) - summary.running
    assert 0.14 < ended / len(rows) < 0.18
    assert summary.exits_by_code.most_common(1)[0][0] in {"32", "19"}
    assert summary.transfers_within_site > 0 and summary.moves_outside_site > 0
    assert summary.exits_by_code["03"] > 0  # those who reached pension age left for it


def test_enrolment_and_outcome_exports_describe_the_same_clients():
    enrolment = list(read_export(io.BytesIO(_export(500, exit_share=0, seed=4)[0])))
    later = list(read_export(io.BytesIO(_export(500, seed=4)[0])))
    assert all(row.is_running for row in enrolment)
    assert [(r.bsn, r.birth_date, r.benefit_start) for r in enrolment] == [
        (r.bsn, r.birth_date, r.benefit_start) for r in later
    ]
    assert any(not row.is_running for row in later)


def test_utf8_with_bom():
    data, _ = _export(50, encoding="utf-8-sig")
    assert data.startswith(b"\xef\xbb\xbf")
    assert len(list(read_export(io.BytesIO(data)))) == 50


def test_shipped_sample_is_the_recorded_command(tmp_path):
    out = tmp_path / "sample.csv"
    assert synthetic.main([*synthetic.SAMPLE_ARGS, str(out)]) == 0
    shipped = resources.files("fiptrial_brabantse_wal") / "data" / "sample_export.csv"
    assert out.read_bytes() == shipped.read_bytes(), (
        f"regenerate data/sample_export.csv with: {synthetic.SAMPLE_COMMAND} <path>"
    )


@pytest.mark.parametrize("rows", [0, 1])
def test_tiny_exports(rows):
    data, summary = _export(rows, unknown_codes=1)
    assert summary.rows == rows
    assert len(list(read_export(io.BytesIO(data)))) == rows
