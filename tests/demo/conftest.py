"""The three-year story (``played_story`` in tests/conftest.py: 200 clients, played once per
run), copied for each test module; the full size is measured by bench/bench_demo.py."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask


@pytest.fixture(scope="module")
def small_demo(
    tmp_path_factory: pytest.TempPathFactory, played_story: Any
) -> Iterator[tuple[Flask, dict[str, Any]]]:
    app = played_story.app(tmp_path_factory.mktemp("demo"), TESTING=True)
    with app.app_context():
        from fiptrial.extensions import db

        yield app, played_story.summary
        db.session.remove()
        db.engine.dispose()
