"""The data cut-off: later records leave (listed), ongoing AEs stay ongoing, status at cut-off."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pandas as pd
import pytest

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
    # one subject, one session (S2 #3) and one AE (S2 #2), and S3's session, which leaves with
    # S3: each record listed
    assert sorted(found["rule"]) == ["after-cutoff", "after-cutoff", "enrolled-after-cutoff",
                                     "subject-enrolled-after-cutoff"]


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


def _rules(issues: DataIssues) -> pd.DataFrame:
    return issues.frame().set_index(["rule", "usubjid", "variable"])


def test_every_record_of_a_subject_enrolled_after_the_cutoff_is_listed() -> None:
    study = _study()
    adlb = pd.DataFrame({"USUBJID": ["S1", "S3", "S3"], "ADTM": [T("2024-05-02")] * 3,
                         "_file": "adlb.csv", "_row": [1, 2, 3]})
    advs = pd.DataFrame({"USUBJID": ["S3"], "ADTM": [T("2024-06-21")]})
    adae = pd.concat([study.adae, pd.DataFrame({"USUBJID": ["S3"], "AESEQ": [1],
                                                "ASTDT": [T("2024-06-22")]})],
                     ignore_index=True)
    issues = DataIssues()
    cut, _ = apply_cutoff(_Study(study.adsl, study.adex, adlb, adae, advs), "2024-06-10",
                          issues)
    late = issues.frame().query("rule == 'subject-enrolled-after-cutoff'")
    # S3: one session, two laboratory records, one AE, one vital sign; each named by its file
    assert sorted(late["file"]) == ["adae", "adex", "adlb.csv", "adlb.csv", "advs"]
    assert sorted(late.loc[late["file"] == "adlb.csv", "row"]) == ["2", "3"]
    assert set(late["usubjid"]) == {"S3"} and set(late["severity"]) == {"excluded"}
    assert list(cut.adlb["USUBJID"]) == ["S1"]


def test_cutoff_before_any_session_or_enrolment_does_not_fail() -> None:
    # 2024-05-01: S1 enrolled, no session yet (ADEX empty at the cut-off)
    cut, _ = apply_cutoff(_study(), "2024-05-01", DataIssues())
    s = cut.adsl.set_index("USUBJID")
    assert s.loc["S1", "NSESS"] == 0 and pd.isna(s.loc["S1", "TRTEDT"])
    assert pd.isna(s.loc["S1", "TRTSDT"])  # the first session (2024-05-02) had not started
    assert s.loc["S1", "SAFFL"] == "N"
    # before anyone was enrolled: no subject, no record
    cut, _ = apply_cutoff(_study(), "2024-04-01", DataIssues())
    assert cut.adsl.empty and cut.adex.empty and cut.adae.empty


def test_a_flag_set_to_n_by_the_cutoff_is_listed_with_old_and_new_value() -> None:
    study = _study()
    adsl = study.adsl.assign(FASFL=["Y", "Y", "Y"], PPROTFL=["Y", "Y", "N"])
    issues = DataIssues()
    cut, _ = apply_cutoff(dataclasses.replace(study, adsl=adsl), "2024-05-12", issues)
    flags = cut.adsl.set_index("USUBJID")[["SAFFL", "FASFL", "PPROTFL"]]
    # S1: all sessions by then; S2: session 1 on 2024-05-11, sessions 2 and 3 later
    assert flags.loc["S1"].tolist() == ["Y", "Y", "Y"]
    assert flags.loc["S2"].tolist() == ["Y", "Y", "N"]
    changed = issues.frame().query("rule == 'flag-at-cutoff'")
    assert changed[["usubjid", "variable"]].values.tolist() == [["S2", "PPROTFL"]]
    assert changed["message"].iloc[0].startswith("PPROTFL Y in ADSL, N in this report")
    # 2024-05-10: S2 enrolled but not treated: out of the Safety Set, so out of FAS and PP
    issues = DataIssues()
    cut, _ = apply_cutoff(dataclasses.replace(study, adsl=adsl), "2024-05-10", issues)
    assert cut.adsl.set_index("USUBJID").loc["S2", ["SAFFL", "FASFL", "PPROTFL"]].tolist() \
        == ["N", "N", "N"]
    changed = _rules(issues).loc["flag-at-cutoff"]
    assert sorted(changed.index) == [("S2", "FASFL"), ("S2", "PPROTFL"), ("S2", "SAFFL")]
    assert "the first started on 2024-05-11" in changed.loc[("S2", "SAFFL"), "message"]
    assert set(changed["severity"]) == {"excluded"}


def test_a_safety_flag_n_is_used_as_given_with_a_warning_when_adex_has_a_session() -> None:
    study = _study()
    adsl = study.adsl.assign(SAFFL=["N", "Y", "Y"])
    issues = DataIssues()
    cut, _ = apply_cutoff(dataclasses.replace(study, adsl=adsl), None, issues)
    assert cut.adsl["SAFFL"].tolist() == ["N", "Y", "Y"]
    warned = _rules(issues).loc["flag-disagrees-with-adex"]
    assert list(warned.index) == [("S1", "SAFFL")]
    assert warned["severity"].tolist() == ["warning"]
    assert "session started on 2024-05-02" in warned["message"].iloc[0]


def test_flags_at_the_last_date_are_those_of_the_data() -> None:
    issues = DataIssues()
    study = _study()
    cut, _ = apply_cutoff(study, None, issues)
    assert cut.adsl["SAFFL"].tolist() == study.adsl["SAFFL"].tolist()
    assert len(issues) == 0


def test_a_study_without_any_date_asks_for_the_cutoff() -> None:
    from types import SimpleNamespace

    from msc_analysis.errors import DataError

    study = SimpleNamespace(adsl=pd.DataFrame({"USUBJID": ["S1"], "AGE": [40]}), adex=None,
                            adlb=None, adae=None, advs=None)
    with pytest.raises(DataError, match=r"no date in any dataset.*--cutoff YYYY-MM-DD"):
        last_date(study)
