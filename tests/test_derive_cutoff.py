"""The data cut-off: later records leave (listed), ongoing AEs stay ongoing, status at cut-off."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from msc_analysis.derive.cutoff import apply_cutoff, last_date
from msc_analysis.io.issues import DataIssues

T = pd.Timestamp


@dataclass(frozen=True)
class _Study:
    adsl: pd.DataFrame
    adex: pd.DataFrame | None
    adlb: pd.DataFrame | None
    adae: pd.DataFrame | None
    advs: pd.DataFrame | None


def _study() -> _Study:
    adsl = pd.DataFrame({
        "USUBJID": ["S1", "S2", "S3"],
        "ENRLDT": [T("2024-05-01"), T("2024-05-10"), T("2024-06-20")],
        "TRTSDT": [T("2024-05-02"), T("2024-05-11"), T("2024-06-21")],
        "TRTEDT": [T("2024-05-06"), T("2024-05-15"), T("2024-06-25")],
        "NSESS": [3, 3, 3],
        "SAFFL": ["Y", "Y", "Y"],
        "EOSSTT": ["DISCONTINUED", "COMPLETED", "COMPLETED"],
        "DCSREAS": ["DEATH", "", ""],
        "DTHFL": ["Y", "", ""],
        "DTHDT": [T("2024-06-10"), pd.NaT, pd.NaT],
        "LTXFL": ["", "", ""],
        "LTXDT": [pd.NaT, pd.NaT, pd.NaT],
        "LSTALVDT": [T("2024-06-10"), T("2024-08-09"), T("2024-09-20")],
    })
    adex = pd.DataFrame({
        "USUBJID": ["S1", "S1", "S1", "S2", "S2", "S2", "S3"],
        "SESSNUM": [1, 2, 3, 1, 2, 3, 1],
        "ASTDTM": [T("2024-05-02 09:00"), T("2024-05-04 09:00"), T("2024-05-06 09:00"),
                   T("2024-05-11 09:00"), T("2024-05-13 09:00"), T("2024-06-01 09:00"),
                   T("2024-06-21 09:00")],
    })
    adae = pd.DataFrame({
        "USUBJID": ["S1", "S2", "S2"],
        "AESEQ": [1, 1, 2],
        "ASTDT": [T("2024-05-20"), T("2024-05-14"), T("2024-06-02")],
        "AENDT": [T("2024-05-25"), T("2024-06-03"), T("2024-06-05")],
        "AEOUT": ["RECOVERED/RESOLVED"] * 3,
    })
    return _Study(adsl, adex, None, adae, None)


def test_default_cutoff_is_last_date_in_data() -> None:
    assert last_date(_study()) == T("2024-09-20")


def test_cutoff_removes_late_subjects_and_records_and_lists_them() -> None:
    issues = DataIssues()
    cut, day = apply_cutoff(_study(), "2024-05-31", issues)
    assert day == T("2024-05-31")
    assert list(cut.adsl["USUBJID"]) == ["S1", "S2"]  # S3 enrolled 2024-06-20
    assert list(cut.adex["SESSNUM"][cut.adex["USUBJID"] == "S2"]) == [1, 2]
    assert list(cut.adae["AESEQ"][cut.adae["USUBJID"] == "S2"]) == [1]
    found = issues.frame()
    assert set(found["severity"]) == {"excluded"}
    # one subject, one session (S2 #3) and one AE (S2 #2); S3's session leaves with S3
    assert sorted(found["rule"]) == ["after-cutoff", "after-cutoff", "enrolled-after-cutoff"]


def test_ae_ongoing_at_cutoff_is_ongoing() -> None:
    cut, _ = apply_cutoff(_study(), "2024-05-31", DataIssues())
    ae = cut.adae.set_index(["USUBJID", "AESEQ"])
    assert pd.isna(ae.loc[("S2", 1), "AENDT"])
    assert ae.loc[("S2", 1), "AEOUT"] == "NOT RECOVERED/NOT RESOLVED"
    assert ae.loc[("S2", 1), "AEONGO"] == "Y"
    assert ae.loc[("S1", 1), "AEONGO"] == ""


def test_status_at_cutoff() -> None:
    cut, _ = apply_cutoff(_study(), "2024-05-31", DataIssues())
    s = cut.adsl.set_index("USUBJID")
    # S1 died on 2024-06-10, after the cut-off: alive and ongoing at it
    assert s.loc["S1", "DTHFL"] == "" and pd.isna(s.loc["S1", "DTHDT"])
    assert s.loc["S1", "EOSSTT"] == "ONGOING" and s.loc["S1", "DCSREAS"] == ""
    assert s.loc["S1", "LSTALVDT"] == T("2024-05-31")
    assert s.loc["S2", "NSESS"] == 2 and s.loc["S2", "TRTEDT"] == T("2024-05-13")
    # a cut-off after everything changes nothing about status
    full, _ = apply_cutoff(_study(), None, DataIssues())
    assert full.adsl.set_index("USUBJID").loc["S1", "DTHFL"] == "Y"
    assert list(full.adsl["EOSSTT"]) == ["DISCONTINUED", "COMPLETED", "COMPLETED"]
