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


def _bcg_log_risk_ratios():
    a, b, c, d = BCG.T
    return np.log(a / (a + b)) - np.log(c / (c + d)), 1 / a - 1 / (a + b) + 1 / c - 1 / (c + d)


def _bcg_log_odds_ratios():
    """The log odds ratios and their variances from odds_ratio, as in the report."""
    fits = [odds_ratio(row.reshape(2, 2)) for row in BCG]
    return [f.log_estimate for f in fits], [f.log_variance for f in fits]


@pytest.mark.parametrize(
    ("effects", "expected"),
    [
        (_bcg_log_risk_ratios, (-0.7141, [-1.0644, -0.3638], -3.9952, 0.3088, 0.921173, 152.2330)),
        (_bcg_log_odds_ratios, (-0.7474, [-1.1242, -0.3706], -3.8873, 0.3663, 0.926455, 163.1649)),
    ],
    ids=["log risk ratio", "log odds ratio"],
)
def test_random_effects_matches_metafor(published, effects, expected):
    """metafor test_misc_metan_vs_rma.uni_with_dat.bcg.r (checked there against Stata's metan):
    dat <- escalc(measure="RR", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg);
    rma(yi, vi, data=dat, method="DL") gives estimate -0.7141, CI -1.0644 to -0.3638,
    zval -3.9952, tau2 0.3088, I2 92.1173%, and QE 152.2330; measure="OR": estimate -0.7474,
    CI -1.1242 to -0.3706, zval -3.8873, tau2 0.3663, I2 92.6455%, QE 163.1649."""
    estimate, ci, zvalue, tau2, i2, q = expected
    result = random_effects(*effects())
    published(result.estimate, estimate, decimals=4)
    published(result.ci, ci, decimals=4)
    published(result.zvalue, zvalue, decimals=4)
    published(result.tau2, tau2, decimals=4)
    published(result.i2, i2, decimals=6)
    published(result.q, q, decimals=4)
    assert result.k == 13


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


def test_reml_matches_metafor_documentation(published):
    """metafor's rma.uni reference page (examples as run by pkgdown):
    rma(yi, vi, data=dat, method="REML") on dat.bcg log risk ratios prints tau^2 0.3132,
    I^2 92.22%, estimate -0.7145, se 0.1798, zval -3.9744, ci.lb -1.0669, ci.ub -0.3622;
    predict(res, digits=2) gives pi.lb -1.87, pi.ub 0.44."""
    yi, vi = _bcg_log_risk_ratios()
    result = random_effects(yi, vi, method="REML")
    published(result.tau2, 0.3132, decimals=4)
    published(result.i2, 0.9222, decimals=4)
    published(result.estimate, -0.7145, decimals=4)
    published(result.se, 0.1798, decimals=4)
    published(result.zvalue, -3.9744, decimals=4)
    published(result.ci, [-1.0669, -0.3622], decimals=4)
    published(result.prediction_interval, [-1.87, 0.44], decimals=2)
    assert result.method == "REML" and not result.hartung_knapp


def _restricted_maximum(yi, vi, upper):
    """Independent check of REML: the t in [0, upper] that numerically maximises the restricted
    log-likelihood -1/2 [sum log(v + t) + log sum w + sum w (y - mu_w)^2]."""
    from scipy import optimize

    def minus_restricted(t):
        w = 1 / (vi + t)
        mu = np.sum(w * yi) / w.sum()
        return 0.5 * (np.sum(np.log(vi + t)) + np.log(w.sum()) + np.sum(w * (yi - mu) ** 2))

    best = optimize.minimize_scalar(minus_restricted, bounds=(0, upper), method="bounded",
                                    options={"xatol": 1e-12})  # fmt: skip
    return best.x


def test_reml_maximises_the_restricted_likelihood():
    """Independent check: numerical maximisation of the restricted log-likelihood over
    t >= 0, to 1e-6."""
    yi, vi = _bcg_log_risk_ratios()
    assert abs(random_effects(yi, vi, method="REML").tau2 - _restricted_maximum(yi, vi, 5)) < 1e-6


#: Kacker (2004)'s nine estimates and their variances.
KACKER = (
    [61.0, 61.4, 62.21, 62.3, 62.34, 62.6, 62.7, 62.84, 65.9],
    [0.2025, 1.2100, 0.0900, 0.2025, 0.3844, 0.5625, 0.0676, 0.0225, 1.8225],
)


def test_paule_mandel_matches_metafor():
    """metafor, rma(y, v, method="PM", control=list(tol=1e-9)) on Kacker (2004)'s nine
    estimates, as recorded to full precision in statsmodels' test results (results_meta.py,
    exk1_metafor): tau2 0.705395309224248, estimate 62.4076199113286, se 0.338030602684471,
    I2 83.7218626490482%. And on dat.bcg the iterated DerSimonian-Laird estimator, which
    converges to the Paule-Mandel solution, gives tau2 0.3181 (metafor test_misc_rma_uni.r)."""
    result = random_effects(*KACKER, method="PM")
    np.testing.assert_allclose(result.tau2, 0.705395309224248, rtol=1e-8)
    np.testing.assert_allclose(result.estimate, 62.4076199113286, rtol=1e-10)
    np.testing.assert_allclose(result.se, 0.338030602684471, rtol=1e-8)
    np.testing.assert_allclose(result.i2, 0.837218626490482, rtol=1e-8)
    yi, vi = _bcg_log_risk_ratios()
    assert abs(random_effects(yi, vi, method="PM").tau2 - 0.3181) <= 0.00005


def test_hartung_knapp_matches_metafor():
    """metafor, rma(y, v, method="DL", test="knha") on Kacker (2004), from statsmodels'
    results_meta.py (exk1_dl_hksj): se 0.29477605699879, ci.lb 61.710383798052,
    ci.ub 63.0698934108488, pval 2.77938607433693e-16 (t on k - 1 = 8 df)."""
    result = random_effects(*KACKER, method="DL", hartung_knapp=True)
    np.testing.assert_allclose(result.tau2, 0.288049246973751, rtol=1e-10)
    np.testing.assert_allclose(result.se, 0.29477605699879, rtol=1e-10)
    np.testing.assert_allclose(result.ci, [61.710383798052, 63.0698934108488], rtol=1e-12)
    np.testing.assert_allclose(result.pvalue, 2.77938607433693e-16, rtol=1e-6)
    # The prediction interval uses the same t quantile and se: mu +/- t sqrt(tau2 + se^2).
    from scipy import stats

    half = stats.t.isf(0.025, 8) * np.sqrt(result.tau2 + result.se**2)
    np.testing.assert_allclose(result.prediction_interval,
                               [result.estimate - half, result.estimate + half])  # fmt: skip


def test_rejects_an_unknown_method():
    with pytest.raises(ValueError, match="method"):
        random_effects([0.1, 0.2], [0.01, 0.02], method="SJ")


def test_reml_with_a_step_that_overshoots_still_finds_the_maximum():
    """Scoring from far above the maximum overshoots below zero and back; step halving keeps
    every step uphill. Independent check as above: bounded maximisation of the restricted
    log-likelihood."""
    from fiptrial_analysis.metaanalysis import _tau2_reml

    yi = np.array([0.9, -0.6, 0.05, 1.4, -1.1])
    vi = np.array([0.0004, 0.9, 0.002, 2.5, 0.01])
    best = _restricted_maximum(yi, vi, 50)
    for start in (0.0, 0.5, 40.0):
        assert abs(_tau2_reml(yi, vi, start) - best) < 1e-6
