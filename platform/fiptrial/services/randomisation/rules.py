"""The randomisation rules: what a seed, or a set of counts, decides. No database access.

Real allocation (:mod:`.allocation`, :mod:`.cohort`), its re-derivation (:mod:`.verification`)
and the simulation before go-live (:mod:`.simulation`) all call these functions, so they cannot
disagree. Three ways to allocate, all concealed until the moment of allocation and all
re-verifiable:

* **Stratified permuted blocks** with randomly varied block sizes. A block holds each arm's
  ratio times a multiplier drawn from ``block_multipliers`` (1:4 with [1, 2] gives blocks of 5
  and 10), shuffled. The block is derived from a fresh secure seed when the previous block of
  the stratum is used up; the seed's SHA-256 goes into the audit chain at that moment.
* **Pocock-Simon minimisation** over the stratification factors, with ratio-weighted counts so
  that unequal ratios (1:4) are honoured, and a random element: the arm that minimises the
  imbalance is taken with probability ``minimisation_probability`` (default 0.8) when it is
  the smallest arm, and with the biased-coin probability that keeps the ratio otherwise.
* **Cohort allocation** at the start of a site: the current eligible caseload in one step, an
  exact number to FIP (the site's capacity), proportionally within strata, leftover places
  (misfits) to strata drawn at random with probability proportional to their remainders.
  When a site may run one (size, FIP number, capacity, a second cohort) is decided by the rules
  in :mod:`fiptrial.services.lottery`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from fiptrial.services.random_source import SeededStream

METHODS = ("permuted_blocks", "minimisation")
CORRECTION_KINDS = ("randomised_in_error",)


def derive_block(seed_hex: str, ratios: Mapping[str, int], multipliers: Sequence[int]) -> list[str]:
    """The permuted block that a seed stands for: a multiplier, then a Fisher-Yates shuffle."""
    stream = SeededStream(seed_hex)
    multiplier = multipliers[stream.below(len(multipliers))]
    arms = [arm for arm, ratio in sorted(ratios.items()) for _ in range(ratio * multiplier)]
    return stream.shuffle(arms)


def minimisation_scores(
    counts: Mapping[str, Mapping[str, int]], ratios: Mapping[str, int]
) -> dict[str, float]:
    """Pocock-Simon imbalance if the next participant went to each arm.

    ``counts`` maps each stratification factor to the per-arm numbers already allocated at the
    new participant's level of that factor. Counts are divided by the arm's ratio, so "balance"
    means "in the target proportion"; the imbalance of a factor is the range of those values.
    """
    arms = sorted(ratios)
    scores = {}
    for candidate in arms:
        total = 0.0
        for arm_counts in counts.values():
            weighted = [(arm_counts.get(arm, 0) + (arm == candidate)) / ratios[arm] for arm in arms]
            total += max(weighted) - min(weighted)
        scores[candidate] = total
    return scores


def weighted_pick(arms: Sequence[str], ratios: Mapping[str, int], u: float) -> str:
    """The arm at ``u`` in [0, 1) when each arm's share is its ratio."""
    total = sum(ratios[arm] for arm in arms)
    edge = 0.0
    for arm in arms:
        edge += ratios[arm] / total
        if u < edge:
            return arm
    return arms[-1]


def preferred_probability(preferred: str, ratios: Mapping[str, int], probability: float) -> float:
    """Probability of taking the minimising arm, so that unequal ratios stay unbiased.

    Biased-coin minimisation (Han, Enas and McEntegart, Stat Med 2009): ``probability`` applies
    when the arm with the smallest ratio is preferred; for any other preferred arm it is
    ``1 - (sum of the other arms' ratios) / (sum of the ratios besides the smallest arm)
    * (1 - probability)``. With 1:4 and 0.8: FIP preferred 0.8, control preferred 0.95. A
    plain 0.8 for every arm would let FIP drift above its 1 in 5 whenever control is preferred.
    """
    smallest = min(ratios, key=lambda arm: (ratios[arm], arm))
    others_of_preferred = sum(r for arm, r in ratios.items() if arm != preferred)
    others_of_smallest = sum(r for arm, r in ratios.items() if arm != smallest)
    return 1 - others_of_preferred / others_of_smallest * (1 - probability)


def minimisation_choice(
    scores: Mapping[str, float],
    ratios: Mapping[str, int],
    probability: float,
    u_tie: float,
    u_coin: float,
) -> str:
    """Take the minimising arm with its biased-coin probability, else another arm by ratio.

    When all arms tie (the first participant of a level), the arm is drawn with the target
    proportions, which keeps the expected allocation ratio right from the start.
    """
    arms = sorted(ratios)
    best = min(scores.values())
    tied = [arm for arm in arms if scores[arm] == best]
    if len(tied) == len(arms):
        return weighted_pick(arms, ratios, u_coin)
    preferred = tied[min(int(u_tie * len(tied)), len(tied) - 1)]
    p_preferred = preferred_probability(preferred, ratios, probability)
    if u_coin < p_preferred:
        return preferred
    others = [arm for arm in arms if arm != preferred]
    rescaled = (u_coin - p_preferred) / (1 - p_preferred) if p_preferred < 1 else 0.0
    return weighted_pick(others, ratios, rescaled)


def cohort_quotas(sizes: Mapping[str, int], fip: int, stream: SeededStream) -> dict[str, int]:
    """Split ``fip`` places over strata in proportion to their sizes, exactly.

    Each stratum gets the integer part of its share; the leftover places (misfits) go to strata
    drawn at random, without replacement, with probability proportional to the remainders.
    Integer arithmetic throughout, so the derivation is exact and reproducible.
    """
    total = sum(sizes.values())
    quotas = {stratum: fip * size // total for stratum, size in sizes.items()}
    remainders = {stratum: fip * size % total for stratum, size in sizes.items()}
    for _ in range(fip - sum(quotas.values())):
        candidates = sorted(s for s, weight in remainders.items() if weight > 0)
        draw = stream.below(sum(remainders[s] for s in candidates))
        for stratum in candidates:
            draw -= remainders[stratum]
            if draw < 0:
                quotas[stratum] += 1
                remainders[stratum] = 0
                break
    return quotas


def derive_cohort(
    seed_hex: str, strata: Mapping[str, Sequence[int]], fip: int
) -> dict[str, list[int]]:
    """The participants (ids) of each stratum that a cohort seed sends to FIP."""
    stream = SeededStream(seed_hex)
    quotas = cohort_quotas({s: len(ids) for s, ids in strata.items()}, fip, stream)
    chosen = {}
    for stratum in sorted(strata):
        ids = stream.shuffle(sorted(strata[stratum]))
        chosen[stratum] = sorted(ids[: quotas[stratum]])
    return chosen
