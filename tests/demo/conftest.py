"""The demo, built once per test module on its own SQLite copy (a small size: a few seconds of
three years; the full size is measured by bench/bench_demo.py and tested once)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from demo_helpers import build_demo
from flask import Flask

SMALL = 200  # Brabantse Wal's caseload; the template sites scale with it


@pytest.fixture(scope="module")
def small_demo(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[tuple[Flask, dict[str, Any]]]:
    yield from build_demo(tmp_path_factory.mktemp("demo"), sqlite_template, SMALL, 2014)
