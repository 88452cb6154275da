"""Session pre/post pairs: values, change, percent change and reduction ratio by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from msc_analysis.derive.sessions import (
    REASON_NO_POST,
    REASON_NO_PRE,
    REASON_NO_SAMPLES,
    derive_session_pairs,
)


def _lb() -> pd.DataFrame:
    rows = [
        # USUBJID, PARAMCD, AVAL, ADTM, ATPT, SESSNUM
        ("S1", "TBIL", 400.0, "2024-01-02T07:00", "PRE", 1),
        ("S1", "TBIL", 410.0, "2024-01-02T08:00", "PRE", 1),    # last pre is used
        ("S1", "TBIL", 246.0, "2024-01-02T15:00", "POST", 1),   # first post is used
        ("S1", "TBIL", 260.0, "2024-01-02T18:00", "POST", 1),
        ("S1", "TBIL", 380.0, "2024-01-03T08:00", "PRE", 2),    # no post value
        ("S1", "TBIL", 350.0, "2024-01-01T08:00", "", np.nan),  # scheduled: ignored
        ("S1", "CRP", 20.0, "2024-01-02T08:00", "PRE", 1),
        ("S1", "CRP", np.nan, "2024-01-02T15:00", "POST", 1),   # missing post
        ("S2", "TBIL", 15.0, "2024-01-05T15:00", "POST", 1),    # no pre
    ]
    frame = pd.DataFrame(rows, columns=["USUBJID", "PARAMCD", "AVAL", "ADTM", "ATPT", "SESSNUM"])
    frame["ADTM"] = pd.to_datetime(frame["ADTM"])
    return frame


def test_pairs_change_percent_change_and_reduction_ratio() -> None:
    adex = pd.DataFrame({"USUBJID": ["S1", "S1", "S1", "S2"], "SESSNUM": [1, 2, 3, 1]})
    out = derive_session_pairs(_lb(), ["TBIL", "CRP"], adex)
    tb = out.loc[(out["PARAMCD"] == "TBIL") & (out["USUBJID"] == "S1")].set_index("SESSNUM")
    # Session 1: PRE 410 (last), POST 246 (first): CHG -164, PCHG -40 %, RR 164/410 = 0.4.
    assert tb.loc[1, "PRE"] == 410.0
    assert tb.loc[1, "POST"] == 246.0
    assert tb.loc[1, "CHG"] == pytest.approx(-164.0)
    assert tb.loc[1, "PCHG"] == pytest.approx(-40.0)
    assert tb.loc[1, "RR"] == pytest.approx(0.4)
    assert tb.loc[1, "REASON"] == ""
    assert tb.loc[2, "REASON"] == REASON_NO_POST and np.isnan(tb.loc[2, "RR"])
    assert tb.loc[3, "REASON"] == REASON_NO_SAMPLES           # session in ADEX, no samples
    s2 = out.loc[(out["PARAMCD"] == "TBIL") & (out["USUBJID"] == "S2")]
    assert list(s2["REASON"]) == [REASON_NO_PRE]
    crp = out.loc[(out["PARAMCD"] == "CRP") & (out["USUBJID"] == "S1")].set_index("SESSNUM")
    assert crp.loc[1, "REASON"] == REASON_NO_POST
    # parameters in the order asked, then subject and session
    assert list(out["PARAMCD"].drop_duplicates()) == ["TBIL", "CRP"]
    assert len(out) == 2 * 4                                   # 4 subject-sessions x 2 params


def test_without_adex_only_sessions_with_samples_appear() -> None:
    out = derive_session_pairs(_lb(), ["TBIL"])
    assert sorted(zip(out["USUBJID"], out["SESSNUM"], strict=True)) == [
        ("S1", 1), ("S1", 2), ("S2", 1)]


def test_zero_pre_value_leaves_ratio_missing() -> None:
    lb = pd.DataFrame({"USUBJID": ["S1", "S1"], "PARAMCD": ["IL6", "IL6"], "AVAL": [0.0, 1.0],
                       "ADTM": pd.to_datetime(["2024-01-02T08:00", "2024-01-02T15:00"]),
                       "ATPT": ["PRE", "POST"], "SESSNUM": [1, 1]})
    out = derive_session_pairs(lb, ["IL6"])
    assert out.loc[0, "CHG"] == 1.0
    assert np.isnan(out.loc[0, "RR"]) and np.isnan(out.loc[0, "PCHG"])


def test_reason_names_a_stopped_session() -> None:
    adex = pd.DataFrame({"USUBJID": ["S1", "S1", "S1", "S2"], "SESSNUM": [1, 2, 3, 1],
                         "SESSSTAT": ["COMPLETED", "STOPPED", "COMPLETED", "COMPLETED"]})
    out = derive_session_pairs(_lb(), ["TBIL"], adex)
    s1 = out.loc[out["USUBJID"] == "S1"].set_index("SESSNUM")
    assert s1.loc[1, "REASON"] == ""
    assert s1.loc[2, "REASON"] == f"{REASON_NO_POST} (session stopped)"
    assert s1.loc[3, "REASON"] == REASON_NO_SAMPLES
