"""The demo, built once per test module on its own SQLite copy (a small size: a few seconds of
three years; the full size is measured by bench/bench_demo.py and tested once)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

TEST_KEYS = {"SECRET_KEY": "test-secret", "PSEUDONYM_KEY": "test-pseudonym-key"}
SMALL = 200  # Brabantse Wal's caseload; the template sites scale with it


def build_demo(tmp_path: Path, template: Path, participants: int, seed: int) -> Iterator[Any]:
    path = tmp_path / "demo.sqlite"
    shutil.copy(template, path)
    from fiptrial import create_app

    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", **TEST_KEYS})
    with app.app_context():
        from fiptrial.demo.story import play
        from fiptrial.extensions import db

        summary = play(participants=participants, seed=seed)
        yield app, summary
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="module")
def small_demo(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[tuple[Flask, dict[str, Any]]]:
    yield from build_demo(tmp_path_factory.mktemp("demo"), sqlite_template, SMALL, 2014)
