"""Shared helpers for the fiptrial_analysis tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

DATA = Path(__file__).parent / "data"


def assert_published(actual, expected, decimals: int | None = None) -> None:
    """Compare with a published value: rtol 1e-4, widened to the printed precision.

    A value printed with ``decimals`` decimals is only known to half a unit in its last place
    (0.0524 means 0.05235 to 0.05245), so that much absolute slack is allowed too. Values printed
    to full precision pass ``decimals=None`` and get rtol 1e-4 alone.
    """
    atol = 0.0 if decimals is None else 0.5 * 10.0**-decimals
    assert_allclose(np.asarray(actual, dtype=float), expected, rtol=1e-4, atol=atol)


@pytest.fixture
def published() -> Callable[..., None]:
    return assert_published


@pytest.fixture
def data_dir() -> Path:
    return DATA
