"""DISP, ASETS and DEMO against counts and summaries done by hand on a small ADSL."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from msc_analysis.analyses.population import analysis_sets, demographics, disposition


def _stat(ard: pd.DataFrame, var: str, name: str, level: str = "") -> float:
    rows = ard[(ard["variable"] == var) & (ard["stat_name"] == name)
               & (ard["variable_level"] == level)]
    assert len(rows) == 1, (var, name, level, len(rows))
    return float(rows["stat"].iloc[0])


def test_analysis_sets_counts(small_adsl: pd.DataFrame) -> None:
    ard = analysis_sets(small_adsl)
    assert _stat(ard, "ENRLFL", "N") == 5
    assert _stat(ard, "SAFFL", "n", "SAF") == 4
    assert _stat(ard, "FASFL", "n", "FAS") == 3
    assert _stat(ard, "PPROTFL", "n", "PP") == 2
    assert _stat(ard, "FASFL", "pct", "FAS") == pytest.approx(60.0)
    assert set(ard["analysis_id"]) == {"ASETS"}


def test_disposition_counts_and_reasons(small_adsl: pd.DataFrame) -> None:
    ard = disposition(small_adsl)
    assert _stat(ard, "STATUS", "n", "Treated (at least one session started)") == 4
    assert _stat(ard, "STATUS", "n", "Completed the study") == 1
    assert _stat(ard, "STATUS", "n", "Discontinued the study") == 3
    assert _stat(ard, "STATUS", "n", "Ongoing") == 1
    assert _stat(ard, "STATUS", "n", "Died") == 1
    assert _stat(ard, "STATUS", "n", "Received a liver transplant") == 1
    assert _stat(ard, "DCSREAS", "n", "DEATH") == 1
    assert _stat(ard, "DCSREAS", "pct", "WITHDRAWAL BY SUBJECT") == pytest.approx(20.0)


def test_demographics_by_hand(small_adsl: pd.DataFrame) -> None:
    labs = pd.DataFrame({"USUBJID": ["S1", "S2", "S3", "S4"], "PARAMCD": ["TBIL"] * 4,
                         "BASE": [200.0, 400.0, 800.0, 300.0]})
    ard = demographics(small_adsl, labs, log_params={"TBIL": True})
    ages = np.array([30, 45, 52, 61, 38], float)
    assert _stat(ard, "AGE", "mean") == pytest.approx(45.2)
    assert _stat(ard, "AGE", "sd") == pytest.approx(ages.std(ddof=1))
    assert _stat(ard, "AGE", "median") == 45
    assert _stat(ard, "SEX", "n", "M") == 3
    assert _stat(ard, "SEX", "pct", "F") == pytest.approx(40.0)
    assert _stat(ard, "ETIOL", "n", "HBV") == 3
    base = ard[ard["variable"] == "BASE"].set_index("stat_name")["stat"]
    assert base["n"] == 4 and base["n_missing"] == 1  # S5 has no baseline TBil
    assert base["geo_mean"] == pytest.approx((200 * 400 * 800 * 300) ** 0.25)


def test_grouping_gives_one_column_per_level(small_adsl: pd.DataFrame) -> None:
    adsl = small_adsl.assign(TRT01A=["A", "A", "B", "B", "B"])
    ard = analysis_sets(adsl, by="TRT01A")
    n = ard[ard["stat_name"] == "N"].set_index("group1_level")["stat"]
    assert dict(n) == {"A": 2.0, "B": 3.0}


def test_whole_number_levels_print_without_decimals(small_adsl: pd.DataFrame) -> None:
    # HEGRBL is an integer grade, read as float from files with missing values
    adsl = small_adsl.assign(HEGRBL=[0.0, 1.0, 2.0, 0.0, np.nan])
    ard = demographics(adsl)
    levels = set(ard.loc[ard["variable"] == "HEGRBL", "variable_level"])
    assert levels == {"0", "1", "2", "Missing"}
    assert _stat(ard, "HEGRBL", "n", "0") == 2
