"""Fixtures of the security tests; the world they share is built in ``security_world``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from security_world import World, build_world


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
def fresh_g_per_request(app: Any) -> None:
    """Each request starts with its own ``g``, as in production.

    The tests hold one application context open (tests/conftest.py), and Flask reuses it for
    every request, so Flask-Login's cached user and Flask-WTF's CSRF token would leak from one
    test client (one browser) into the next.
    """
    from flask import g

    def forget() -> None:
        g.pop("_login_user", None)
        g.pop("csrf_token", None)

    app.before_request_funcs.setdefault(None, []).insert(0, forget)
