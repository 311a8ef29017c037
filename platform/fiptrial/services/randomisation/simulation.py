"""Simulation before go-live: the expected imbalance of a randomisation scheme, in memory.

A trial's scheme (method, ratios, block multipliers, minimisation probability) is chosen before
the first allocation; ``fiptrial randomisation simulate`` shows what it would do, with the same
:mod:`.rules` as real allocation and the trial's observed stratum frequencies. No rows are
written.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from math import ceil
from statistics import mean
from typing import Any

from fiptrial.extensions import db
from fiptrial.models import Participant, Trial
from fiptrial.services.eligibility import stratum_levels
from fiptrial.services.randomisation.rules import (
    derive_block,
    minimisation_choice,
    minimisation_scores,
)


@dataclass(frozen=True)
class SimulationResult:
    method: str
    participants: int
    runs: int
    strata: dict[str, dict[str, float]]
    overall: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "participants": self.participants,
            "runs": self.runs,
            "overall": self.overall,
            "strata": self.strata,
        }


def simulate(
    *,
    method: str,
    ratios: Mapping[str, int],
    multipliers: Sequence[int],
    probability: float,
    strata_weights: Mapping[str, float],
    participants: int,
    runs: int,
    seed: int = 20141101,
) -> SimulationResult:
    """Expected imbalance of a scheme: enrol ``participants`` ``runs`` times, in memory.

    Imbalance is the FIP count minus its target share (ratio) of the participants, per stratum
    and over the whole trial; we report the mean absolute imbalance, its 95th centile and the
    worst case over the runs. Uses the same rules as real allocation.
    """
    rng = random.Random(seed)
    strata = sorted(strata_weights)
    weights = [strata_weights[s] for s in strata]
    share = ratios.get("fip", 0) / sum(ratios.values())
    per_stratum: dict[str, list[float]] = defaultdict(list)
    overall: list[float] = []
    for _ in range(runs):
        enrolled = rng.choices(strata, weights=weights, k=participants)
        fip_counts: Counter[str] = Counter()
        sizes = Counter(enrolled)
        if method == "minimisation":
            counts: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
            for stratum in enrolled:
                levels = stratum_levels(stratum)
                current = {f: dict(counts[(f, lv)]) for f, lv in levels.items()}
                scores = minimisation_scores(current, ratios)
                arm = minimisation_choice(scores, ratios, probability, rng.random(), rng.random())
                for f, lv in levels.items():
                    counts[(f, lv)][arm] += 1
                fip_counts[stratum] += arm == "fip"
        else:
            streams: dict[str, list[str]] = defaultdict(list)
            for stratum in enrolled:
                if not streams[stratum]:
                    seed_hex = f"{rng.getrandbits(256):064x}"
                    streams[stratum] = derive_block(seed_hex, ratios, multipliers)[::-1]
                fip_counts[stratum] += streams[stratum].pop() == "fip"
        for stratum in strata:
            per_stratum[stratum].append(abs(fip_counts[stratum] - share * sizes[stratum]))
        overall.append(abs(sum(fip_counts.values()) - share * participants))

    def summary(values: list[float]) -> dict[str, float]:
        ordered = sorted(values)
        return {
            "mean_abs_imbalance": round(mean(ordered), 3),
            "p95_abs_imbalance": round(
                ordered[min(len(ordered) - 1, ceil(0.95 * len(ordered)) - 1)], 3
            ),
            "max_abs_imbalance": round(ordered[-1], 3),
        }

    return SimulationResult(
        method=method,
        participants=participants,
        runs=runs,
        strata={s: summary(v) for s, v in per_stratum.items()},
        overall=summary(overall),
    )


def strata_weights_for(trial: Trial) -> dict[str, float]:
    """Observed stratum frequencies of the trial's registered participants, if any."""
    rows: Iterable[tuple[str, int]] = (
        db.session.query(Participant.stratum, db.func.count(Participant.id))
        .filter(Participant.trial_id == trial.id, Participant.eligible.is_(True))
        .group_by(Participant.stratum)
        .all()
    )
    return {stratum: float(n) for stratum, n in rows}
