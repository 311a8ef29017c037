"""Fixtures of the conversation tests; the helpers are in ``conversation_helpers``."""

from __future__ import annotations

from typing import Any

import pytest
from conversation_helpers import FipBuilder


@pytest.fixture
def fip(build: Any) -> FipBuilder:
    return FipBuilder(build)
