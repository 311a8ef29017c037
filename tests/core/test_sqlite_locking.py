"""On SQLite, readers must not wait for a writer; writers must queue for the lock up front."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import text

from fiptrial import create_app


def make_app(url: str) -> Flask:
    return create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url})


def _reader(url: str, results: list[Any]) -> None:
    app = make_app(url)
    with app.app_context():
        from fiptrial.extensions import db

        started = time.perf_counter()
        results.append(db.session.execute(text("SELECT count(*) FROM trial")).scalar())
        results.append(time.perf_counter() - started)
        db.session.remove()
        db.engine.dispose()


def test_a_page_reads_while_an_import_holds_the_write_lock(
    tmp_path: Path, sqlite_template: Path
) -> None:
    path = tmp_path / "db.sqlite"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    writer = make_app(url)
    with writer.app_context():
        from fiptrial.extensions import db
        from fiptrial.services.transaction import unit_of_work

        with unit_of_work():
            db.session.execute(text("UPDATE site SET name = name"))  # write lock held
            results: list[Any] = []
            thread = threading.Thread(target=_reader, args=(url, results))
            thread.start()
            thread.join(timeout=20)
            assert not thread.is_alive(), "the reader waited for the writer"
            assert results[0] == 0 and results[1] < 5
        db.session.remove()
        db.engine.dispose()
