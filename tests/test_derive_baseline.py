"""Baseline and change-from-baseline derivation (SAP: last non-missing value on or before the
start of the first session). Expected values are written out by hand from the toy records."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from msc_analysis.derive.baseline import derive_baseline, derive_change, first_session_start
from msc_analysis.errors import DataError


def _lb(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["USUBJID", "PARAMCD", "AVAL", "ADTM", "ATPT", "SESSNUM"])
    frame["ADTM"] = pd.to_datetime(frame["ADTM"])
    frame["ADT"] = frame["ADTM"].dt.normalize()
    return frame


ADEX = pd.DataFrame({
    "USUBJID": ["S1", "S1", "S2"],
    "SESSNUM": [1, 2, 1],
    "ASTDTM": pd.to_datetime(["2024-01-02T09:00", "2024-01-03T09:00", "2024-02-01T10:00"]),
})


def test_first_session_start_uses_earliest_adex_start_and_adsl_fallback() -> None:
    adsl = pd.DataFrame({"USUBJID": ["S1", "S2", "S3"],
                         "TRTSDT": pd.to_datetime(["2024-01-02", "2024-02-01", "2024-03-05"])})
    start = first_session_start(adsl, ADEX)
    assert list(start["USUBJID"]) == ["S1", "S2", "S3"]
    assert start.loc[0, "TRTSDTM"] == pd.Timestamp("2024-01-02T09:00")
    assert pd.isna(start.loc[2, "TRTSDTM"])
    assert start.loc[2, "TRTSDT"] == pd.Timestamp("2024-03-05")


def test_baseline_is_last_non_missing_before_first_session() -> None:
    lb = _lb([
        ("S1", "TBIL", 300.0, "2023-12-30T08:00", "", np.nan),       # screening
        ("S1", "TBIL", 320.0, "2024-01-01T08:00", "", np.nan),       # day -1 -> baseline
        ("S1", "TBIL", np.nan, "2024-01-02T08:30", "PRE", 1),        # missing pre: skipped
        ("S1", "TBIL", 200.0, "2024-01-02T15:00", "POST", 1),        # after start: never base
        ("S1", "TBIL", 250.0, "2024-01-09T08:00", "", np.nan),       # day 8
    ])
    start = first_session_start(None, ADEX)
    out = derive_change(derive_baseline(lb, start))
    assert list(out["ABLFL"]) == ["", "Y", "", "", ""]
    assert (out["BASE"] == 320.0).all()
    # CHG only after the first session start: 200 - 320 = -120, 250 - 320 = -70
    assert np.isnan(out["CHG"].iloc[1])
    assert out["CHG"].iloc[3] == pytest.approx(-120.0)
    assert out["CHG"].iloc[4] == pytest.approx(-70.0)
    assert out["PCHG"].iloc[4] == pytest.approx(100 * -70 / 320)


def test_pre_sample_at_session_start_counts_and_later_sample_does_not() -> None:
    lb = _lb([
        ("S2", "INR", 2.0, "2024-01-30T08:00", "", np.nan),
        ("S2", "INR", 2.2, "2024-02-01T10:00", "PRE", 1),     # exactly at start -> baseline
        ("S2", "INR", 1.8, "2024-02-01T10:01", "PRE", 1),     # mislabelled PRE after start
    ])
    out = derive_baseline(lb, first_session_start(None, ADEX))
    assert list(out["ABLFL"]) == ["", "Y", ""]
    assert (out["BASE"] == 2.2).all()
    assert list(out["PREFL"]) == ["Y", "Y", ""]


def test_no_value_before_first_session_gives_no_baseline() -> None:
    lb = _lb([
        ("S1", "IL6", 15.0, "2024-01-02T12:00", "POST", 1),
        ("S1", "IL6", 12.0, "2024-01-09T08:00", "", np.nan),
        ("S9", "IL6", 10.0, "2024-01-01T08:00", "", np.nan),   # subject never treated
    ])
    out = derive_change(derive_baseline(lb, first_session_start(None, ADEX)))
    assert (out["ABLFL"] == "").all()
    assert out["BASE"].isna().all()
    assert out["CHG"].isna().all()


def test_baseline_is_per_parameter() -> None:
    lb = _lb([
        ("S1", "TBIL", 300.0, "2024-01-01T08:00", "", np.nan),
        ("S1", "CRP", 20.0, "2023-12-31T08:00", "", np.nan),
        ("S1", "CRP", np.nan, "2024-01-01T08:00", "", np.nan),
    ])
    out = derive_baseline(lb, first_session_start(None, ADEX))
    assert list(out["ABLFL"]) == ["Y", "Y", ""]
    assert list(out["BASE"]) == [300.0, 20.0, 20.0]


def test_date_only_fallback_uses_whole_days_and_session_one_pre() -> None:
    adsl = pd.DataFrame({"USUBJID": ["S3"], "TRTSDT": pd.to_datetime(["2024-03-05"])})
    lb = pd.DataFrame({
        "USUBJID": ["S3"] * 3, "PARAMCD": ["TBIL"] * 3, "AVAL": [400.0, 410.0, 300.0],
        "ADT": pd.to_datetime(["2024-03-04", "2024-03-05", "2024-03-05"]),
        "ADTM": pd.to_datetime([pd.NaT, pd.NaT, pd.NaT]),
        "ATPT": ["", "PRE", "POST"], "SESSNUM": [np.nan, 1, 1],
    })
    out = derive_baseline(lb, first_session_start(adsl, None))
    assert list(out["ABLFL"]) == ["", "Y", ""]


def test_missing_variables_raise_data_error() -> None:
    with pytest.raises(DataError, match="AVAL"):
        derive_baseline(pd.DataFrame({"USUBJID": ["S1"], "PARAMCD": ["TBIL"]}),
                        first_session_start(None, ADEX))


def test_other_variables_and_record_order_are_kept_and_the_input_is_untouched() -> None:
    # The derivation reads a few variables only; every other variable must come back as it
    # was, on the same records in the same order (index reset), and the caller's frame must
    # not change (the result shares its unchanged columns copy-on-write).
    lb = _lb([
        ("S1", "TBIL", 250.0, "2024-01-09T08:00", "", np.nan),       # day 8, listed first
        ("S1", "TBIL", 320.0, "2024-01-01T08:00", "", np.nan),       # day -1 -> baseline
        ("S1", "INR", 1.9, "2024-01-01T08:00", "", np.nan),          # day -1 -> baseline
    ])
    lb["LBORRES"] = ["250", "320", "1.9"]
    lb.index = [10, 11, 12]
    before = lb.copy()
    out = derive_change(derive_baseline(lb, first_session_start(None, ADEX)))
    pd.testing.assert_frame_equal(lb, before)
    assert list(out.columns) == [*lb.columns, "PREFL", "ABLFL", "BASE", "BASEDTM", "CHG", "PCHG"]
    assert list(out.index) == [0, 1, 2]
    assert out["LBORRES"].tolist() == ["250", "320", "1.9"]
    assert out["ABLFL"].tolist() == ["", "Y", "Y"]
    assert out["BASE"].tolist() == [320.0, 320.0, 1.9]
    assert out["BASEDTM"].tolist() == [pd.Timestamp("2024-01-01T08:00")] * 3
    assert out["CHG"].iloc[0] == pytest.approx(-70.0)
