"""Tests of SAS-style rounding and the cell formats (msc_analysis.render.formatting).

References
----------
[SAS-ROUND] SAS 9.4 Functions and CALL Routines: Reference, "ROUND Function": ROUND "returns the
    multiple with the larger absolute value when the first argument is approximately halfway
    between the two nearest multiples", and fuzzes so that results "agree with decimal
    arithmetic" (e.g. ROUND(0.33, 0.1) returns 0.3, not 3 * 0.1).
[SAS-ROUNDE] same reference, "ROUNDE Function", example table x = 0 to 4 by 0.25: ROUND gives
    0.50 -> 1, 1.50 -> 2, 2.50 -> 3, 3.50 -> 4, 0.25 -> 0, 0.75 -> 1, 2.25 -> 2, 2.75 -> 3
    (ROUNDE gives 0, 2, 2, 4 for the halves).
[SAS-ROUNDZ] same reference, "ROUNDZ Function", example 2: x = 223.456 rounds to 223.46 at 0.01,
    223 at 1 and 200 at 100 (ROUND agrees: no half is involved).
[SAS-FUZZ] same reference, "FUZZ Function": the fuzz of SAS is 1E-12.
Expected values of decimal halves below (2.675, 1.005, ...) are hand calculations in decimal
arithmetic, rounding the exact decimal half away from zero, which is what SAS ROUND returns for
these constants.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from msc_analysis.render.formatting import (
    DEFAULT_DECIMALS_RULE,
    DecimalsRule,
    decimals_for,
    fmt_ci,
    fmt_mean_sd,
    fmt_median_q1q3,
    fmt_min_max,
    fmt_n,
    fmt_n_pct,
    fmt_num,
    fmt_p,
    round_half_away,
)

# (value, decimals, expected display) -- hand calculation in decimal arithmetic, half away from 0.
ROUNDING_CASES = [
    # [SAS-ROUNDE] ROUND column: halves go away from zero, quarters to the nearest integer
    (0.5, 0, "1"), (1.5, 0, "2"), (2.5, 0, "3"), (3.5, 0, "4"),
    (0.25, 0, "0"), (0.75, 0, "1"), (2.25, 0, "2"), (2.75, 0, "3"),
    # [SAS-ROUND]: the multiple with the larger absolute value, also for negatives
    (-0.5, 0, "-1"), (-2.5, 0, "-3"), (-1.5, 0, "-2"), (-2.675, 2, "-2.68"),
    # [SAS-ROUNDZ] example 2
    (223.456, 2, "223.46"), (223.456, 0, "223"),
    # [SAS-ROUND] ROUND(0.33, 0.1) = 0.3
    (0.33, 1, "0.3"),
    # Decimal halves that binary floating point stores just below the half
    # (2.675 is 2.67499999999999982236431605997495353221893310546875 in binary64):
    (2.675, 2, "2.68"), (1.005, 2, "1.01"), (0.285, 2, "0.29"), (1.45, 1, "1.5"),
    (8.345, 2, "8.35"), (0.125, 2, "0.13"), (1.0005, 3, "1.001"), (4.975, 2, "4.98"),
    (0.045, 2, "0.05"), (1.15, 1, "1.2"), (2.345, 2, "2.35"), (-8.345, 2, "-8.35"),
    # Not halves: ordinary rounding
    (2.674999, 2, "2.67"), (2.6751, 2, "2.68"), (0.0049, 2, "0.00"), (9.995, 2, "10.00"),
    (99.95, 1, "100.0"), (0.0, 3, "0.000"), (7, 2, "7.00"),
    # Large magnitudes near the limit of binary64 (ulp of 1e15 is 0.125, so these are exact):
    (1e15 + 0.5, 0, "1000000000000001"), (-(1e15 + 0.5), 0, "-1000000000000001"),
    (1e15 + 0.25, 0, "1000000000000000"), (1e15 + 0.125, 2, "1000000000000000.13"),
    (123456789012345.67, 1, "123456789012345.7"),
    # Tiny values
    (5e-324, 2, "0.00"), (1e-20, 4, "0.0000"),
]


@pytest.mark.parametrize(("x", "decimals", "expected"), ROUNDING_CASES)
def test_fmt_num_rounds_half_away_from_zero(x: float, decimals: int, expected: str) -> None:
    assert fmt_num(x, decimals) == expected


@pytest.mark.parametrize(("x", "decimals", "expected"), ROUNDING_CASES)
def test_round_half_away_returns_the_nearest_float(x: float, decimals: int, expected: str) -> None:
    assert round_half_away(x, decimals) == float(expected)


def test_naive_rounding_fails_where_ours_does_not() -> None:
    # The cases are not vacuous: Python's round (half to even on the binary value) and the
    # naive floor(x * 100 + 0.5) both give 2.67 / 1.0 for these decimal halves.
    assert round(2.675, 2) == 2.67
    assert round(1.005, 2) == 1.0 and math.floor(1.005 * 100 + 0.5) / 100 == 1.0
    assert round(2.5) == 2  # half to even
    assert (round_half_away(2.675, 2), round_half_away(1.005, 2), round_half_away(2.5)) == (
        2.68, 1.01, 3.0)


def test_fuzz_treats_arithmetic_halves_as_halves() -> None:
    # 0.3 - 0.025 is 0.27499999999999997 in binary64 (repr too), 0.3 + 0.035 is
    # 0.33499999999999996: arithmetic lands just below the decimal half. Values within a relative
    # 1e-12 of a half count as the half [SAS-ROUND], [SAS-FUZZ].
    x = 0.3 - 0.025
    assert repr(x) == "0.27499999999999997"
    assert fmt_num(x, 2) == "0.28"
    assert fmt_num(0.3 + 0.035, 2) == "0.34"
    assert fmt_num(-(0.3 + 0.035), 2) == "-0.34"
    assert fmt_num(2.5 - 1e-13, 0) == "3"   # within the fuzz: a half
    assert fmt_num(2.5 - 1e-9, 0) == "2"    # well outside: below the half
    assert fmt_num(2.5 + 1e-9, 0) == "3"
    assert fmt_num(-(2.5 - 1e-13), 0) == "-3"
    # A value just below a half, but by more than the fuzz, is not pushed up
    assert fmt_num(0.12345, 4) == "0.1235" and fmt_num(0.123449999, 4) == "0.1234"


def test_missing_and_bad_input() -> None:
    assert fmt_num(float("nan"), 2) == ""
    assert fmt_num(None, 2) == ""
    assert fmt_num(np.nan, 1) == ""
    assert math.isnan(round_half_away(float("nan"), 2))
    assert math.isnan(round_half_away(None, 2))
    with pytest.raises(ValueError, match="infinite"):
        fmt_num(float("inf"), 2)
    with pytest.raises(ValueError, match="decimals"):
        fmt_num(1.0, -1)
    with pytest.raises(ValueError, match="decimals"):
        fmt_num(1.0, 1.5)  # type: ignore[arg-type]


def test_negative_zero_is_shown_without_sign() -> None:
    assert fmt_num(-0.001, 2) == "0.00"
    assert fmt_num(-0.0, 1) == "0.0"
    assert fmt_num(-0.005, 2) == "-0.01"  # a half: away from zero


def test_numpy_scalars_are_accepted() -> None:
    assert fmt_num(np.float64(2.675), 2) == "2.68"
    assert fmt_num(np.int64(3), 1) == "3.0"


def test_fmt_n() -> None:
    assert fmt_n(3.0) == "3" and fmt_n(np.int64(0)) == "0" and fmt_n(None) == ""
    with pytest.raises(ValueError, match="whole number"):
        fmt_n(2.5)


def test_fmt_n_pct_conventions() -> None:
    assert fmt_n_pct(3, 10) == "3 (30.0)"
    assert fmt_n_pct(1, 3) == "1 (33.3)"          # 33.333...
    assert fmt_n_pct(2, 3) == "2 (66.7)"          # 66.666...
    assert fmt_n_pct(1, 8) == "1 (12.5)"
    assert fmt_n_pct(1, 16) == "1 (6.3)"          # 6.25 -> 6.3 (half away from zero)
    assert fmt_n_pct(0, 10) == "0"                # zero: no percentage
    assert fmt_n_pct(10, 10) == "10 (100)"        # 100 %: no decimals
    assert fmt_n_pct(1999, 2000) == "1999 (>99.9)"  # 99.95 would round to 100.0
    assert fmt_n_pct(1, 2000) == "1 (0.1)"        # 0.05 -> 0.1 (half away from zero)
    assert fmt_n_pct(1, 2001) == "1 (<0.1)"       # 0.04998 -> 0.0
    assert fmt_n_pct(3, 10, 0) == "3 (30)"
    assert fmt_n_pct(None, 10) == ""


def test_fmt_n_pct_uses_the_ard_percentage_when_given() -> None:
    assert fmt_n_pct(3, None, pct=30.0) == "3 (30.0)"
    assert fmt_n_pct(1, None, pct=100 / 3) == "1 (33.3)"
    assert fmt_n_pct(5, None, pct=100.0) == "5 (100)"


def test_fmt_n_pct_errors() -> None:
    with pytest.raises(ValueError, match="outside"):
        fmt_n_pct(11, 10)
    with pytest.raises(ValueError, match="positive"):
        fmt_n_pct(0, 0)
    with pytest.raises(ValueError, match="denominator"):
        fmt_n_pct(1, None)


def test_fmt_ci() -> None:
    assert fmt_ci(0.1234, 0.3449, 2) == "(0.12, 0.34)"
    assert fmt_ci(0.125, 2.675, 2) == "(0.13, 2.68)"
    assert fmt_ci(-1.005, 1.005, 2) == "(-1.01, 1.01)"
    assert fmt_ci(None, 0.5, 1) == "(NE, 0.5)"
    assert fmt_ci(np.nan, np.nan, 1) == ""


def test_fmt_p() -> None:
    assert fmt_p(0.00004) == "<0.0001"
    assert fmt_p(0.0) == "<0.0001"
    assert fmt_p(0.0001) == "0.0001"
    assert fmt_p(0.00015) == "0.0002"     # half away from zero
    assert fmt_p(0.0123456) == "0.0123"
    assert fmt_p(0.03125) == "0.0313"     # exact binary half: 0.03125 = 1/32
    assert fmt_p(0.9999) == "0.9999"
    assert fmt_p(0.99991) == ">0.9999"
    assert fmt_p(1.0) == ">0.9999"
    assert fmt_p(0.0049, 3) == "0.005" and fmt_p(0.0004, 3) == "<0.001"
    assert fmt_p(None) == ""
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        fmt_p(1.2)
    with pytest.raises(ValueError, match="decimal"):
        fmt_p(0.5, 0)


def test_fmt_mean_sd_median_min_max() -> None:
    assert fmt_mean_sd(12.345, 4.5678, 2) == "12.35 (4.568)"
    assert fmt_mean_sd(12.345, 4.5678, 2, 2) == "12.35 (4.57)"
    assert fmt_mean_sd(3.0, None, 1) == "3.0 (NE)"
    assert fmt_mean_sd(None, None, 1) == ""
    assert fmt_median_q1q3(1.25, 0.45, 2.35, 1) == "1.3 (0.5, 2.4)"
    assert fmt_median_q1q3(1.0, None, None, 1) == "1.0 (NE, NE)"
    assert fmt_median_q1q3(None, 1.0, 2.0, 1) == ""
    assert fmt_min_max(0.1, 9.75, 1) == "0.1, 9.8"
    assert fmt_min_max(None, None, 1) == ""


def test_decimals_rule_default() -> None:
    # SAP rule: mean/median/q1/q3/geo_mean/estimate/CI raw + 1, SD/SE raw + 2, min/max raw,
    # pct 1, p-value 4.
    raw = 1
    expected = {"mean": 2, "median": 2, "q1": 2, "q3": 2, "geo_mean": 2, "estimate": 2,
                "conf_low": 2, "conf_high": 2, "sd": 3, "se": 3, "min": 1, "max": 1,
                "pct": 1, "p_value": 4, "n": 0}
    assert {k: decimals_for(k, raw) for k in expected} == expected
    assert decimals_for("pct", 3) == 1 and decimals_for("p_value", 0) == 4
    assert decimals_for("sd", 3) == 4  # 3 + 2 = 5 is capped at max_decimals 4
    with pytest.raises(ValueError, match="no decimals rule"):
        decimals_for("unknown_stat", 1)


def test_decimals_rule_as_mapping_or_sap_object() -> None:
    flat = {"mean": "+2", "sd": "raw+3", "min": "raw", "pct": 0}
    assert decimals_for("mean", 1, flat) == 3
    assert decimals_for("sd", 1, flat) == 4
    assert decimals_for("min", 2, flat) == 2
    assert decimals_for("pct", 2, flat) == 0
    sap_layout = {"relative": {"mean": 1}, "fixed": {"mean": 3}, "max_decimals": 2}
    assert decimals_for("mean", 1, sap_layout) == 3  # fixed wins, as in sap.Decimals

    class FakeSapDecimals:  # anything with for_stat(stat_name, raw_decimals)
        def for_stat(self, stat_name: str, raw_decimals: int) -> int:
            return 7

    assert decimals_for("mean", 1, FakeSapDecimals()) == 7
    with pytest.raises(ValueError, match="non-negative"):
        DecimalsRule(offsets={"mean": -1})


def test_default_rule_matches_the_sap_settings() -> None:
    from pathlib import Path

    toml_path = Path(__file__).resolve().parents[1] / "sap" / "sap.toml"
    if not toml_path.exists():
        pytest.skip("sap/sap.toml not present")
    import tomllib

    table = tomllib.loads(toml_path.read_text(encoding="utf-8"))["decimals"]
    for name, value in table["relative"].items():
        assert DEFAULT_DECIMALS_RULE.offsets[name] == value, name
    for name, value in table["fixed"].items():
        assert DEFAULT_DECIMALS_RULE.fixed[name] == value, name
    assert DEFAULT_DECIMALS_RULE.max_decimals == table["max_decimals"]
