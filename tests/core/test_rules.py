"""Pure rules: BSN pseudonyms, pension age, bands, blocks, minimisation, cohort quotas."""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest

from fiptrial.errors import Unprocessable
from fiptrial.services.eligibility import band_label, whole_months, whole_years
from fiptrial.services.pension import pension_age_date
from fiptrial.services.pseudonyms import (
    normalise_bsn,
    pseudonymise,
    trial_key,
    unit_pseudonymiser,
)
from fiptrial.services.random_source import SeededStream
from fiptrial.services.randomisation import (
    cohort_quotas,
    derive_block,
    derive_cohort,
    minimisation_choice,
    minimisation_scores,
    simulate,
)


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("999998523", "999998523"),
        ("111222333", "111222333"),
        (" 1234 567 82 ", "123456782"),
        ("12345672", "012345672"),  # Excel dropped the leading zero
    ],
)
def test_valid_bsns_are_normalised(raw: str, expected: str) -> None:
    assert normalise_bsn(raw) == expected


@pytest.mark.parametrize("raw", ["123456789", "000000000", "12345", "abcdefghi", ""])
def test_invalid_bsns_are_refused_naming_the_field(raw: str) -> None:
    with pytest.raises(Unprocessable) as error:
        normalise_bsn(raw)
    assert "bsn" in error.value.fields


def test_pseudonyms_are_keyed_and_separate_per_trial() -> None:
    key_a = trial_key("trial-a", "platform-key")
    same = pseudonymise("trial-a", "999998523", key=key_a)
    assert same == pseudonymise("trial-a", "999998523", key=trial_key("trial-a", "platform-key"))
    assert same != pseudonymise("trial-b", "999998523", key=trial_key("trial-b", "platform-key"))
    assert same != pseudonymise("trial-a", "999998523", key=trial_key("trial-a", "other-key"))
    assert "999998523" not in same and len(same) == 64


@pytest.mark.parametrize(
    "birth, expected",
    [
        (date(1947, 6, 1), date(2012, 6, 1)),  # 65
        (date(1953, 2, 10), date(2019, 6, 10)),  # 66 + 4 months
        (date(1957, 3, 1), date(2024, 3, 1)),  # 67
        (date(1962, 1, 15), date(2029, 4, 15)),  # 67 + 3 months
        (date(1990, 1, 1), date(2057, 4, 1)),  # after the table: last known age
    ],
)
def test_pension_age_follows_the_aow_table(birth: date, expected: date) -> None:
    assert pension_age_date(birth) == expected


def test_unit_pseudonyms_are_keyed_per_trial_and_site_and_never_a_bsn_pseudonym() -> None:
    key = trial_key("t1", key="k")
    unit = unit_pseudonymiser(key, "bw")
    assert unit("004711") == unit("4711") == unit(" 4711 ")  # a spreadsheet drops zeros
    assert unit("4711") != unit_pseudonymiser(key, "breda")("4711")  # another site's numbering
    assert unit("4711") != unit_pseudonymiser(trial_key("t2", key="k"), "bw")("4711")
    assert unit("123456782") != pseudonymise("t1", "123456782", key=key)  # its own domain
    assert unit("") is None and unit("000") is None  # no number: a unit of one
    assert len(unit("4711") or "") == 64 and "4711" not in (unit("4711") or "")


def test_whole_years_and_months_are_those_of_dateutil() -> None:
    import random
    from datetime import timedelta

    from dateutil.relativedelta import relativedelta

    rng = random.Random(7)
    days = [date(2024, 2, 29), date(2023, 2, 28), date(2023, 1, 31), date(2023, 4, 30)]
    days += [date(1950, 1, 1) + timedelta(days=rng.randrange(40000)) for _ in range(3000)]
    for start in days:
        for end in (start + timedelta(days=rng.randrange(25000)) for _ in range(5)):
            delta = relativedelta(end, start)
            assert whole_years(start, end) == delta.years, (start, end)
            assert whole_months(start, end) == delta.years * 12 + delta.months, (start, end)


@pytest.mark.parametrize(
    "value, label",
    [
        (17, "<18"),
        (18, "18-26"),
        (26, "18-26"),
        (27, "27-34"),
        (54, "45-54"),
        (55, "55+"),
    ],
)
def test_age_bands(value: int, label: str) -> None:
    assert band_label(value, [18, 27, 35, 45, 55]) == label


