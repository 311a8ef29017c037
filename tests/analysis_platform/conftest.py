"""Fixtures of the analysis-platform tests (the trial itself is described in small_trial.py)."""

from __future__ import annotations

from typing import Any

import pytest
from small_trial import build_small_trial


@pytest.fixture
def small_trial(build: Any) -> dict[str, Any]:
    return build_small_trial(build)
