"""The ARD layout: vocabulary, by-variables, lookup that traces one number to one row."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from msc_analysis import ard


def _sample() -> pd.DataFrame:
    b = ard.ArdBuilder("PP-SESS", {"PARAMCD": "TBIL"})
    b.add("RR", "mean", 0.4, groups={"SESSNUM": 1})
    b.add("RR", "mean", 0.35, groups={"SESSNUM": 2})
    b.add("RR", "n", 10, groups={"SESSNUM": 1})
    return b.frame()


def test_frame_has_exact_columns_and_float_stats() -> None:
    frame = _sample()
    assert tuple(frame.columns) == ard.ARD_COLUMNS
    assert frame["stat"].dtype == float
    assert list(frame["group1"]) == ["PARAMCD"] * 3
    assert list(frame["group2_level"]) == ["1", "2", "1"]
    assert frame.loc[0, "group3"] == ""


def test_unknown_stat_name_is_rejected() -> None:
    with pytest.raises(ard.ArdError, match="not in the ARD vocabulary"):
        ard.make_row("X", {}, "AVAL", "average", 1.0)


def test_more_than_three_groups_is_rejected() -> None:
    with pytest.raises(ard.ArdError, match="at most three"):
        ard.make_row("X", {"a": 1, "b": 2, "c": 3, "d": 4}, "AVAL", "n", 1)


def test_lookup_finds_exactly_one_row_by_level_wherever_it_sits() -> None:
    frame = _sample()
    assert ard.lookup(frame, "PP-SESS", "mean", variable="RR", PARAMCD="TBIL", SESSNUM=2) == 0.35
    with pytest.raises(ard.ArdError, match="found 2"):
        ard.lookup(frame, "PP-SESS", "mean", variable="RR", PARAMCD="TBIL")
    with pytest.raises(ard.ArdError, match="found 0"):
        ard.lookup(frame, "PP-SESS", "sd", variable="RR", SESSNUM=1)


def test_none_becomes_nan_and_bind_checks_layout() -> None:
    row = ard.make_row("X", {}, "AVAL", "sd", None)
    assert math.isnan(row["stat"])  # type: ignore[arg-type]
    both = ard.bind([_sample(), ard.to_frame([row])])
    assert len(both) == 4
    with pytest.raises(ard.ArdError, match="ARD columns"):
        ard.bind([pd.DataFrame({"x": [1]})])


def test_write_is_full_precision_and_byte_stable(tmp_path) -> None:
    frame = ard.to_frame([ard.make_row("X", {}, "AVAL", "mean", 0.1 + 0.2)])
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    ard.write(frame, first)
    ard.write(frame, second)
    assert first.read_bytes() == second.read_bytes()
    back = pd.read_csv(first)
    assert back.loc[0, "stat"] == 0.1 + 0.2  # 0.30000000000000004 survives the round trip