def test_seeded_stream_is_deterministic_and_uniform() -> None:
    seed = "ab" * 32
    assert [SeededStream(seed).below(7) for _ in range(3)] == [SeededStream(seed).below(7)] * 3
    stream = SeededStream(seed)
    counts = Counter(stream.below(5) for _ in range(20000))
    assert set(counts) == {0, 1, 2, 3, 4}
    assert all(3700 < n < 4300 for n in counts.values())


def test_blocks_are_multiples_of_the_ratio_and_follow_their_seed() -> None:
    sizes = set()
    for i in range(200):
        seed = f"{i:064x}"
        block = derive_block(seed, {"fip": 1, "control": 4}, [1, 2])
        assert block == derive_block(seed, {"control": 4, "fip": 1}, [1, 2])
        counts = Counter(block)
        assert counts["control"] == 4 * counts["fip"]
        sizes.add(len(block))
    assert sizes == {5, 10}


def test_minimisation_prefers_the_arm_behind_its_target_ratio() -> None:
    ratios = {"fip": 1, "control": 4}
    counts = {"site": {"fip": 1, "control": 1}, "age_band": {"fip": 2, "control": 3}}
    scores = minimisation_scores(counts, ratios)
    assert scores["control"] < scores["fip"]
    # control preferred: taken with 0.95 (biased coin keeping 1:4), FIP otherwise
    assert minimisation_choice(scores, ratios, 0.8, 0.5, 0.94) == "control"
    assert minimisation_choice(scores, ratios, 0.8, 0.5, 0.96) == "fip"
    flipped = {"fip": 1.0, "control": 2.0}
    assert minimisation_choice(flipped, ratios, 0.8, 0.5, 0.79) == "fip"
    assert minimisation_choice(flipped, ratios, 0.8, 0.5, 0.81) == "control"


def test_biased_coin_keeps_the_unconditional_ratio() -> None:
    from fiptrial.services.randomisation import preferred_probability

    ratios = {"fip": 1, "control": 4}
    p_fip = preferred_probability("fip", ratios, 0.8)
    p_control = preferred_probability("control", ratios, 0.8)
    assert (p_fip, round(p_control, 10)) == (0.8, 0.95)
    # preferred arm drawn with the target ratio -> each arm allocated at its target share
    assert 0.2 * p_fip + 0.8 * (1 - p_control) == pytest.approx(0.2)


def test_minimisation_first_draw_follows_the_ratio() -> None:
    ratios = {"fip": 1, "control": 4}
    scores = {"fip": 1.0, "control": 1.0}
    assert minimisation_choice(scores, ratios, 0.8, 0.0, 0.1) == "control"
    assert minimisation_choice(scores, ratios, 0.8, 0.0, 0.95) == "fip"


def test_cohort_quotas_are_exact_and_proportional() -> None:
    sizes = {"a": 500, "b": 300, "c": 150, "d": 50}
    for i in range(50):
        quotas = cohort_quotas(sizes, 333, SeededStream(f"{i:064x}"))
        assert sum(quotas.values()) == 333
        for stratum, size in sizes.items():
            share = 333 * size / 1000
            assert int(share) <= quotas[stratum] <= int(share) + 1


def test_cohort_derivation_is_reproducible() -> None:
    strata = {"a": list(range(1, 41)), "b": list(range(41, 61))}
    first = derive_cohort("cd" * 32, strata, 12)
    assert first == derive_cohort("cd" * 32, strata, 12)
    assert sum(len(v) for v in first.values()) == 12
    assert set(first["a"]) <= set(strata["a"]) and len(first["a"]) == 8


@pytest.mark.parametrize("method", ["permuted_blocks", "minimisation"])
def test_simulation_reports_small_imbalance(method: str) -> None:
    weights = {
        f"site={s}|age_band={a}": 1.0 for s in ("bw", "breda") for a in ("18-26", "27-34", "35+")
    }
    result = simulate(
        method=method,
        ratios={"fip": 1, "control": 4},
        multipliers=[1, 2],
        probability=0.8,
        strata_weights=weights,
        participants=600,
        runs=30,
    )
    assert set(result.strata) == set(weights)
    if method == "permuted_blocks":
        # within a stratum the imbalance never exceeds a block's worth of FIP places
        assert all(s["max_abs_imbalance"] <= 2 for s in result.strata.values())
    assert result.overall["mean_abs_imbalance"] < 12
