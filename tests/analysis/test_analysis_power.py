"""sample_size_two_proportions and power_two_proportions against R's power.prop.test."""

import math

import pytest

from fiptrial_analysis import power_two_proportions, sample_size_two_proportions


def test_sample_size_matches_r_power_prop_test(published):
    """R ?power.prop.test example: power.prop.test(p1 = .50, p2 = .75, power = .90)
    => n = 76.7 per group (printed to one decimal), so 77 per arm when rounded up."""
    result = sample_size_two_proportions(0.50, 0.75, power=0.90)
    published(result.n_fip_individual, 76.7, decimals=1)
    assert (result.n_fip, result.n_control, result.n_total) == (77, 77, 154)
    assert result.design_effect == 1.0


def test_power_matches_r_power_prop_test(published):
    """R ?power.prop.test example: power.prop.test(n = 50, p1 = .50, p2 = .75)
    => power = 0.740."""
    published(power_two_proportions(50, 0.50, 0.75), 0.740, decimals=3)


def test_sample_size_and_power_are_inverse():
    result = sample_size_two_proportions(0.20, 0.16, power=0.8, ratio=4)
    assert power_two_proportions(result.n_fip_individual, 0.20, 0.16, ratio=4) == pytest.approx(0.8)


def test_unequal_allocation_matches_statsmodels():
    """Oracle (no published value found for 1:4 allocation): statsmodels
    samplesize_proportions_2indep_onetail(diff, prop2, power, ratio, alternative="two-sided"),
    which uses the same pooled-null / unpooled-alternative normal approximation and one tail.
    ratio there is nobs2 / nobs1, as here (control per FIP participant)."""
    from statsmodels.stats.proportion import samplesize_proportions_2indep_onetail

    for p1, p2, ratio in ((0.20, 0.16, 4.0), (0.30, 0.20, 2.5), (0.5, 0.75, 1.0)):
        expected = samplesize_proportions_2indep_onetail(
            p1 - p2, p2, power=0.8, ratio=ratio, alpha=0.05, alternative="two-sided"
        )
        result = sample_size_two_proportions(p1, p2, power=0.8, ratio=ratio)
        assert result.n_fip_individual == pytest.approx(expected, rel=1e-6)
        assert result.n_control_exact == pytest.approx(ratio * result.n_fip_exact)


def test_design_effect_inflates_both_arms():
    """Clusters of 30 clients per client manager with ICC 0.02: design effect 1.58."""
    plain = sample_size_two_proportions(0.20, 0.16, ratio=4)
    clustered = sample_size_two_proportions(0.20, 0.16, ratio=4, icc=0.02, cluster_size=30)
    assert clustered.design_effect == pytest.approx(1.58)
    assert clustered.n_fip == math.ceil(plain.n_fip_individual * 1.58)
    assert clustered.n_control == math.ceil(plain.n_fip_individual * 1.58 * 4)
    assert clustered.n_total == clustered.n_fip + clustered.n_control


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"p1": 0.2, "p2": 0.2}, "equal"),
        ({"p1": 0.0, "p2": 0.2}, "p1"),
        ({"p1": 0.2, "p2": 0.1, "power": 1.0}, "power"),
        ({"p1": 0.2, "p2": 0.1, "ratio": 0}, "ratio"),
        ({"p1": 0.2, "p2": 0.1, "icc": 1.5}, "icc"),
        ({"p1": 0.2, "p2": 0.1, "cluster_size": 0.5}, "cluster_size"),
    ],
)
def test_sample_size_rejects_bad_designs(kwargs, message):
    with pytest.raises(ValueError, match=message):
        sample_size_two_proportions(**kwargs)
