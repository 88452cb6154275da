"""Paired t-test (arithmetic and log scale) and sign test against R and hand calculations."""

from __future__ import annotations

import math

import numpy as np
import pytest

from msc_analysis import stats
from msc_analysis.stats import StatsInputError

# R's sleep data (Cushny & Peebles), extra hours of sleep for drug 1 and drug 2 (datasets::sleep)
SLEEP_G1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
SLEEP_G2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]


def test_sleep_paired_t_against_r() -> None:
    # R: t.test(g1, g2, paired = TRUE) (example of ?t.test / ?sleep):
    #   t = -4.0621, df = 9, p-value = 0.002833
    #   95 percent confidence interval: -2.4598858 -0.7001142; mean difference -1.58
    res = stats.paired_t(SLEEP_G1, SLEEP_G2)
    assert res.statistic == pytest.approx(-4.0621, abs=1e-4)
    assert res.df == 9
    assert res.pvalue == pytest.approx(0.002833, rel=1e-3)
    assert res.conf_int[0] == pytest.approx(-2.4598858, abs=1e-7)
    assert res.conf_int[1] == pytest.approx(-0.7001142, abs=1e-7)
    assert res.confidence_interval() == pytest.approx((-2.4598858, -0.7001142), abs=1e-7)
    assert res.estimate == pytest.approx(-1.58, abs=1e-12)
    assert res.n == 10 and res.n_missing == 0
    assert res.method == "Paired t-test"
    assert res.log is False


def test_log_scale_geometric_mean_ratio_by_hand() -> None:
    # x / y = 2, 2, 4, 4 -> log ratios = ln2 * (1, 1, 2, 2)
    # mean = 1.5 ln2 -> GMR = 2^1.5; sd = ln2 * sqrt(1/3); se = sd / 2; t = 3 * sqrt(3), df = 3
    # t distribution with 3 df has a closed form cdf:
    #   P(|T| > t) = 1 - (2/pi) * (u / (1 + u^2) + atan(u)),  u = t / sqrt(3) = 3
    # 95% CI on log2 scale: 1.5 +/- t_{0.975,3} * sqrt(1/3) / 2, t_{0.975,3} = 3.182446305
    # (Student t table).
    x = [2.0, 4.0, 8.0, 16.0]
    y = [1.0, 2.0, 2.0, 4.0]
    res = stats.paired_t(x, y, log=True)
    u = 3.0
    p_hand = 1 - (2 / math.pi) * (u / (1 + u * u) + math.atan(u))
    half = 3.182446305 * math.sqrt(1 / 3) / 2
    assert res.statistic == pytest.approx(3 * math.sqrt(3), rel=1e-12)
    assert res.df == 3
    assert res.pvalue == pytest.approx(p_hand, rel=1e-9)
    assert res.estimate == pytest.approx(2**1.5, rel=1e-12)
    assert res.conf_int[0] == pytest.approx(2 ** (1.5 - half), rel=1e-8)
    assert res.conf_int[1] == pytest.approx(2 ** (1.5 + half), rel=1e-8)
    assert res.mean_diff == pytest.approx(1.5 * math.log(2), rel=1e-12)
    assert res.log is True
    assert "geometric mean ratio" in res.method


def test_log_scale_with_ratios_only() -> None:
    by_pairs = stats.paired_t([2.0, 4.0, 8.0, 16.0], [1.0, 2.0, 2.0, 4.0], log=True)
    by_ratio = stats.paired_t([2.0, 2.0, 4.0, 4.0], log=True)
    assert by_ratio.estimate == pytest.approx(by_pairs.estimate, rel=1e-12)
    assert by_ratio.pvalue == pytest.approx(by_pairs.pvalue, rel=1e-12)


def test_paired_t_nan_pairs_dropped() -> None:
    res = stats.paired_t([*SLEEP_G1, np.nan], [*SLEEP_G2, 1.0])
    assert res.n == 10 and res.n_missing == 1
    assert res.statistic == pytest.approx(-4.0621, abs=1e-4)


def test_paired_t_errors() -> None:
    with pytest.raises(StatsInputError, match=r"values > 0; found 1 value\(s\) <= 0"):
        stats.paired_t([1.0, 2.0, 0.0], [1.0, 1.0, 1.0], log=True)
    with pytest.raises(ValueError, match="y: log-scale analysis needs values > 0"):
        stats.paired_t([1.0, 2.0, 3.0], [1.0, -1.0, 1.0], log=True)
    with pytest.raises(StatsInputError, match="at least 2 complete pairs"):
        stats.paired_t([1.0], [2.0])
    with pytest.raises(StatsInputError, match="not enough"):
        stats.paired_t([], [])
    with pytest.raises(StatsInputError, match="essentially constant"):
        stats.paired_t([2.0, 3.0, 4.0], [1.0, 2.0, 3.0])


