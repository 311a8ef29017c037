"""Outcome import of a 100,000-row ISD Brabantse Wal export against 20,000 allocated participants.

On a SQLite file migrated with the real migrations; the participants and their allocations are
bulk-inserted (not registered through the API), the export is the plugin's synthetic one, and
the import goes through ``services.imports.import_outcomes`` exactly as the API and the CLI
call it.

* ``import_rows_per_second``: rows of the 100,000-row file per second of the whole import
  (hashing, parsing, matching, inserting, audit, commit). Best of five rounds, each on a
  fresh copy of the database, alternating with the floor.
* ``import_vs_floor``: the import's time over a floor measured in the same run: the same file
  read with the csv module, one HMAC per row, and the matched rows inserted with one
  executemany into SQLite. Target <= 3. Measured in CPU seconds of this process (everything,
  SQLite included, runs in it): on the shared two-core machine the wall clock of a
  pure-Python import suffers far more from other people's load than the floor's C loops, so
  wall-clock ratios swing between 2 and 3+ from one run to the next. The wall-clock ratio is
  recorded beside it as ``import_vs_floor_wall_clock``.
* ``reimport_vs_import``: importing the identical file again over the first import (CPU
  seconds). It must short-circuit on the file's SHA-256 before parsing. Target < 0.05.
* ``import_peak_rss_ratio_1m_vs_100k``: peak resident memory (VmHWM from /proc, each in a
  fresh subprocess on a copy of the same database) importing a 1,000,000-row file over a
  100,000-row one. Target <= 2: the import streams.

Run standalone (``python bench/bench_import.py``) or with ``python bench/run.py import``.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

ROWS = 100_000
BIG_ROWS = 1_000_000
PARTICIPANTS = 20_000
SEED = 7
REFERENCE_DATE = date(2026, 11, 1)
KEYS = {"SECRET_KEY": "bench-secret", "PSEUDONYM_KEY": "bench-pseudonym-key"}
TRIAL = "bench"
SITE = "bw"
CHUNK = 5_000
ROUNDS = 5


def _create_app(path: Path) -> Any:
    from fiptrial import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", **KEYS})


def _dispose() -> None:
    from fiptrial.extensions import db

    db.session.remove()
    db.engine.dispose()


def _write_export(path: Path, rows: int) -> None:
    from fiptrial_brabantse_wal.synthetic import write_export

    write_export(path, rows, seed=SEED, reference_date=REFERENCE_DATE)


def _participant_bsns() -> list[str]:
    """Every fifth client of the export: 20,000 of the first 100,000 (the 1M file has the same
    first 100,000 clients, so both files match the same participants)."""
    from fiptrial_brabantse_wal.synthetic import clients

    every = ROWS // PARTICIPANTS
    return [c.bsn for c in clients(ROWS, SEED, REFERENCE_DATE) if c.number % every == 0]


def _prepared_database(workdir: Path) -> Path:
    """A migrated database with a trial, the site and 20,000 allocated participants."""
    from flask_migrate import upgrade
    from sqlalchemy import insert

    from fiptrial.extensions import db
    from fiptrial.models import Allocation, Participant
    from fiptrial.services import trials
    from fiptrial.services.pseudonyms import pseudonymise, trial_key

    path = workdir / "template.sqlite"
    app = _create_app(path)
    with app.app_context():
        upgrade()
        trial = trials.create_trial(
            {"code": TRIAL, "name": "Import bench",
             "arms": [{"code": "fip", "ratio": 1}, {"code": "control", "ratio": 4}],
             "method": "permuted_blocks", "block_multipliers": [1, 2],
             "stratify_by": ["site"], "consent_design": "consent_first", "followup_years": 3},
            actor="bench",
        )  # fmt: skip
        site = trials.add_site(trial, {"code": SITE, "plugin": "brabantse_wal"}, actor="bench")
        key = trial_key(TRIAL)
        now = datetime.now(UTC)
        people = [
            {"trial_id": trial.id, "site_id": site.id, "pseudonym": pseudonymise(TRIAL, b, key=key),
             "birth_date": date(1980, 1, 1), "sex": "female", "benefit_start": date(2020, 1, 1),
             "municipality": "GM0748", "registered_on": date(2026, 11, 2), "age_band": "45-54",
             "benefit_duration_band": "60+", "stratum": f"site={SITE}", "eligible": True,
             "ineligible_reasons": [], "pension_age_date": date(2047, 1, 1),
             "registered_by": "bench", "created_at": now}
            for b in _participant_bsns()
        ]  # fmt: skip
        for start in range(0, len(people), CHUNK):
            db.session.execute(insert(Participant), people[start : start + CHUNK])
        ids = [pid for (pid,) in db.session.query(Participant.id).order_by(Participant.id)]
        allocations = [
            {"trial_id": trial.id, "site_id": site.id, "participant_id": pid,
             "arm": "fip" if n % 5 == 0 else "control", "stratum": f"site={SITE}",
             "sequence": n + 1, "method": "permuted_blocks", "evidence": {}, "status": "active",
             "allocated_by": "bench", "allocated_at": now}
            for n, pid in enumerate(ids)
        ]  # fmt: skip
        for start in range(0, len(allocations), CHUNK):
            db.session.execute(insert(Allocation), allocations[start : start + CHUNK])
        db.session.commit()
        _dispose()
    return path


Timing = tuple[float, float]  # (wall-clock seconds, CPU seconds of this process)


def _clock() -> Timing:
    return time.perf_counter(), time.process_time()


def _since(start: Timing) -> Timing:
    return time.perf_counter() - start[0], time.process_time() - start[1]


def _timed_import(database: Path, export: Path) -> tuple[Timing, dict[str, Any]]:
    from fiptrial.services.imports import import_outcomes
    from fiptrial.services.trials import get_site

    app = _create_app(database)
    with app.app_context():
        site = get_site(SITE)
        started = _clock()
        report = import_outcomes(site, export, actor="bench")
        elapsed = _since(started)
        _dispose()
    return elapsed, report


def _floor(export: Path, workdir: Path) -> Timing:
    """csv module + one HMAC per row + one executemany of the matched rows into SQLite."""
    from fiptrial_brabantse_wal.synthetic import clients

    derived = hmac.new(KEYS["PSEUDONYM_KEY"].encode(), b"fiptrial-trial:" + TRIAL.encode(),
                       hashlib.sha256).digest()  # fmt: skip
    every = ROWS // PARTICIPANTS
    known = {
        hmac.new(derived, c.bsn.encode(), hashlib.sha256).hexdigest(): c.number
        for c in clients(ROWS, SEED, REFERENCE_DATE)
        if c.number % every == 0
    }
    floor_db = workdir / "floor.sqlite"
    floor_db.unlink(missing_ok=True)
    connection = sqlite3.connect(floor_db)
    connection.execute(
        "CREATE TABLE outcome (participant INTEGER, end_date TEXT, code TEXT, line INTEGER)"
    )
    started = _clock()
    matched = []
    with export.open("r", encoding="cp1252", newline="") as handle:
        reader = csv.reader(handle, delimiter=";")
        next(reader)
        for line, fields in enumerate(reader, start=2):
            pid = known.get(
                hmac.new(derived, fields[1].zfill(9).encode(), hashlib.sha256).hexdigest()
            )
            if pid is not None:
                matched.append((pid, fields[6], fields[7], line))
    with connection:
        connection.executemany("INSERT INTO outcome VALUES (?, ?, ?, ?)", matched)
    elapsed = _since(started)
    connection.close()
    return elapsed


def _peak_rss_kib(database: Path, export: Path) -> int:
    """Import in a fresh interpreter and return its peak resident set (VmHWM, KiB)."""
    result = subprocess.run(
        [sys.executable, __file__, "--child", str(database), str(export)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return int(json.loads(result.stdout.strip().splitlines()[-1])["vm_hwm_kib"])


def _child(database: str, export: str) -> None:
    _timed_import(Path(database), Path(export))
    status = Path("/proc/self/status").read_text()
    hwm = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
    print(json.dumps({"vm_hwm_kib": int(hwm.split()[1])}))


def run() -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="fiptrial-bench-import-") as tmp:
        workdir = Path(tmp)
        export = workdir / "export_100k.csv"
        _write_export(export, ROWS)
        template = _prepared_database(workdir)

        # Alternating rounds, best of each: the machine is shared, and noise should hit the
        # import and its floor alike.
        floors, imports, reimports = [], [], []
        for round_ in range(ROUNDS):
            floors.append(_floor(export, workdir))
            database = workdir / f"import_{round_}.sqlite"
            shutil.copy(template, database)
            timing, report = _timed_import(database, export)
            imports.append(timing)
            again_timing, again = _timed_import(database, export)
            reimports.append(again_timing)
            assert report["matched"] > 0 and again["duplicate_of"] == report["batch"], again
        floor = min(cpu for _wall, cpu in floors)
        import_cpu = min(cpu for _wall, cpu in imports)
        reimport_cpu = min(cpu for _wall, cpu in reimports)
        import_wall = min(wall for wall, _cpu in imports)
        floor_wall = min(wall for wall, _cpu in floors)

        big = workdir / "export_1m.csv"
        _write_export(big, BIG_ROWS)
        peaks = {}
        for name, path in (("100k", export), ("1m", big)):
            database = workdir / f"rss_{name}.sqlite"
            shutil.copy(template, database)
            peaks[name] = _peak_rss_kib(database, path)

    return {
        "import_rows_per_second": ROWS / import_wall,
        "import_vs_floor": import_cpu / floor,
        "import_vs_floor_wall_clock": import_wall / floor_wall,
        "reimport_vs_import": reimport_cpu / import_cpu,
        "import_peak_rss_ratio_1m_vs_100k": peaks["1m"] / peaks["100k"],
    }


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        _child(sys.argv[2], sys.argv[3])
    else:
        figures = run()
        out = io.StringIO()
        json.dump(figures, out, indent=2)
        print(out.getvalue())
