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


# ---- ArdIndex: hashed look-ups must give exactly the rows of the matching rule ------------------


def _matches(row: dict, analysis_id: str, stat_name: str, variable: str | None,
             variable_level: str | None, levels: dict[str, str], exact_groups: bool) -> bool:
    """The matching rule of ard.lookup written out row by row (the reference)."""
    if row["analysis_id"] != analysis_id or row["stat_name"] != stat_name:
        return False
    if variable is not None and row["variable"] != variable:
        return False
    if variable_level is not None and row["variable_level"] != variable_level:
        return False
    pairs = {(row[f"group{i}"], row[f"group{i}_level"]) for i in (1, 2, 3) if row[f"group{i}"]}
    if not all((k, v) in pairs for k, v in levels.items()):
        return False
    return not exact_groups or {g for g, _ in pairs} == set(levels)


def _random_ard(seed: int) -> pd.DataFrame:
    """400 rows with 0-3 by-variables (now and then one by-variable twice in a row), two
    analysis ids, variables, stat names and three variable levels; plus 5 duplicated rows."""
    import numpy as np

    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(400):
        row = ard.make_row(str(rng.choice(["X", "Y"])), {}, str(rng.choice(["AVAL", "CHG"])),
                           str(rng.choice(["n", "mean"])), float(rng.random()),
                           variable_level=str(rng.choice(["", "Y", "N"])))
        names = rng.choice(["PARAMCD", "AVISIT", "SESSNUM", "TRTA"],
                           size=int(rng.integers(0, 4)), replace=bool(rng.random() < 0.15))
        for i, name in enumerate(names, start=1):  # set by hand: make_row takes a mapping
            row[f"group{i}"], row[f"group{i}_level"] = str(name), str(rng.choice(["A", "B", "C"]))
        rows.append(row)
    rows += rows[:5]  # exact duplicates: both positions must be found
    return ard.to_frame(rows)


def test_index_positions_equal_the_row_by_row_rule() -> None:
    import itertools

    frame = _random_ard(20260101)
    records = frame.to_dict("records")
    index = ard.ArdIndex(frame)
    filters = [{}, {"PARAMCD": "A"}, {"AVISIT": "B", "PARAMCD": "A"}, {"TRTA": "C"},
               {"SESSNUM": "A", "TRTA": "B", "AVISIT": "C"}, {"PARAMCD": "Z"}]
    checked = found_any = 0
    for aid, stat, var, level, levels, exact in itertools.product(
            ["X", "Y", "Q"], ["n", "mean", "sd"], [None, "AVAL", "CHG"], [None, "", "Y"],
            filters, [False, True]):
        want = [i for i, r in enumerate(records)
                if _matches(r, aid, stat, var, level, levels, exact)]
        got = index.positions(aid, stat, variable=var, variable_level=level, levels=levels,
                              exact_groups=exact)
        assert got == want, (aid, stat, var, level, levels, exact)
        checked += 1
        found_any += bool(want)
    assert checked == 3 * 3 * 3 * 3 * 6 * 2 and found_any > 100
    twice = [r for r in records
             if len({r[f"group{i}"] for i in (1, 2, 3)} - {""})
             < sum(bool(r[f"group{i}"]) for i in (1, 2, 3))]
    assert twice  # the rule is exercised on rows with a by-variable twice
    # asked twice, answered from the cached table: same answer, and a copy the caller may change
    first = index.positions("X", "n", variable="AVAL", levels={"PARAMCD": "A"})
    first.append(-1)
    assert -1 not in index.positions("X", "n", variable="AVAL", levels={"PARAMCD": "A"})


def test_index_matches_a_row_with_one_by_variable_twice_at_either_level() -> None:
    row = ard.make_row("X", {"PARAMCD": "A", "AVISIT": "B"}, "AVAL", "n", 3)
    row["group2"] = "PARAMCD"  # PARAMCD twice: levels A and B
    frame = ard.to_frame([row])
    index = ard.ArdIndex(frame)
    assert index.positions("X", "n", levels={"PARAMCD": "A"}) == [0]
    assert index.positions("X", "n", levels={"PARAMCD": "B"}) == [0]
    assert index.positions("X", "n", levels={"PARAMCD": "C"}) == []
    assert index.positions("X", "n", levels={"PARAMCD": "A"}, exact_groups=True) == [0]
    # names are compared as text, so 1 and "1" name one by-variable: asked at two levels, a row
    # matches only when it has both
    row = ard.make_row("X", {"1": "A", "AVISIT": "B"}, "AVAL", "n", 3)
    row["group2"] = "1"
    index = ard.ArdIndex(ard.to_frame([row, ard.make_row("X", {"1": "A"}, "AVAL", "n", 4)]))
    assert index.positions("X", "n", levels={1: "A", "1": "B"}) == [0]
    assert index.positions("X", "n", levels={1: "A"}) == [0, 1]


def test_index_has_analysis_positions_one_per_stat_and_values() -> None:
    frame = _sample()  # PP-SESS: RR mean S1 0.4, RR mean S2 0.35, RR n S1 10
    extra = ard.ArdBuilder("PP-FU", {"PARAMCD": "TBIL"})
    extra.add("CHG", "sd", None, groups={"AVISIT": "Day 7"})
    frame = ard.bind([frame.iloc[:2], extra.frame(), frame.iloc[2:]]).reset_index(drop=True)
    index = ard.index_for(frame)
    assert index is ard.index_for(frame)  # cached for the same frame object
    assert index.analysis_positions("PP-SESS") == [0, 1, 3]
    assert index.analysis_positions("PP-FU") == [2]
    assert index.analysis_positions("PP-HOLM") == []
    # has: any stat name, or one stat name
    assert index.has("PP-SESS", variable="RR", levels={"SESSNUM": 1})
    assert index.has("PP-SESS", "n", variable="RR", levels={"SESSNUM": 1})
    assert not index.has("PP-SESS", "n", variable="RR", levels={"SESSNUM": 2})
    assert not index.has("PP-SESS", variable="CHG")
    assert not index.has("PP-MMRM")
    # one row per stat, in the order asked; None when a stat has no row or several
    got = index.one_per_stat("PP-SESS", ["n", "mean"], variable="RR", levels={"SESSNUM": "1"})
    assert got == [3, 0]
    assert index.values(got) == [10.0, 0.4]
    assert index.one_per_stat("PP-SESS", ["mean"], variable="RR") is None  # two rows
    assert index.one_per_stat("PP-SESS", ["mean", "sd"], variable="RR",
                              levels={"SESSNUM": 1}) is None  # no sd row
    assert math.isnan(index.values(index.one_per_stat("PP-FU", ["sd"]))[0])
