"""The analysis export with the spells file against the export of before (first exit only).

The same scratch trial as ``bench_analysis_export`` (40 sites, ``FIPTRIAL_BENCH_EXPORT_N``,
default 100,000 allocated participants, about a fifth with an exit, some corrected or moved
within the site), plus re-entries: a third of the exits are followed by a new benefit 60 days
later, and half of those end again, so that participants have up to three spells.

* ``spells_export_seconds_100k``: ``build_export`` (queries, spell derivation, baseline facts)
  plus the CSV text of the participant file and of the spells file, as ``fiptrial export``
  writes them; wall-clock seconds, best of five.
* ``spells_vs_first_exit_export``: that export over the export of today before spells existed,
  timed in the same run on the same database, alternating: ``build_export`` and the CSV text
  of ``services/exports.py`` as it was at commit ``FIRST_EXIT_COMMIT`` (read with ``git show``
  and loaded as a module of its own). Target <= 1.5. Best of five in CPU seconds of this
  process (everything, SQLite included, runs in it): on the shared two-core machine the wall
  clock swung the ratio between 0.8 and 1.4 from run to run with the same code, as in
  ``bench_import``.

Run standalone (``python bench/bench_spells.py``) or with ``python bench/run.py spells``.
"""

from __future__ import annotations

import subprocess
import sys
import time
import types
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from bench_analysis_export import N, bench_trial

ROOT = Path(__file__).resolve().parents[1]
#: The last commit of main before benefit spells: its exports.py is the first-exit export.
FIRST_EXIT_COMMIT = "f68ff1b"
ROUNDS = 5


def first_exit_exports() -> types.ModuleType:
    """``fiptrial.services.exports`` as it was before spells, as a module of its own."""
    try:
        source = subprocess.run(
            ["git", "show", f"{FIRST_EXIT_COMMIT}:platform/fiptrial/services/exports.py"],
            cwd=ROOT, capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
    except (OSError, subprocess.CalledProcessError) as error:
        raise RuntimeError(
            f"the baseline needs git and commit {FIRST_EXIT_COMMIT} of this repository"
        ) from error
    module = types.ModuleType("first_exit_exports")
    sys.modules[module.__name__] = module  # dataclasses look their module up
    exec(compile(source, "first_exit_exports.py", "exec"), module.__dict__)
    return module


def _add_reentries() -> int:
    """A third of the exits get a re-entry 60 days later; half of those end again."""
    from sqlalchemy import insert, select

    from fiptrial.extensions import db
    from fiptrial.models import OutcomeEvent

    exits = db.session.execute(
        select(
            OutcomeEvent.participant_id, OutcomeEvent.site_id, OutcomeEvent.batch_id,
            OutcomeEvent.event_date,
        ).where(OutcomeEvent.kind == "exit")
    ).all()  # fmt: skip
    now = datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    for number, (pid, site_id, batch_id, day) in enumerate(exits):
        if number % 3:
            continue
        base = {"participant_id": pid, "site_id": site_id, "mapping_version": "1",
                "batch_id": batch_id, "line": number, "created_at": now, "bus_code": None,
                "previous_date": None, "previous_bus_code": None,
                "municipality": "GM1000"}  # fmt: skip
        start = day + timedelta(days=60)
        rows.append({**base, "kind": "reentry", "event_date": start, "local_code": "",
                     "spell_start": start})  # fmt: skip
        if number % 2 == 0:
            rows.append({**base, "kind": "exit", "event_date": start + timedelta(days=200),
                         "bus_code": "11", "local_code": "E2", "spell_start": start})  # fmt: skip
    db.session.execute(insert(OutcomeEvent), rows)
    db.session.commit()
    return len(rows)


def run() -> dict[str, float]:
    from fiptrial.services.exports import build_export

    with bench_trial("bench-spells-") as (trial, _workdir):
        _add_reentries()
        baseline = first_exit_exports()
        cutoff = date(2026, 6, 30)

        def with_spells() -> Any:
            export = build_export(trial, cutoff)
            export.csv_text()
            export.spells_csv_text()
            return export

        def first_exit() -> Any:
            export = baseline.build_export(trial, cutoff)
            export.csv_text()
            return export

        wall: list[float] = []
        new_cpu: list[float] = []
        old_cpu: list[float] = []
        for _ in range(ROUNDS):
            for timings, call in ((old_cpu, first_exit), (new_cpu, with_spells)):
                started, started_cpu = time.perf_counter(), time.process_time()
                export = call()
                timings.append(time.process_time() - started_cpu)
                if timings is new_cpu:
                    wall.append(time.perf_counter() - started)
                assert len(export.rows) > 0.95 * N
        assert len(export.spells) > len(export.rows)  # re-entries give second spells
    return {
        f"spells_export_seconds_{N // 1000}k": min(wall),
        "spells_vs_first_exit_export": min(new_cpu) / min(old_cpu),
    }


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    for key, value in run().items():
        print(f"{key} = {value:.3f}")
