"""Wilcoxon signed-rank test against published R output and hand calculations."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from msc_analysis import stats
from msc_analysis.stats import StatsInputError
from msc_analysis.stats.signed_rank import psignrank, qsignrank, r_zeroin, signrank_pmf

SHARED = Path(__file__).resolve().parents[1].parent / "shared"

# R's documented example, ?wilcox.test: Hollander & Wolfe (1973), p. 29f., depression scale
# factor at first (x) and second (y) visit.
DEPR_X = [1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30]
DEPR_Y = [0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29]


def test_depression_example_exact_two_sided() -> None:
    # R: wilcox.test(x, y, paired = TRUE, conf.int = TRUE)
    #   V = 40, p-value = 0.03906; 95 percent CI 0.0100 0.7860; (pseudo)median 0.46
    res = stats.wilcoxon_signed_rank(DEPR_X, DEPR_Y)
    assert res.statistic == 40
    assert res.pvalue == pytest.approx(0.03906, rel=1e-4)
    assert res.pvalue == 10 / 256  # exact: P(V >= 40) = 5/512 for n = 9, doubled
    assert res.exact is True
    assert res.method == "Wilcoxon signed rank exact test"
    assert (res.n, res.n_zero, res.n_ties, res.n_missing) == (9, 0, 0, 0)
    # the limits are Walsh averages of d = x - y: (d9 + d9) / 2 = 0.01 and (d1 + d5) / 2
    d = np.array(DEPR_X) - np.array(DEPR_Y)
    assert res.conf_int[0] == pytest.approx(d[8], abs=1e-12)
    assert res.conf_int[1] == pytest.approx((d[0] + d[4]) / 2, abs=1e-12)
    assert res.confidence_interval() == pytest.approx((0.0100, 0.7860), abs=1e-12)
    assert res.confidence_interval().low == res.conf_int[0]
    assert res.estimate == pytest.approx(0.46, abs=1e-12)
    assert res.conf_level == 0.95


def test_depression_example_greater() -> None:
    # R: wilcox.test(x, y, paired = TRUE, alternative = "greater"): V = 40, p-value = 0.01953
    res = stats.wilcoxon_signed_rank(DEPR_X, DEPR_Y, alternative="greater")
    assert res.statistic == 40
    assert res.pvalue == pytest.approx(0.01953, rel=1e-3)
    assert res.pvalue == 5 / 256
    assert math.isinf(res.conf_int[1])
    # R's "two.sided" spelling is accepted
    assert stats.wilcoxon_signed_rank(DEPR_X, DEPR_Y, alternative="two.sided").pvalue == 10 / 256


def _ttr() -> pd.DataFrame:
    return pd.read_csv(SHARED / "data" / "reference" / "WilcoxonSignedRank_TTR.csv")


# PHUSE CAMIS, R/wilcoxonsr_hodges_lehman.qmd (rendered R/wilcoxonsr_hodges_lehman.html,
# PSIAIMS/CAMIS): stats::wilcox.test(x = bp_after, y = bp_before, paired = TRUE,
# conf.int = TRUE, conf.level = 0.9, ...) on the 240 rows of WilcoxonSignedRank_TTR.csv,
# where bp_before = TRT_A and bp_after = TRT_B (same first rows 143.670 / 153.316 ...).
@pytest.mark.parametrize(
    ("exact", "correct", "pvalue", "low", "high", "estimate", "method"),
    [
        # "Exact": V = 17251, p-value = 0.009379, CI 1.5045 5.9945, (pseudo)median 3.68875
        (True, True, 0.009379, 1.5045, 5.9945, 3.68875, "Wilcoxon signed rank exact test"),
        # "No exact & continuity correction": p = 0.009548, CI 1.504565 5.994467, 3.688796
        (False, True, 0.009548, 1.504565, 5.994467, 3.688796,
         "Wilcoxon signed rank test with continuity correction"),
        # "No exact & No continuity correction": p = 0.009535, CI 1.504991 5.993011, 3.688796
        (False, False, 0.009535, 1.504991, 5.993011, 3.688796, "Wilcoxon signed rank test"),
    ],
)
def test_camis_ttr_against_published_r(
    exact: bool, correct: bool, pvalue: float, low: float, high: float, estimate: float,
    method: str,
) -> None:
    df = _ttr()
    assert len(df) == 240
    res = stats.wilcoxon_signed_rank(
        df["TRT_B"], df["TRT_A"], conf_level=0.9, exact=exact, correct=correct
    )
    assert res.statistic == 17251
    assert res.n == 240 and res.n_zero == 0 and res.n_ties == 0
    assert res.method == method
    assert res.pvalue == pytest.approx(pvalue, rel=1e-4)
    # R prints 7 significant digits: agree to the last printed digit
    assert res.conf_int[0] == pytest.approx(low, abs=1e-6)
    assert res.conf_int[1] == pytest.approx(high, abs=1e-6)
    assert res.estimate == pytest.approx(estimate, abs=1e-6)
    assert res.conf_level == 0.9


def test_camis_ttr_default_is_normal_path() -> None:
    # n = 240 >= 50: R's default is the normal approximation with continuity correction
    df = _ttr()
    res = stats.wilcoxon_signed_rank(df["TRT_B"], df["TRT_A"], conf_level=0.9)
    assert res.exact is False
    assert res.pvalue == pytest.approx(0.009548, rel=1e-4)


# Ties and a zero. Expected p-values are R 3.4.1 output quoted in SciPy's test suite
# (scipy/stats/tests/test_morestats.py, TestWilcoxon.test_onesided):
#   x <- c(125, 115, 130, 140, 140, 115, 140, 125, 140, 135)
#   y <- c(110, 122, 125, 120, 140, 124, 123, 137, 135, 145)
#   wilcox.test(x, y, paired = TRUE, exact = FALSE, alternative = ..., correct = ...)
TIE_X = [125, 115, 130, 140, 140, 115, 140, 125, 140, 135]
TIE_Y = [110, 122, 125, 120, 140, 124, 123, 137, 135, 145]


@pytest.mark.parametrize(
    ("alternative", "correct", "expected"),
    [
        ("less", False, 0.7031847),
        ("less", True, 0.7233656),
        ("greater", False, 0.2968153),
        ("greater", True, 0.3176447),
    ],
)
def test_ties_and_zero_against_r(alternative: str, correct: bool, expected: float) -> None:
    res = stats.wilcoxon_signed_rank(TIE_X, TIE_Y, alternative=alternative, correct=correct)
    assert res.statistic == 27
    assert res.pvalue == pytest.approx(expected, abs=1e-7)
    assert res.exact is False  # a zero forces the normal path even with exact=None, n < 50


def test_ties_and_zero_by_hand() -> None:
    # d = x - y = 15, -7, 5, 20, 0, -9, 17, -12, 5, -10. Drop the zero: n = 9.
    # |d| sorted: 5, 5, 7, 9, 10, 12, 15, 17, 20 -> ranks 1.5, 1.5, 3, 4, 5, 6, 7, 8, 9.
    # V = ranks of positive d (5, 5, 15, 17, 20) = 1.5 + 1.5 + 7 + 8 + 9 = 27.
    # E(V) = n(n+1)/4 = 22.5. One tie group of size 2: sum(t^3 - t) = 6.
    # Var(V) = n(n+1)(2n+1)/24 - 6/48 = 71.25 - 0.125 = 71.125.
    # Two-sided with continuity correction: z = (27 - 22.5 - 0.5) / sqrt(71.125).
    z = (27 - 22.5 - 0.5) / math.sqrt(71.125)
    p_hand = 2 * (1 - 0.5 * (1 + math.erf(z / math.sqrt(2))))
    res = stats.wilcoxon_signed_rank(TIE_X, TIE_Y)
    assert res.statistic == 27
    assert (res.n, res.n_zero, res.n_ties) == (9, 1, 2)
    assert res.zstat == pytest.approx(z, rel=1e-12)
    assert res.pvalue == pytest.approx(p_hand, rel=1e-10)
    assert res.method == "Wilcoxon signed rank test with continuity correction"
    # R 3.4.1's greater/correct value doubled (two-sided = 2 * one-sided tail here)
    assert res.pvalue == pytest.approx(2 * 0.3176447, abs=2e-7)
    # the asymptotic limits straddle the estimate and are inside the data range
    low, high = res.conf_int
    assert -12 <= low < res.estimate < high <= 20
    assert res.conf_level == 0.95


def test_all_tied_matches_r() -> None:
    # R (quoted in SciPy's TestWilcoxon.test_wilcoxon_tie, gh-2391):
    #   wilcox.test(rep(0.1, 10), exact = FALSE, correct = FALSE)$p.value = 0.001565402
    #   wilcox.test(rep(0.1, 10), exact = FALSE, correct = TRUE)$p.value  = 0.001904195
    res = stats.wilcoxon_signed_rank([0.1] * 10, correct=False)
    assert res.pvalue == pytest.approx(0.001565402, rel=1e-6)
    assert stats.wilcoxon_signed_rank([0.1] * 10).pvalue == pytest.approx(0.001904195, rel=1e-6)
    # R cannot compute the interval here ("all observations are zero or tied"): NaN limits,
    # estimate = midrange
    assert all(math.isnan(v) for v in res.conf_int)
    assert res.estimate == pytest.approx(0.1)


def test_exact_distribution_against_scipy() -> None:
    # second source: scipy's exact signed-rank distribution (no ties, no zeros)
    rng = np.random.default_rng(20240501)
    for n in (5, 12, 23):
        d = rng.normal(0.3, 1, n)
        res = stats.wilcoxon_signed_rank(d)
        ref = sps.wilcoxon(d, method="exact")
        assert res.exact
        assert res.pvalue == pytest.approx(ref.pvalue, rel=1e-10)


def test_signrank_distribution_small_n_by_hand() -> None:
    # n = 3: subsets of {1, 2, 3} by sum: 0:{}, 1:{1}, 2:{2}, 3:{3},{1,2}, 4:{1,3}, 5:{2,3},
    # 6:{1,2,3} -> counts 1,1,1,2,1,1,1 over 8
    assert signrank_pmf(3) * 8 == pytest.approx([1, 1, 1, 2, 1, 1, 1])
    assert psignrank(3, 3) == pytest.approx(5 / 8)
    assert psignrank(3, 3, lower_tail=False) == pytest.approx(3 / 8)
    # R: qsignrank(0.025, 9) = 6 (the exact interval of the depression example uses it)
    assert qsignrank(0.025, 9) == 6
    # cdf for n = 3: 1/8, 2/8, 3/8, 5/8, 6/8, 7/8, 1 -> smallest q with P(V <= q) >= p
    assert qsignrank(0.5, 3) == 3
    assert qsignrank(0.8, 3) == 5
    assert qsignrank(0.9, 3) == 6


def test_r_zeroin_finds_root() -> None:
    root = r_zeroin(lambda v: v * v - 2, 0.0, 2.0, -2.0, 2.0, tol=1e-10)
    assert root == pytest.approx(math.sqrt(2), abs=1e-9)


def test_nan_pairs_dropped_and_counted() -> None:
    x = [*DEPR_X, np.nan, 2.0]
    y = [*DEPR_Y, 1.0, np.nan]
    res = stats.wilcoxon_signed_rank(x, y)
    ref = stats.wilcoxon_signed_rank(DEPR_X, DEPR_Y)
    assert res.n_missing == 2
    assert (res.statistic, res.pvalue, res.conf_int, res.estimate) == (
        ref.statistic, ref.pvalue, ref.conf_int, ref.estimate,
    )
    # pandas nullable input works the same
    res_pd = stats.wilcoxon_signed_rank(pd.Series(x, dtype="Float64"), pd.Series(y))
    assert res_pd.pvalue == ref.pvalue and res_pd.n_missing == 2


def test_errors() -> None:
    with pytest.raises(StatsInputError, match="not enough"):
        stats.wilcoxon_signed_rank([], [])
    with pytest.raises(StatsInputError, match="not enough"):
        stats.wilcoxon_signed_rank([np.nan, 1.0], [1.0, np.nan])
    with pytest.raises(StatsInputError, match="all 3 non-missing differences are zero"):
        stats.wilcoxon_signed_rank([1, 2, 3], [1, 2, 3])
    with pytest.raises(StatsInputError, match="same length"):
        stats.wilcoxon_signed_rank([1, 2, 3], [1, 2])
    with pytest.raises(StatsInputError, match="conf_level"):
        stats.wilcoxon_signed_rank(DEPR_X, DEPR_Y, conf_level=95)
    with pytest.raises(StatsInputError, match="alternative"):
        stats.wilcoxon_signed_rank(DEPR_X, DEPR_Y, alternative="bigger")
    # the error is a ValueError too
    with pytest.raises(ValueError):
        stats.wilcoxon_signed_rank([], [])


def test_small_n_conf_level_not_achievable() -> None:
    # n = 3: the widest exact interval (min, max) has coverage 1 - 2/8 = 0.75 < 0.95; R warns
    # and reports conf.level = 1 - signif(achieved.alpha, 2) = 0.75
    res = stats.wilcoxon_signed_rank([1.0, 2.5, 4.0])
    assert res.conf_int == (1.0, 4.0)
    assert res.conf_level == pytest.approx(0.75)


def test_shifted_rank_sums_equal_ranking_anew() -> None:
    # R's asymptotic interval ranks |d - mu| afresh at every step of uniroot:
    #   x <- d - mu; x <- x[x != 0]; r <- rank(abs(x)); sum(r[x > 0]); NTIES from table(r)
    # _shifted_rank_sums gets the same numbers from the sorted d without re-ranking; being
    # sums of half-integers and integers they must agree to the last bit, ties and exact
    # zeros (mu equal to a difference) included.
    from msc_analysis.stats.signed_rank import _shifted_rank_sums

    rng = np.random.default_rng(20240601)
    for trial in range(400):
        n = int(rng.integers(1, 400))
        if trial % 3 == 0:
            d = rng.normal(size=n)
        elif trial % 3 == 1:
            d = np.round(rng.normal(size=n), 1)  # many ties
        else:
            d = rng.integers(-4, 5, size=n) * 0.25  # heavy ties, exact zeros after shifts
        d = d[d != 0]
        if d.size == 0:
            continue
        shifts = [*rng.uniform(d.min(), d.max(), 4), *rng.choice(d, 3), d.min(), d.max()]
        for mu in shifts:
            x = d - mu
            x = x[x != 0]
            ranks = sps.rankdata(np.abs(x))
            _, counts = np.unique(ranks, return_counts=True)
            expected = (x.size, float(ranks[x > 0].sum()),
                        float(np.sum(counts.astype(float) ** 3 - counts)))
            assert _shifted_rank_sums(np.sort(d), float(mu)) == expected


def test_shifted_rank_sums_by_hand() -> None:
    # d = -1, 1, 2, 2, 3 shifted by mu = 1: x = -2, 0, 1, 1, 2 -> zero dropped;
    # |x| = 2, 1, 1, 2 -> ranks 3.5, 1.5, 1.5, 3.5; positives x = 1, 1, 2 -> 1.5 + 1.5 + 3.5
    # = 6.5; two tie groups of 2: (8 - 2) + (8 - 2) = 12
    from msc_analysis.stats.signed_rank import _shifted_rank_sums

    assert _shifted_rank_sums(np.array([-1.0, 1.0, 2.0, 2.0, 3.0]), 1.0) == (4, 6.5, 12.0)
    # every value equal to the shift: nothing left to rank
    assert _shifted_rank_sums(np.array([2.0, 2.0]), 2.0) == (0, 0.0, 0.0)
