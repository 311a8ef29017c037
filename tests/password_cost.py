"""Password hashing at a test's cost.

At the production cost (argon2-cffi's default, RFC 9106's low-memory profile) every user a test
creates and every login costs about a fifth of a CPU second, and the browser journeys log in
some hundred times. argon2-cffi's ``CHEAPEST`` profile is the one it names for tests. The hash
that an unknown user name is checked against is made at the same cost, so that an unknown name
still takes as long as a wrong password.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from argon2 import PasswordHasher, profiles


@contextmanager
def cheap_hashing() -> Iterator[None]:
    """``fiptrial.services.passwords`` hashes and verifies at the cheapest cost inside the block."""
    from fiptrial.services import passwords

    hasher = PasswordHasher.from_parameters(profiles.CHEAPEST)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(passwords, "_hasher", hasher)
        patch.setattr(passwords, "_DUMMY_HASH", hasher.hash("a hash for unknown user names"))
        yield
