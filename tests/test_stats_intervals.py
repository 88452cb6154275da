"""Clopper-Pearson and exact Poisson intervals against R and second sources."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from msc_analysis import stats
from msc_analysis.stats import StatsInputError

# R: binom.test(x, 10)$conf.int for x = 0..5 (R >= 3, printed to 7 significant digits);
# x = 6..10 follow by symmetry, low(x) = 1 - high(10 - x).
R_BINOM_10 = {
    0: (0.0, 0.3084971),
    1: (0.002528579, 0.4450161),
    2: (0.02521073, 0.5560955),
    3: (0.06673951, 0.6524529),
    4: (0.1215523, 0.7376219),
    5: (0.187086, 0.812914),
}


@pytest.mark.parametrize("x", range(11))
def test_clopper_pearson_against_r(x: int) -> None:
    if x <= 5:
        low, high = R_BINOM_10[x]
    else:
        low_m, high_m = R_BINOM_10[10 - x]
        low, high = 1 - high_m, 1 - low_m
    got = stats.clopper_pearson(x, 10)
    assert isinstance(got[0], float)
    assert got[0] == pytest.approx(low, rel=1e-6, abs=1e-12)
    assert got[1] == pytest.approx(high, rel=1e-6, abs=1e-12)
    # second source: scipy.stats.binomtest(...).proportion_ci(method="exact")
    ci = sps.binomtest(x, 10).proportion_ci(confidence_level=0.95, method="exact")
    assert got == pytest.approx((ci.low, ci.high), rel=1e-10, abs=1e-14)


def test_clopper_pearson_extremes_and_vector() -> None:
    assert stats.clopper_pearson(0, 10)[0] == 0.0
    assert stats.clopper_pearson(10, 10)[1] == 1.0
    low, high = stats.clopper_pearson(np.arange(11), 10)
    assert low.shape == (11,) and high.shape == (11,)
    assert low[5] == pytest.approx(0.187086, rel=1e-6)
    # 90% level: R binom.test(0, 10, conf.level = 0.9)$conf.int upper = 1 - 0.05^(1/10)
    assert stats.clopper_pearson(0, 10, conf_level=0.9)[1] == pytest.approx(1 - 0.05**0.1)


def test_clopper_pearson_errors() -> None:
    with pytest.raises(StatsInputError):
        stats.clopper_pearson(11, 10)
    with pytest.raises(StatsInputError):
        stats.clopper_pearson(1.5, 10)
    with pytest.raises(StatsInputError):
        stats.clopper_pearson(0, 0)


def test_poisson_exact_against_r() -> None:
    # R: poisson.test(10, 1)$conf.int = 4.795389 18.390356
    low, high = stats.poisson_exact_ci(10, 1.0)
    assert low == pytest.approx(4.795389, rel=1e-6)
    assert high == pytest.approx(18.390356, rel=1e-6)
    # R: poisson.test(0, 1)$conf.int = 0.000000 3.688879
    low, high = stats.poisson_exact_ci(0)
    assert low == 0.0
    assert high == pytest.approx(3.688879, rel=1e-6)
    # second source: chi-square form of the Garwood interval, exposure 50 (rate per session)
    low, high = stats.poisson_exact_ci(10, 50)
    assert low == pytest.approx(sps.chi2.ppf(0.025, 20) / 2 / 50, rel=1e-10)
    assert high == pytest.approx(sps.chi2.ppf(0.975, 22) / 2 / 50, rel=1e-10)
    # zero events: upper limit = -log(alpha/2) / exposure
    assert stats.poisson_exact_ci(0, 30)[1] == pytest.approx(-np.log(0.025) / 30, rel=1e-10)


def test_poisson_vector_and_errors() -> None:
    low, high = stats.poisson_exact_ci([0, 10], [1.0, 1.0])
    assert low[1] == pytest.approx(4.795389, rel=1e-6) and high[0] == pytest.approx(3.688879)
    with pytest.raises(StatsInputError, match="exposure"):
        stats.poisson_exact_ci(3, 0)
    with pytest.raises(StatsInputError):
        stats.poisson_exact_ci(-1, 1)
