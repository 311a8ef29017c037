"""Fixtures of the security tests; the world they share is built in ``security_world``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from security_world import cheap_password_hashing, fresh_g_per_request, world

__all__ = ["cheap_password_hashing", "world"]


@pytest.fixture(autouse=True)
def fresh_g(app: Any) -> None:
    """Each request starts with its own ``g``, as in production."""
    fresh_g_per_request(app)
