"""The whole flow on the plugin's synthetic export: enrol the caseload by import, allocate the
cohort, import a later export with injected faults. The expected counts come from an oracle
that reads the CSV with the csv module and applies the issue's mapping table by hand."""

from __future__ import annotations

import csv
import io
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from fiptrial.extensions import db
from fiptrial.models import Allocation, Participant
from fiptrial.services.pseudonyms import pseudonymise
from lottery_support import allocate_cohort_with_places

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "plugins" / "brabantse_wal" / "tests"))

# The ISD's table at go-live, as the issue gives it (independent of the plugin's data file).
from bw_go_live_table import GO_LIVE

MEMBERS = {"GM0748", "GM0851", "GM0873"}
ROWS, SEED = 400, 11


def oracle(data: bytes, allocated: set[str], trial_code: str, faulty: set[int]) -> dict[str, Any]:
    counts: Counter[str] = Counter()
    exits: Counter[str] = Counter()
    unmapped: Counter[str] = Counter()
    rejected = []
    reader = csv.reader(io.StringIO(data.decode("cp1252")), delimiter=";")
    next(reader)
    for line, fields in enumerate(reader, start=2):
        counts["rows"] += 1
        if line in faulty:
            rejected.append(line)
            continue
        if pseudonymise(trial_code, fields[1].zfill(9)) not in allocated:
            counts["not_in_trial"] += 1
            continue
        counts["matched"] += 1
        end, code, new = fields[6], fields[7], fields[9]
        if not end:
            continue
        if code not in GO_LIVE:
            unmapped[code] += 1
        elif code == "VHG" and new and "GM" + new[-4:] in MEMBERS:
            counts["transfers_within_site"] += 1
        else:
            exits[GO_LIVE[code]] += 1
    return {
        "counts": counts,
        "exits_by_code": dict(sorted(exits.items())),
        "unmapped": dict(unmapped),
        "rejected": rejected,
    }


def test_enrol_allocate_and_import_outcomes_of_a_synthetic_export(
    app: Any, build: Any, upload: Any
) -> None:
    from fiptrial_brabantse_wal.synthetic import write_export

    trial = build.trial("t2", consent_design="zelen")
    site = build.site(trial, "bw", "brabantse_wal")
    enrolment = io.BytesIO()
    write_export(enrolment, ROWS, seed=SEED, exit_share=0)
    enrolled = upload("participant", "bw", enrolment.getvalue()).get_json()
    assert enrolled["registered"] == ROWS and not enrolled["rejected"]
    eligible = db.session.query(Participant).filter_by(site_id=site.id, eligible=True).count()
    allocate_cohort_with_places(site.id, eligible // 5)
    allocated = {
        pseudonym
        for (pseudonym,) in db.session.query(Participant.pseudonym).join(
            Allocation, Allocation.participant_id == Participant.id
        )
    }
    assert len(allocated) == eligible
    outcomes = io.BytesIO()
    summary = write_export(
        outcomes, ROWS, seed=SEED, exit_share=0.3, unknown_codes=3, bad_bsns=2, bad_dates=2
    )
    data = outcomes.getvalue()
    faulty = set(summary.bad_bsn_lines) | set(summary.bad_date_lines)
    expected = oracle(data, allocated, trial.code, faulty)

    report = upload("outcome", "bw", data).get_json()

    counts = expected["counts"]
    assert report["rows"] == counts["rows"] == ROWS
    assert report["not_in_trial"] == counts["not_in_trial"] > 0
    assert report["matched"] == counts["matched"]
    assert report["exits_by_code"] == expected["exits_by_code"]
    assert report["exits"] == sum(expected["exits_by_code"].values()) > 0
    assert report["transfers_within_site"] == counts["transfers_within_site"]
    assert report["unmapped"] == expected["unmapped"]
    assert sorted(r["line"] for r in report["rejected"]) == sorted(expected["rejected"])
    assert upload("outcome", "bw", data).get_json()["duplicate_of"] == report["batch"]
