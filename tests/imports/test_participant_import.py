"""Enrolment import (issue 3): running benefits become participants, as the core registers
them; ended benefits, known BSNs and bad rows are counted, never registered."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from import_helpers import Line, export_bytes

from fiptrial.extensions import db
from fiptrial.models import AuditEntry, ImportBatch, Participant
from fiptrial.services.pseudonyms import pseudonymise


def test_running_benefits_are_registered_with_exact_counts_and_once(
    app: Any, build: Any, bw_site: Any, enrol: Any, upload: Any
) -> None:
    known = enrol(allocate=False)[1]
    fresh = [build.next_bsn() for _ in range(4)]
    lines = [  # (line, expected outcome)
        (Line(fresh[0]), "registered"),
        (Line(fresh[1], sex="M", municipality="GM0873"), "registered"),
        (Line(fresh[2], start="01-10-2026"), "ineligible"),  # under 6 months on benefit
        (Line(fresh[3], end="05-11-2026", reason="ARB"), "ended"),
        (Line(known), "already"),
        (Line(fresh[0]), "already"),  # twice in one file
        (Line("123456789"), "rejected"),  # fails the elfproef
        (Line(build.next_bsn(), municipality="0599"), "rejected"),  # Rotterdam: not this site
        (Line(build.next_bsn(), birth="30-02-1990"), "rejected"),
    ]
    tags = [tag for _line, tag in lines]
    before = db.session.query(Participant).count()

    response = upload("participant", "bw", export_bytes([line for line, _tag in lines]))

    assert response.status_code == 201, response.get_json()
    report = response.get_json()
    assert {
        k: report[k]
        for k in (
            "rows",
            "registered",
            "already_registered",
            "ineligible",
            "ended_benefits_skipped",
            "duplicate_of",
        )
    } == {
        "rows": len(lines),
        "registered": tags.count("registered") + tags.count("ineligible"),
        "already_registered": tags.count("already"),
        "ineligible": tags.count("ineligible"),
        "ended_benefits_skipped": tags.count("ended"),
        "duplicate_of": None,
    }
    assert [r["line"] for r in report["rejected"]] == [
        n + 2 for n, tag in enumerate(tags) if tag == "rejected"
    ]
    assert "GM0599" in report["rejected"][1]["reason"]
    assert db.session.query(Participant).count() == before + report["registered"]
    trial = bw_site.trial
    by_pseudonym = {p.pseudonym: p for p in db.session.query(Participant)}
    second = by_pseudonym[pseudonymise(trial.code, fresh[1])]
    assert (second.sex, second.municipality, second.eligible) == ("male", "GM0873", True)
    assert second.registered_on == date.today()
    slow = by_pseudonym[pseudonymise(trial.code, fresh[2])]
    assert not slow.eligible and slow.ineligible_reasons == ["benefit_under_6_months"]
    assert pseudonymise(trial.code, fresh[3]) not in by_pseudonym
    registered = db.session.query(AuditEntry).filter_by(action="participant.registered")
    assert registered.count() == before + report["registered"]
    assert all(fresh[0] not in json.dumps(a.data) for a in db.session.query(AuditEntry))

    again = upload("participant", "bw", export_bytes([line for line, _tag in lines]))

    assert again.status_code == 200
    assert again.get_json()["duplicate_of"] == report["batch"]
    assert db.session.query(Participant).count() == before + report["registered"]
    assert db.session.query(ImportBatch).count() == 1


def test_cli_import_participants_prints_the_report(
    app: Any, build: Any, bw_site: Any, runner: Any, tmp_path: Any
) -> None:
    path = tmp_path / "enrolment.csv"
    path.write_bytes(
        export_bytes([Line(build.next_bsn()), Line(build.next_bsn())], encoding="utf-8-sig")
    )

    result = runner.invoke(args=["import-participants", "--site", "bw", str(path)])

    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["registered"] == 2


def test_unknown_site_is_a_clear_cli_error(app: Any, runner: Any, tmp_path: Any) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(b"x")
    result = runner.invoke(args=["import-outcomes", "--site", "nowhere", str(path)])
    assert result.exit_code == 1 and "nowhere" in result.output


def test_the_importers_pseudonyms_are_the_cores(app: Any) -> None:
    from fiptrial.services.pseudonyms import pseudonymiser, trial_key

    fast = pseudonymiser(trial_key("t1"))
    for bsn in ("999998523", "999993653", "012345672", "111222333"):
        assert fast(bsn) == pseudonymise("t1", bsn)
