"""The whole ``fiptrial demo`` on SQLite (issue 11): three years of four sites.

- ``demo_seconds``: wall-clock time of the ``fiptrial demo`` process on a freshly migrated
  SQLite database (the migration is not counted); target under 120 s on the two-core machine.
- ``demo_cpu_seconds``: the CPU time of that process. On a machine shared with other jobs the
  wall clock is a multiple of it (the process waits for a core), so this is the figure to
  compare between runs.
- ``demo_share_<phase>``: the share of the wall time each phase of the story took, from the
  demo's own summary (consent and allocation, conversations, imports, jobs, ...): what
  dominates.

Standalone: ``python bench/bench_demo.py``.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FIPTRIAL = Path(sys.executable).with_name("fiptrial")


def run() -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-demo-") as folder:
        env = {**os.environ, "FIPTRIAL_INSTANCE_PATH": folder}
        env.pop("FIPTRIAL_DATABASE_URL", None)
        subprocess.run([str(FIPTRIAL), "db", "upgrade"], env=env, check=True, capture_output=True)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run(
            [str(FIPTRIAL), "demo"], env=env, check=True, capture_output=True, text=True
        )
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    summary = json.loads(done.stdout[: done.stdout.rindex("}") + 1])
    phases = summary["seconds"]
    total = sum(phases.values()) or 1.0
    figures = {"demo_seconds": round(wall, 1), "demo_cpu_seconds": round(cpu, 1)}
    for phase, seconds in phases.items():
        name = "demo_share_" + phase.replace(" ", "_").replace("'", "")
        figures[name] = round(seconds / total, 3)
    return figures


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
