"""Building a demo on its own SQLite copy, for the demo tests' module fixtures."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

TEST_KEYS = {"SECRET_KEY": "test-secret", "PSEUDONYM_KEY": "test-pseudonym-key"}


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
