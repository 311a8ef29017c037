"""random_effects (DerSimonian-Laird) against metafor on the BCG vaccine trials."""

import numpy as np
import pytest

from fiptrial_analysis import odds_ratio, random_effects

# metafor's dat.bcg (Colditz et al. 1994): tpos, tneg, cpos, cneg per trial.
BCG = np.array(
    [
        [4, 119, 11, 128], [6, 300, 29, 274], [3, 228, 11, 209], [62, 13536, 248, 12619],
        [33, 5036, 47, 5761], [180, 1361, 372, 1079], [8, 2537, 10, 619],
        [505, 87886, 499, 87892], [29, 7470, 45, 7232], [17, 1699, 65, 1600],
        [186, 50448, 141, 27197], [5, 2493, 3, 2338], [27, 16886, 29, 17825],
    ],
    dtype=float,
)  # fmt: skip


def test_random_effects_log_risk_ratio_matches_metafor(published):
    """metafor test_misc_metan_vs_rma.uni_with_dat.bcg.r (checked there against Stata's metan):
    dat <- escalc(measure="RR", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg);
    rma(yi, vi, data=dat, method="DL") gives estimate -0.7141, CI -1.0644 to -0.3638,
    zval -3.9952, tau2 0.3088, I2 92.1173%, and QE 152.2330."""
    a, b, c, d = BCG.T
    yi = np.log(a / (a + b)) - np.log(c / (c + d))  # escalc's log risk ratio
    vi = 1 / a - 1 / (a + b) + 1 / c - 1 / (c + d)
    result = random_effects(yi, vi)
    published(result.estimate, -0.7141, decimals=4)
    published(result.ci, [-1.0644, -0.3638], decimals=4)
    published(result.zvalue, -3.9952, decimals=4)
    published(result.tau2, 0.3088, decimals=4)
    published(result.i2, 0.921173, decimals=6)
    published(result.q, 152.2330, decimals=4)
    assert result.k == 13


def test_random_effects_log_odds_ratio_matches_metafor(published):
    """The same metafor test, measure="OR": estimate -0.7474, CI -1.1242 to -0.3706,
    zval -3.8873, tau2 0.3663, I2 92.6455%, QE 163.1649 (the log odds ratios and their
    variances come from odds_ratio, as in the report)."""
    fits = [odds_ratio(row.reshape(2, 2)) for row in BCG]
    result = random_effects([f.log_estimate for f in fits], [f.log_variance for f in fits])
    published(result.estimate, -0.7474, decimals=4)
    published(result.ci, [-1.1242, -0.3706], decimals=4)
    published(result.zvalue, -3.8873, decimals=4)
    published(result.tau2, 0.3663, decimals=4)
    published(result.i2, 0.926455, decimals=6)
    published(result.q, 163.1649, decimals=4)


def test_random_effects_truncates_tau2_at_zero():
    """Homogeneous estimates: Q below its degrees of freedom gives tau2 = 0, I2 = 0 and the
    fixed-effect estimate."""
    result = random_effects([0.10, 0.11, 0.09], [0.01, 0.02, 0.015])
    assert result.tau2 == 0.0
    assert result.i2 == 0.0
    assert result.estimate == pytest.approx(result.fixed_estimate)


@pytest.mark.parametrize(
    "estimates, variances, message",
    [
        ([0.1], [0.01], "at least two"),
        ([0.1, 0.2], [0.01], "same length"),
        ([0.1, 0.2], [0.01, 0.0], "positive"),
        ([0.1, np.inf], [0.01, 0.02], "finite"),
    ],
)
def test_random_effects_rejects_bad_input(estimates, variances, message):
    with pytest.raises(ValueError, match=message):
        random_effects(estimates, variances)
