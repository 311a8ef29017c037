"""The analysis export, the report on it and a data freeze, at the scale of a large trial.

A scratch SQLite file (migrated with the real migrations) gets one trial with 40 sites and
``FIPTRIAL_BENCH_EXPORT_N`` (default 100,000) allocated participants, bulk-inserted with consent,
outcome events (about a fifth exit, some corrected, some moved within the site, some withdraw)
and FIP conversations. Then, through the services exactly as the CLI calls them:

* ``export_seconds_100k``: ``build_export`` (the queries and the exit rules) plus the CSV text.
* ``export_report_seconds_100k``: the report on that CSV (``fiptrial_analysis.build_report``).
* ``export_sav_seconds_100k``: writing the SPSS file with labels through pyreadstat.
* ``freeze_seconds_100k``: ``freeze_trial`` (export, report, hashes, the stored row, audit).

Run standalone (``python bench/bench_analysis_export.py``) or with
``python bench/run.py analysis_export``. Figures are plain seconds on this shared machine.
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

N = int(os.environ.get("FIPTRIAL_BENCH_EXPORT_N", "100000"))
SITES = 40
CHUNK = 20_000
CODES = ["11", "11", "11", "13", "19", "32", "98", "03", "02", "31"]


def _populate(seed: int = 7) -> None:
    from sqlalchemy import insert

    from fiptrial.extensions import db
    from fiptrial.models import (
        Allocation,
        ConsentEvent,
        ConversationRecord,
        ImportBatch,
        OutcomeEvent,
        Participant,
    )
    from fiptrial.services import consent, trials

    rng = random.Random(seed)
    trial = trials.create_trial(
        {"code": "bench", "name": "Bench", "followup_years": 2, "method": "permuted_blocks",
         "block_multipliers": [1, 2], "stratify_by": ["site"], "consent_design": "consent_first",
         "arms": [{"code": "fip", "ratio": 1}, {"code": "control", "ratio": 4}]},
        actor="bench",
    )  # fmt: skip
    consent.register_form(trial, version="v1", valid_from=date(2020, 1, 1),
                          requires_reconsent=False, actor="bench")  # fmt: skip
    sites = [
        trials.add_site(trial, {"code": f"s{i:03d}", "plugin": "template",
                                "municipalities": [f"GM{1000 + i:04d}"]}, actor="bench")
        for i in range(SITES)
    ]  # fmt: skip
    batches = {}
    for site in sites:
        batch = ImportBatch(site_id=site.id, kind="outcomes", file_sha256=f"{site.id:064d}",
                            plugin="bench", plugin_version="1", mapping_version="1", rows=0,
                            report={}, created_by="bench")  # fmt: skip
        db.session.add(batch)
        db.session.flush()
        batches[site.id] = batch.id
    db.session.commit()

    start = date(2024, 1, 1)
    now = datetime.now(UTC)
    for first in range(0, N, CHUNK):
        people, allocations, consents, events, talks = [], [], [], [], []
        for i in range(first, min(N, first + CHUNK)):
            pid = i + 1
            site = sites[i % SITES]
            fip = rng.random() < 0.2 + 0.1 * (i % SITES) / SITES
            allocated = start + timedelta(days=rng.randrange(365))
            people.append({
                "id": pid, "trial_id": trial.id, "site_id": site.id, "pseudonym": f"{pid:064x}",
                "birth_date": date(1970, 1, 1), "sex": rng.choice(["male", "female"]),
                "benefit_start": date(2020, 1, 1), "registered_on": allocated,
                "age_band": rng.choice(["27-34", "35-44", "45-54"]),
                "benefit_duration_band": rng.choice(["12-23", "24-59", "60+"]),
                "stratum": f"site={site.code}", "eligible": True, "ineligible_reasons": [],
                "pension_age_date": date(2037, 1, 1), "registered_by": "bench",
                "created_at": now,
            })  # fmt: skip
            allocations.append({
                "trial_id": trial.id, "site_id": site.id, "participant_id": pid,
                "arm": "fip" if fip else "control", "stratum": f"site={site.code}",
                "sequence": i, "method": "permuted_blocks", "evidence": {}, "status": "active",
                "allocated_by": "bench",
                "allocated_at": datetime(allocated.year, allocated.month, allocated.day,
                                         tzinfo=UTC),
            })  # fmt: skip
            consents.append(
                {
                    "participant_id": pid,
                    "status": "given",
                    "form_version": "v1",
                    "date": allocated,
                    "recorded_by": "bench",
                    "recorded_at": now,
                }
            )
            if rng.random() < 0.02:
                consents.append(
                    {
                        "participant_id": pid,
                        "status": "withdrawn",
                        "form_version": "v1",
                        "recorded_by": "bench",
                        "recorded_at": now,
                        "date": allocated + timedelta(days=rng.randrange(1, 500)),
                    }
                )
            base = {"participant_id": pid, "site_id": site.id, "mapping_version": "1",
                    "batch_id": batches[site.id], "line": i, "created_at": now,
                    "previous_date": None, "previous_bus_code": None}  # fmt: skip
            if rng.random() < 0.22 + (0.05 if fip else 0.0):
                day = allocated + timedelta(days=rng.randrange(1, 700))
                code = rng.choice(CODES)
                events.append({**base, "kind": "exit", "event_date": day, "bus_code": code,
                               "local_code": "E"})  # fmt: skip
                if rng.random() < 0.1:
                    new_code = None if rng.random() < 0.3 else rng.choice(CODES)
                    events.append({**base, "kind": "correction",
                                   "event_date": day - timedelta(days=3), "bus_code": new_code,
                                   "local_code": "C", "previous_date": day,
                                   "previous_bus_code": code})  # fmt: skip
            elif rng.random() < 0.03:
                events.append(
                    {
                        **base,
                        "kind": "transfer_within_site",
                        "bus_code": None,
                        "event_date": allocated + timedelta(days=30),
                        "local_code": "T",
                    }
                )
            if fip:
                for k in range(rng.randrange(0, 6)):
                    talks.append({"participant_id": pid, "site_id": site.id,
                                  "held_on": allocated + timedelta(days=90 * k + 1),
                                  "status": "held", "duration_minutes": 45,
                                  "recorded_by": "bench", "created_at": now})  # fmt: skip
        for model, rows in ((Participant, people), (Allocation, allocations),
                            (ConsentEvent, consents), (OutcomeEvent, events),
                            (ConversationRecord, talks)):  # fmt: skip
            if rows:
                db.session.execute(insert(model), rows)
        db.session.commit()


@contextmanager
def bench_trial(prefix: str) -> Iterator[tuple[Any, Path]]:
    """The populated bench trial in an app context on a scratch SQLite file (migrated with the
    real migrations); yields the trial and the scratch folder, removed afterwards."""
    from fiptrial import create_app

    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        app = create_app({
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{workdir / 'bench.sqlite'}",
            "SECRET_KEY": "bench", "PSEUDONYM_KEY": "bench",
        })  # fmt: skip
        with app.app_context():
            from flask_migrate import upgrade

            from fiptrial.services.trials import get_trial

            upgrade()
            _populate()
            yield get_trial("bench"), workdir
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def run() -> dict[str, float]:
    from fiptrial.services.exports import analyse, build_export, write_export
    from fiptrial.services.freezes import freeze_trial

    with bench_trial("bench-export-") as (trial, workdir):
        cutoff = date(2026, 6, 30)

        started = time.perf_counter()
        export = build_export(trial, cutoff)
        export.csv_text()
        export_seconds = time.perf_counter() - started

        started = time.perf_counter()
        report = analyse(export)
        report_seconds = time.perf_counter() - started
        assert report["trial"]["participants"] == N

        started = time.perf_counter()
        write_export(export, workdir / "bench.sav", "sav")
        sav_seconds = time.perf_counter() - started

        started = time.perf_counter()
        freeze_trial(trial, "bench", cutoff)
        freeze_seconds = time.perf_counter() - started
    suffix = f"{N // 1000}k"
    return {
        f"export_seconds_{suffix}": export_seconds,
        f"export_report_seconds_{suffix}": report_seconds,
        f"export_sav_seconds_{suffix}": sav_seconds,
        f"freeze_seconds_{suffix}": freeze_seconds,
    }


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key} = {value:.3f}")
