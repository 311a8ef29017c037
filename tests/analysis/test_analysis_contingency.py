"""chi_square, risk_difference, odds_ratio, mantel_haenszel, breslow_day vs published output.

2x2 tables are [[a, b], [c, d]] with the groups in the rows. R stores a 2 x 2 x K array column by
column, so ``array(c(a, c, b, d), dim = c(2, 2))`` is our [[a, b], [c, d]].
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from fiptrial_analysis import (
    breslow_day,
    chi_square,
    mantel_haenszel,
    odds_ratio,
    risk_difference,
)

# R: UCBAdmissions (datasets), per department [[admitted male, rejected male],
#                                              [admitted female, rejected female]].
UCB = np.array(
    [
        [[512, 313], [89, 19]],
        [[353, 207], [17, 8]],
        [[120, 205], [202, 391]],
        [[138, 279], [131, 244]],
        [[53, 138], [94, 299]],
        [[22, 351], [24, 317]],
    ]
)
# R: the Rabbits array of ?mantelhaen.test (Agresti 1990, penicillin delay), per level
# [[cured, died] for no delay, [cured, died] for 1.5 h delay].
RABBITS = np.array([0, 0, 6, 5, 3, 0, 3, 6, 6, 2, 0, 4, 5, 6, 1, 0, 2, 5, 0, 0])
RABBITS = RABBITS.reshape(5, 2, 2).transpose(0, 2, 1)
# Rothman, Greenland & Lash (2008) Modern Epidemiology, Table 15-1: tolbutamide and death by
# age (<55, 55+): [[dead, surviving] tolbutamide, [dead, surviving] placebo].
TOLBUTAMIDE = np.array([[[8, 98], [5, 115]], [[22, 76], [16, 69]]])
# metafor's dat.bcg (Colditz et al. 1994): [[tpos, tneg], [cpos, cneg]] per trial.
BCG = np.array(
    [
        [4, 119, 11, 128], [6, 300, 29, 274], [3, 228, 11, 209], [62, 13536, 248, 12619],
        [33, 5036, 47, 5761], [180, 1361, 372, 1079], [8, 2537, 10, 619],
        [505, 87886, 499, 87892], [29, 7470, 45, 7232], [17, 1699, 65, 1600],
        [186, 50448, 141, 27197], [5, 2493, 3, 2338], [27, 16886, 29, 17825],
    ]
).reshape(13, 2, 2)  # fmt: skip


def test_chi_square_reproduces_the_pilot_report(published):
    """The pilot report (Table 4.2 corrected, see shared/domain/README.md): Pearson's
    chi-square without continuity correction on [[62, 245], [252, 1341]] is 3.5733, p 0.0587."""
    result = chi_square([[62, 245], [252, 1341]])
    published(result.statistic, 3.5733, decimals=4)
    published(result.pvalue, 0.0587, decimals=4)
    assert result.dof == 1
    assert result.correction is False


def test_chi_square_with_and_without_yates_matches_sas(published):
    """SAS PROC FREQ, CHISQ option, on UC Berkeley department A (sex by admission; Penn State
    STAT 504 lesson 3 output berkeley_SAS_Output): Chi-Square 17.2480, Continuity Adj.
    Chi-Square 16.3718; and on all departments pooled (Brunner, STA429 handout 3):
    92.2053 and 91.6096."""
    dept_a = [[313, 512], [19, 89]]
    published(chi_square(dept_a).statistic, 17.2480, decimals=4)
    published(chi_square(dept_a, correction=True).statistic, 16.3718, decimals=4)
    pooled = [[1493, 1198], [1278, 557]]
    published(chi_square(pooled).statistic, 92.2053, decimals=4)
    published(chi_square(pooled, correction=True).statistic, 91.6096, decimals=4)


def test_chi_square_r_by_c_matches_r():
    """R ?chisq.test example (Agresti 2007, party identification by gender):
    chisq.test(as.table(rbind(c(762, 327, 468), c(484, 239, 477)))) prints
    X-squared = 30.07, df = 2, p-value = 2.954e-07."""
    result = chi_square([[762, 327, 468], [484, 239, 477]], correction=True)
    assert_allclose(result.statistic, 30.07, atol=0.005)
    assert_allclose(result.pvalue, 2.954e-07, rtol=2e-4)
    assert result.dof == 2
    assert result.correction is False  # Yates applies to 2x2 tables only, as in R


@pytest.mark.parametrize(
    "table, message",
    [
        ([[1, 2], [3, -1]], "negative"),
        ([[0, 0], [3, 4]], "every row and every column"),
        ([1, 2, 3], "two-dimensional"),
        ([[1, np.nan], [3, 4]], "finite"),
    ],
)
def test_chi_square_rejects_bad_tables(table, message):
    with pytest.raises(ValueError, match=message):
        chi_square(table)


@pytest.mark.parametrize(
    "k1, n1, k2, n2, lower, upper",
    [
        (56, 70, 48, 80, 0.0524, 0.3339),
        (9, 10, 3, 10, 0.1705, 0.8090),
        (6, 7, 2, 7, 0.0582, 0.8062),
        (5, 56, 0, 29, -0.0381, 0.1926),
        (0, 10, 0, 20, -0.1611, 0.2775),
        (0, 10, 0, 10, -0.2775, 0.2775),
        (10, 10, 0, 20, 0.6791, 1.0000),
        (10, 10, 0, 10, 0.6075, 1.0000),
    ],
)
def test_newcombe_interval_matches_newcombe_1998(published, k1, n1, k2, n2, lower, upper):
    """Newcombe RG (1998) Interval estimation for the difference between independent
    proportions: comparison of eleven methods. Stat Med 17:873-890, Table II, method 10
    (score interval without continuity correction), examples (a) to (h), printed to 4 decimals;
    the same values are DescTools::BinomDiffCI(..., method = "score")."""
    result = risk_difference([[k1, n1 - k1], [k2, n2 - k2]], method="newcombe")
    assert result.estimate == pytest.approx(k1 / n1 - k2 / n2)
    published(result.ci, [lower, upper], decimals=4)


def test_newcombe_and_wald_match_statsmodels_on_the_pilot():
    """Oracle, no published value at this precision: statsmodels
    confint_proportions_2indep(62, 307, 252, 1593, method="newcomb" / "wald", compare="diff")."""
    from statsmodels.stats.proportion import confint_proportions_2indep

    table = [[62, 245], [252, 1341]]
    for ours, theirs in (("newcombe", "newcomb"), ("wald", "wald")):
        expected = confint_proportions_2indep(62, 307, 252, 1593, method=theirs, compare="diff")
        assert_allclose(risk_difference(table, method=ours).ci, expected, rtol=1e-4)


def test_risk_difference_rejects_an_empty_arm_and_unknown_method():
    with pytest.raises(ValueError, match="both rows"):
        risk_difference([[0, 0], [1, 2]])
    with pytest.raises(ValueError, match="method"):
        risk_difference([[1, 2], [3, 4]], method="exact")


def test_odds_ratio_woolf_interval_matches_sas(published):
    """SAS PROC FREQ (Penn State STAT 504 berkeley_SAS_Output), department A, sex by
    (reject, accept): Odds Ratio 2.8636, 95% confidence limits 1.7112 and 4.7921."""
    result = odds_ratio([[313, 512], [19, 89]])
    published(result.estimate, 2.8636, decimals=4)
    published(result.ci, [1.7112, 4.7921], decimals=4)
    assert result.corrected is False


def test_odds_ratio_adds_a_half_when_a_cell_is_zero():
    result = odds_ratio([[0, 10], [5, 5]])
    assert result.corrected
    assert result.estimate == pytest.approx((0.5 * 5.5) / (10.5 * 5.5))


def test_mantel_haenszel_matches_r_on_rabbits(published):
    """R ?mantelhaen.test example: mantelhaen.test(Rabbits) prints Mantel-Haenszel
    X-squared = 3.9286, df = 1, p-value = 0.04747, 95 percent confidence interval
    1.026713 47.725133, common odds ratio 7. Two strata have a zero margin."""
    result = mantel_haenszel(RABBITS)
    published(result.statistic, 3.9286, decimals=4)
    published(result.pvalue, 0.04747, decimals=5)
    published(result.odds_ratio, 7.0)
    published(result.odds_ratio_ci, [1.026713, 47.725133], decimals=6)


def test_mantel_haenszel_matches_r_on_ucb_admissions(published):
    """R: mantelhaen.test(UCBAdmissions) prints X-squared = 1.4269, p-value = 0.2323, CI
    0.7719074 1.0603298, common odds ratio 0.9046968 (vcdExtra vignette). Without continuity
    correction lawstat::cmh.test prints CMH statistic = 1.52460, p-value = 0.21692."""
    result = mantel_haenszel(UCB)
    published(result.statistic, 1.4269, decimals=4)
    published(result.pvalue, 0.2323, decimals=4)
    published(result.odds_ratio, 0.9046968, decimals=7)
    published(result.odds_ratio_ci, [0.7719074, 1.0603298], decimals=7)
    uncorrected = mantel_haenszel(UCB, correction=False)
    published(uncorrected.statistic, 1.52460, decimals=5)
    published(uncorrected.pvalue, 0.21692, decimals=5)


def test_mantel_haenszel_risk_difference_matches_metafor_on_rothman(published):
    """metafor test_analysis_example_rothman2008.r (Rothman et al. 2008, Table 15-1):
    rma.mh(measure="RD", level=90) gives 0.0349 (90% CI -0.0176 to 0.0874);
    rma.mh(measure="OR", correct=FALSE, level=90) gives OR 1.4031 (0.8411 to 2.3409) and the
    CMH statistic MH = 1.1914, p = 0.2750."""
    result = mantel_haenszel(TOLBUTAMIDE, correction=False, alpha=0.10)
    published(result.risk_difference, 0.0349, decimals=4)
    published(result.risk_difference_ci, [-0.0176, 0.0874], decimals=4)
    published(result.odds_ratio, 1.4031, decimals=4)
    published(result.odds_ratio_ci, [0.8411, 2.3409], decimals=4)
    published(result.statistic, 1.1914, decimals=4)
    published(result.pvalue, 0.2750, decimals=4)


def test_mantel_haenszel_risk_difference_uses_the_sato_variance(published):
    """metafor test_misc_metan_vs_rma.mh_with_dat.bcg.r: rma.mh(measure="RD") on dat.bcg gives
    -0.0033 (CI -0.0039 to -0.0027) and zval -11.4708 with the Sato, Greenland and Robins (1989)
    standard error (Stata's metan, with Greenland-Robins 1985, prints 11.56)."""
    result = mantel_haenszel(BCG)
    published(result.risk_difference, -0.0033, decimals=4)
    published(result.risk_difference_ci, [-0.0039, -0.0027], decimals=4)
    published(result.risk_difference / result.risk_difference_se, -11.4708, decimals=4)


def test_mantel_haenszel_refuses_a_stratum_of_one():
    with pytest.raises(ValueError, match="at least two participants"):
        mantel_haenszel([[[1, 0], [0, 0]], [[3, 4], [5, 6]]])
    with pytest.raises(ValueError, match="shape"):
        mantel_haenszel([[1, 2], [3, 4]])


def test_breslow_day_matches_desctools(published):
    """R DescTools::BreslowDayTest(data, correct = FALSE / TRUE) as recorded in statsmodels'
    test_contingency_tables.py (TestStratified2): X-squared 1.8438, p 0.7645; with Tarone's
    correction 1.8436, p 0.7645."""
    tables = np.array(
        [[[20, 14], [10, 24]], [[15, 12], [3, 15]], [[3, 2], [3, 2]],
         [[12, 3], [7, 5]], [[1, 0], [3, 2]]]
    )  # fmt: skip
    plain = breslow_day(tables)
    published(plain.statistic, 1.8438, decimals=4)
    published(plain.pvalue, 0.7645, decimals=4)
    assert plain.dof == 4
    tarone = breslow_day(tables, correction=True)
    published(tarone.statistic, 1.8436, decimals=4)
    published(tarone.pvalue, 0.7645, decimals=4)


def test_breslow_day_on_berkeley_departments(published):
    """R DescTools::BreslowDayTest on the Berkeley data as entered in statsmodels'
    TestStratified3 (department D with 278/139/244/131): X-squared = 18.83297,
    p = 0.002064786, df = 5."""
    tables = np.array(
        [[[313, 512], [19, 89]], [[207, 353], [8, 17]], [[205, 120], [391, 202]],
         [[278, 139], [244, 131]], [[138, 53], [299, 94]], [[351, 22], [317, 24]]]
    )  # fmt: skip
    result = breslow_day(tables)
    published(result.statistic, 18.83297, decimals=5)
    published(result.pvalue, 0.002064786, decimals=9)
    assert result.dof == 5


def test_breslow_day_tarone_matches_metafor_on_rothman(published):
    """metafor test_analysis_example_rothman2008.r: rma.mh(measure="OR") on Table 15-1 gives
    Tarone's heterogeneity test TA = 0.3489, p = 0.5547."""
    result = breslow_day(TOLBUTAMIDE, correction=True)
    published(result.statistic, 0.3489, decimals=4)
    published(result.pvalue, 0.5547, decimals=4)


def test_breslow_day_leaves_out_uninformative_strata():
    """Strata with an empty arm or a single outcome carry no information on heterogeneity;
    they are dropped, as metafor and SAS do, and the degrees of freedom follow."""
    informative = np.array([[[20, 14], [10, 24]], [[15, 12], [3, 15]], [[12, 3], [7, 5]]])
    padded = np.concatenate([informative, [[[0, 0], [4, 6]], [[5, 0], [6, 0]]]])
    with_padding = breslow_day(padded, odds_ratio=3.0)
    assert with_padding.strata_used == 3
    assert with_padding.dof == 2
    assert with_padding.statistic == pytest.approx(
        breslow_day(informative, odds_ratio=3.0).statistic
    )
    with pytest.raises(ValueError, match="at least two strata"):
        breslow_day(informative[:1], odds_ratio=3.0)
