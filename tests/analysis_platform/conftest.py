"""Fixtures of the analysis-platform tests (the trial itself is described in small_trial.py)."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from small_trial import load_small_trial, seed_small_trial


@pytest.fixture
def small_trial(app: Flask, build: Any, seeded_snapshots: Any) -> dict[str, Any]:
    """The small trial, built once per test process and database (about a second of services
    and commits) and restored into each test's emptied database after that, ids included."""
    ids = seeded_snapshots.load(app, "small_trial", lambda: seed_small_trial(build), build)
    return load_small_trial(ids)
