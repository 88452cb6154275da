"""describe() with SAS QNTLDEF=5 quartiles, geometric statistics, and Holm adjustment."""

from __future__ import annotations

import math

import numpy as np
import pytest

from msc_analysis import stats
from msc_analysis.ard import STAT_NAMES
from msc_analysis.stats import StatsInputError


def test_describe_sas_quartiles_by_hand() -> None:
    # SAS QNTLDEF=5 (PROC UNIVARIATE / PROC MEANS default; SAS documentation, "Calculating
    # Percentiles"): n*p = j + g; g > 0 -> x_(j+1); g = 0 -> (x_(j) + x_(j+1)) / 2.
    # n = 10: q1: 2.5 -> x_(3) = 3; median: 5 -> (x_(5) + x_(6))/2 = 5.5; q3: 7.5 -> x_(8) = 8
    values = [7, 1, 10, 3, 5, 2, 9, 4, 8, 6]
    out = stats.describe(values)
    assert (out["q1"], out["median"], out["q3"]) == (3.0, 5.5, 8.0)
    # numpy's default (linear, R type 7) differs: 3.25 / 7.75 - so the definition matters
    assert np.quantile(values, 0.25) == 3.25
    # second source: numpy's "averaged_inverted_cdf" is the same definition (R type 2)
    assert out["q1"] == np.quantile(values, 0.25, method="averaged_inverted_cdf")
    # n = 8: q1: 2 -> (x_(2) + x_(3))/2 = 2.5; q3: 6 -> (x_(6) + x_(7))/2 = 6.5
    out8 = stats.describe([1, 2, 3, 4, 5, 6, 7, 8])
    assert (out8["q1"], out8["median"], out8["q3"]) == (2.5, 4.5, 6.5)
    # n = 5 (1, 2, 3, 4, 100): q1: 1.25 -> x_(2) = 2; median: 2.5 -> x_(3) = 3; q3: 3.75 -> 4
    out5 = stats.describe([100, 1, 2, 3, 4])
    assert (out5["q1"], out5["median"], out5["q3"]) == (2.0, 3.0, 4.0)


def test_describe_all_stats_and_names() -> None:
    out = stats.describe([2.0, 4.0, np.nan, 4.0, 6.0, None])
    assert list(out) == ["n", "n_missing", "mean", "sd", "median", "q1", "q3", "min", "max"]
    assert set(out) <= set(STAT_NAMES)
    assert out["n"] == 4 and out["n_missing"] == 2
    assert out["mean"] == 4.0
    # sd = sqrt(((2-4)^2 + 0 + 0 + (6-4)^2) / 3) = sqrt(8/3)
    assert out["sd"] == pytest.approx(math.sqrt(8 / 3), rel=1e-12)
    assert (out["min"], out["max"]) == (2.0, 6.0)


def test_describe_geometric_by_hand() -> None:
    # values 1 and e: logs 0 and 1, mean 0.5 -> geo_mean = e^0.5;
    # s = sd(0, 1) = sqrt(1/2), s^2 = 0.5 -> geo_cv = 100 * sqrt(e^0.5 - 1) = 80.5432...
    out = stats.describe([1.0, math.e], log=True)
    assert set(out) <= set(STAT_NAMES)
    assert out["geo_mean"] == pytest.approx(math.exp(0.5), rel=1e-12)
    assert out["geo_cv"] == pytest.approx(100 * math.sqrt(math.exp(0.5) - 1), rel=1e-12)
    assert out["geo_cv"] == pytest.approx(80.5432, abs=1e-4)


def test_describe_small_n_is_nan_not_error() -> None:
    one = stats.describe([5.0], log=True)
    assert one["n"] == 1 and one["mean"] == 5.0 and one["median"] == 5.0
    assert one["q1"] == 5.0 and one["q3"] == 5.0
    assert math.isnan(one["sd"]) and math.isnan(one["geo_cv"])
    assert one["geo_mean"] == pytest.approx(5.0)
    none = stats.describe([np.nan, np.nan])
    assert none["n"] == 0 and none["n_missing"] == 2
    assert all(math.isnan(none[k]) for k in ("mean", "sd", "median", "q1", "q3", "min", "max"))
    assert stats.describe([])["n"] == 0


def test_describe_log_rejects_non_positive() -> None:
    with pytest.raises(StatsInputError, match="values > 0"):
        stats.describe([1.0, 0.0, 2.0], log=True)
    with pytest.raises(ValueError):
        stats.describe([1.0, -3.0], log=True)


def test_sas_quantile_edges() -> None:
    assert stats.sas_quantile([3, 1, 2], 0.0) == 1.0
    assert stats.sas_quantile([3, 1, 2], 1.0) == 3.0
    assert math.isnan(stats.sas_quantile([], 0.5))


def test_holm_by_hand() -> None:
    # R: p.adjust(c(0.01, 0.04, 0.03, 0.005), "holm") = 0.03 0.06 0.06 0.02
    # sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> cummax 0.06
    got = stats.holm([0.01, 0.04, 0.03, 0.005])
    assert got == pytest.approx([0.03, 0.06, 0.06, 0.02], rel=1e-12)
    # capped at 1: R p.adjust(c(0.5, 0.6), "holm") = 1 1 (0.5*2 = 1, 0.6 -> cummax 1)
    assert stats.holm([0.5, 0.6]) == pytest.approx([1.0, 1.0])
    # NA kept, m counts non-missing: R p.adjust(c(0.01, NA, 0.02), "holm") = 0.02 NA 0.02
    got = stats.holm([0.01, np.nan, 0.02])
    assert got[0] == pytest.approx(0.02) and math.isnan(got[1]) and got[2] == pytest.approx(0.02)


def test_holm_six_biomarkers() -> None:
    # six p-values (one per biomarker), by hand: sorted 0.001, 0.008, 0.012, 0.04, 0.2, 0.7
    # times 6..1: 0.006, 0.040, 0.048, 0.12, 0.4, 0.7 -> already increasing
    p = [0.2, 0.001, 0.7, 0.012, 0.04, 0.008]
    assert stats.holm(p) == pytest.approx([0.4, 0.006, 0.7, 0.048, 0.12, 0.04], rel=1e-12)
    with pytest.raises(StatsInputError):
        stats.holm([0.5, 1.5])
