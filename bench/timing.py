"""How a benchmark reports a timing against a peer timed in the same run.

The issue asks for ratios against a baseline measured in the same run (these machines are shared
and noisy), beside our own seconds for orientation: ``NAME_seconds_national`` to the
millisecond and ``NAME_vs_PEER`` to four decimals.
"""

from __future__ import annotations


def against_peer(name: str, peer: str, ours: float, theirs: float) -> dict[str, float]:
    """Our seconds and their ratio to the peer's, as the figures ``bench/run.py`` records."""
    return {
        f"{name}_seconds_national": round(ours, 3),
        f"{name}_vs_{peer}": round(ours / theirs, 4),
    }