# Depression data of ?wilcox.test (Hollander & Wolfe 1973): d = x - y has 7 positive and 2
# negative differences.
DEPR_X = [1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30]
DEPR_Y = [0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29]


def test_sign_test_by_hand() -> None:
    # R: binom.test(7, 9)$p.value = 0.1797 = 2 * P(B >= 7) = 2 * (36 + 9 + 1) / 512
    res = stats.sign_test(DEPR_X, DEPR_Y)
    assert res.statistic == 7
    assert (res.n, res.n_pos, res.n_neg, res.n_zero) == (9, 7, 2, 0)
    assert res.pvalue == pytest.approx(92 / 512, rel=1e-12)
    assert res.pvalue == pytest.approx(0.1797, abs=1e-4)
    # sorted d: -0.147, -0.08, 0.01, 0.43, 0.49, 0.59, 0.62, 0.952, 1.022 -> median 0.49
    assert res.estimate == pytest.approx(0.49, abs=1e-12)
    # n = 9: k = 2 gives coverage 1 - 2 * P(B <= 1) = 1 - 2 * 10/512 = 0.9609 >= 0.95;
    # k = 3 gives 1 - 2 * 46/512 = 0.8203 < 0.95 -> interval (d_(2), d_(8))
    assert res.conf_int == pytest.approx((-0.08, 0.952), abs=1e-12)
    assert res.conf_level == pytest.approx(1 - 20 / 512, rel=1e-12)
    assert res.method == "Exact sign test"


def test_sign_test_zero_dropped_from_test() -> None:
    # d = 15, -7, 5, 20, 0, -9, 17, -12, 5, -10: 5 positive, 4 negative, 1 zero
    # R: binom.test(5, 9)$p.value = 1
    x = [125, 115, 130, 140, 140, 115, 140, 125, 140, 135]
    y = [110, 122, 125, 120, 140, 124, 123, 137, 135, 145]
    res = stats.sign_test(x, y)
    assert (res.n, res.n_pos, res.n_neg, res.n_zero) == (9, 5, 4, 1)
    assert res.pvalue == 1.0
    # median of all 10 differences (zero included): (0 + 5) / 2 = 2.5
    assert res.estimate == 2.5
    # n = 10, k = 2: coverage 1 - 2 * 11/1024 = 0.9785 -> (d_(2), d_(9)) = (-10, 17)
    assert res.conf_int == (-10.0, 17.0)


def test_sign_test_small_n_reports_achieved_level() -> None:
    # n = 4: best interval (min, max) covers 1 - 2/16 = 0.875 < 0.95
    res = stats.sign_test([1.0, 2.0, 3.0, 4.0])
    assert res.conf_int == (1.0, 4.0)
    assert res.conf_level == pytest.approx(0.875)
    # R: binom.test(4, 4)$p.value = 0.125
    assert res.pvalue == pytest.approx(0.125)


def test_sign_test_errors() -> None:
    with pytest.raises(StatsInputError, match="zero"):
        stats.sign_test([1.0, 2.0], [1.0, 2.0])
    with pytest.raises(StatsInputError, match="not enough"):
        stats.sign_test([np.nan], [1.0])


def test_sign_test_interval_rank_large_n_by_hand() -> None:
    # n = 100 (no zeros), 95%: R pbinom(39, 100, 0.5) = 0.0176001, pbinom(40, 100, 0.5) =
    # 0.0284440, so k = 40 covers 1 - 2 * 0.0176001 = 0.9648 and k = 41 only 0.9431:
    # the interval is (d_(40), d_(61)) (the classic table value, e.g. Conover, Practical
    # Nonparametric Statistics, 3rd ed., sect. 3.2).
    d = np.arange(1.0, 101.0)
    res = stats.sign_test(d)
    assert res.conf_int == (40.0, 61.0)
    assert res.conf_level == pytest.approx(1 - 2 * 0.0176001, abs=1e-7)


def test_sign_test_interval_rank_equals_candidate_by_candidate_search() -> None:
    # The rank is found from all candidates' coverages at once; it must equal the defining
    # search (largest k such that every j = 2..k covers >= the level), bit for bit.
    from scipy import stats as sps

    from msc_analysis.stats.paired import _order_statistic_rank

    def by_definition(n: int, level: float) -> tuple[int, float]:
        k, coverage = 1, 1 - 2 * float(sps.binom.cdf(0, n, 0.5))
        for cand in range(2, n // 2 + 1):
            cov = 1 - 2 * float(sps.binom.cdf(cand - 1, n, 0.5))
            if cov < level:
                break
            k, coverage = cand, cov
        return k, coverage

    for n in [*range(1, 120), 999, 5000, 10001]:
        for level in (0.8, 0.9, 0.95, 0.99):
            assert _order_statistic_rank(n, level) == by_definition(n, level)
