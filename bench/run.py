"""Run every benchmark module (bench/bench_*.py) and record its figures.

Each module exposes ``run() -> dict[str, float]``. Figures are ratios against a baseline timed in
the same run wherever the issue asks for it, because these machines are shared and noisy.
The merged figures are printed and written to bench/results.json as {"name": number}.
Run one module with ``python bench/run.py allocation``.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results.json"


def load(path: Path):  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(HERE))
    # Registered before it runs, as an import would be: dataclasses look their module up there.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def main(selected: list[str]) -> int:
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    failures = 0
    for path in sorted(HERE.glob("bench_*.py")):
        name = path.stem.removeprefix("bench_")
        if selected and name not in selected:
            continue
        started = time.perf_counter()
        print(f"== {name}", flush=True)
        try:
            figures = load(path).run()
        except Exception as error:
            failures += 1
            print(f"   failed: {error!r}", flush=True)
            continue
        for key, value in figures.items():
            print(f"   {key} = {value:.4g}", flush=True)
        results.update({key: float(value) for key, value in figures.items()})
        print(f"   ({time.perf_counter() - started:.1f} s)", flush=True)
        RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
