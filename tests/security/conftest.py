"""Fixtures of the security tests; the world they share is built in ``security_world``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from security_world import World, build_world, fresh_g_per_request


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2 at its production cost makes every test user take a noticeable moment."""
    from argon2 import PasswordHasher

    from fiptrial.services import passwords

    monkeypatch.setattr(
        passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    )


@pytest.fixture
def world(build: Any) -> World:
    return build_world(build)


@pytest.fixture(autouse=True)
def fresh_g(app: Any) -> None:
    """Each request starts with its own ``g``, as in production."""
    fresh_g_per_request(app)
