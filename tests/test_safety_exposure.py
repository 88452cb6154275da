"""Extent of exposure (SAF-EXPO) and vital signs around sessions (SAF-VS), counted by hand.

Thresholds are the SAP's (sap/sap.toml [vitals]): hypotension systolic < 90 mmHg or a fall of
>= 20 mmHg from the pre-session value; fever >= 38.0 C (CTCAE v5.0 fever grade 1 starts at 38.0).
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

import safety_fixtures as fx
from msc_analysis.analyses.safety_data import prepare_safety
from msc_analysis.analyses.safety_exposure import exposure, session_vital_flags, vital_signs
from msc_analysis.ard import lookup
from msc_analysis.render.safety_tables import exposure_table, vital_signs_table


def adex() -> pd.DataFrame:
    ex = fx.adex()
    ex = ex[~((ex["USUBJID"] == "S02") & (ex["SESSNUM"] == 3))]   # S02: two sessions
    ex = ex[ex["USUBJID"] != "S10"]                                # S10: none
    ex = ex.copy()
    s01 = (ex["USUBJID"] == "S01") & (ex["SESSNUM"] == 3)
    ex.loc[s01, ["SESSSTAT", "INTRREAS"]] = ["INTERRUPTED", "HYPOTENSION"]
    s02 = (ex["USUBJID"] == "S02") & (ex["SESSNUM"] == 2)
    ex.loc[s02, ["SESSSTAT", "INTRREAS", "ANTICOAG"]] = ["STOPPED", "ANAPHYLAXIS", "HEPARIN"]
    s03 = (ex["USUBJID"] == "S03") & (ex["SESSNUM"] == 1)
    ex.loc[s03, ["EXDUR", "AENDTM"]] = [math.nan, pd.Timestamp("2025-01-10T15:00")]
    return ex


def test_exposure_counts() -> None:
    data = prepare_safety(fx.study(adex=adex()), fx.sap())
    ard = exposure(data)

    def e(stat: str, variable: str, level: str = "") -> float:
        return lookup(ard, "SAF-EXPO", stat, variable=variable, variable_level=level)

    # sessions per subject: S02 2, S10 0, the other eight 3 (S11 is outside the Safety Set)
    assert e("n", "NSESS") == 10 and e("mean", "NSESS") == pytest.approx(26 / 10)
    assert (e("n", "NSESS", "3"), e("n", "NSESS", "2"), e("n", "NSESS", "0")) == (8, 1, 1)
    assert e("n_sessions", "SESSIONS") == 26
    # duration: 25 sessions of 240 min and S03's first session 09:00-15:00 = 360 min
    assert e("n", "EXDUR") == 26 and e("max", "EXDUR") == 360.0
    assert e("mean", "EXDUR") == pytest.approx((25 * 240 + 360) / 26)
    assert (e("n_sessions", "SESSSTAT", "COMPLETED"), e("n_sessions", "SESSSTAT", "INTERRUPTED"),
            e("n_sessions", "SESSSTAT", "STOPPED")) == (24, 1, 1)
    assert e("pct", "SESSSTAT", "STOPPED") == pytest.approx(100 / 26)
    assert e("n", "SESSSTAT", "STOPPED") == 1
    assert e("n_sessions", "ANTICOAG", "HEPARIN") == 1
    assert (e("n_sessions", "INTRREAS", "HYPOTENSION"),
            e("n_sessions", "INTRREAS", "ANAPHYLAXIS")) == (1, 1)
    table = exposure_table(ard, data.sap)
    assert any(r.label == "Stopped" and r.text("c0") == "1 (3.8)" for r in table.rows)


def advs() -> pd.DataFrame:
    rows = []
    values = {  # subject: [(PARAMCD, ATPT, value), ...] for session 1
        "S01": [("SYSBP", "PRE", 120), ("SYSBP", "DURING", 101), ("SYSBP", "POST", 110),
                ("TEMP", "DURING", 38.0)],            # fall 19: no; 38.0: fever
        "S02": [("SYSBP", "PRE", 120), ("SYSBP", "DURING", 100), ("TEMP", "POST", 37.9)],
        # fall 20: hypotension; 37.9: no fever
        "S03": [("SYSBP", "PRE", 105), ("SYSBP", "DURING", 90), ("TEMP", "PRE", 38.5),
                ("TEMP", "DURING", 37.0)],  # 90 is not < 90, fall 15; pre-session fever: no
        "S04": [("SYSBP", "PRE", 100), ("SYSBP", "POST", 89)],  # < 90: hypotension
    }
    for subj, items in values.items():
        for code, atpt, value in items:
            rows.append({"USUBJID": subj, "PARAMCD": code, "AVAL": float(value), "ATPT": atpt,
                         "SESSNUM": 1.0, "AVISIT": "Session 1"})
    rows.append({"USUBJID": "S01", "PARAMCD": "SYSBP", "AVAL": 80.0, "ATPT": "",
                 "SESSNUM": math.nan, "AVISIT": "Day 7"})   # not around a session
    return pd.DataFrame(rows)


def test_session_flags_at_the_thresholds() -> None:
    data = prepare_safety(fx.study(advs=advs()), fx.sap())
    flags = session_vital_flags(data.advs, data.sap).set_index("USUBJID")
    assert flags["HYPOFL"].to_dict() == {"S01": False, "S02": True, "S03": False, "S04": True}
    assert flags["FEVERFL"].to_dict() == {"S01": True, "S02": False, "S03": False, "S04": False}
    assert flags["FEVER_EVAL"].to_dict() == {"S01": True, "S02": True, "S03": True,
                                             "S04": False}


def test_vital_signs_summary_and_counts() -> None:
    data = prepare_safety(fx.study(advs=advs()), fx.sap())
    ard = vital_signs(data)

    def v(stat: str, variable: str, level: str, **g: str) -> float:
        return lookup(ard, "SAF-VS", stat, variable=variable, variable_level=level, **g)

    assert v("n", "AVAL", "PRE", SESSNUM="1", PARAMCD="SYSBP") == 4
    assert v("mean", "AVAL", "PRE", SESSNUM="1", PARAMCD="SYSBP") == pytest.approx(445 / 4)
    assert v("min", "AVAL", "DURING", SESSNUM="1", PARAMCD="SYSBP") == 90.0
    assert (v("n", "HYPOTENSION", "Y", SESSNUM="1"), v("N", "HYPOTENSION", "Y", SESSNUM="1")) \
        == (2, 4)
    assert (v("n", "FEVER", "Y", SESSNUM="1"), v("N", "FEVER", "Y", SESSNUM="1")) == (1, 3)
    assert v("n_sessions", "HYPOTENSION", "Y", SESSNUM="All") == 2
    assert v("n_sessions", "HYPOTENSION", "EVALUABLE", SESSNUM="All") == 4
    table = vital_signs_table(ard, data.sap)
    assert any(r.label.startswith("Subjects with hypotension") and r.text("c0") == "2/4 (50.0)"
               for r in table.rows)
