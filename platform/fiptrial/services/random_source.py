"""Random numbers an auditor can check.

Every random decision starts from a 256-bit seed drawn from the operating system's
cryptographically secure source (:mod:`secrets`). The seed is recorded (its SHA-256 goes into
the audit chain when it is drawn), and the decision is derived from it by a documented
deterministic stream: SHA-256 in counter mode, with rejection sampling so that every
outcome is exactly equally likely. Re-running the derivation from the recorded seed must give
the recorded allocation; :func:`fiptrial.services.randomisation.verify_trial` does exactly that.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")
_TWO_64 = 1 << 64


def new_seed() -> str:
    return secrets.token_hex(32)


def seed_commitment(seed_hex: str) -> str:
    return hashlib.sha256(bytes.fromhex(seed_hex)).hexdigest()


def secure_uniform() -> float:
    """A uniform draw in [0, 1) with 53 random bits, straight from the secure source."""
    return secrets.randbits(53) / (1 << 53)


class SeededStream:
    """A deterministic stream of integers derived from one seed."""

    def __init__(self, seed_hex: str) -> None:
        self._seed = bytes.fromhex(seed_hex)
        self._counter = 0

    def _next64(self) -> int:
        block = hashlib.sha256(self._seed + self._counter.to_bytes(8, "big")).digest()
        self._counter += 1
        return int.from_bytes(block[:8], "big")

    def below(self, n: int) -> int:
        """A uniform integer in [0, n)."""
        if n <= 0:
            raise ValueError("n must be positive")
        limit = _TWO_64 - (_TWO_64 % n)
        while True:
            value = self._next64()
            if value < limit:
                return value % n

    def shuffle(self, items: list[T]) -> list[T]:
        """Fisher-Yates in place; returns the list for convenience."""
        for i in range(len(items) - 1, 0, -1):
            j = self.below(i + 1)
            items[i], items[j] = items[j], items[i]
        return items

    def choice(self, items: Sequence[T]) -> T:
        return items[self.below(len(items))]
