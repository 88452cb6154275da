"""CTCAE v5.0 laboratory grades: every boundary, the abnormal-baseline rule, rounding, units.

Expected grades are written out by hand from the CTCAE v5.0 wording (NCI spreadsheet
CTCAE_v5.0_2017-11-27.xlsx, quoted in ../shared/domain/clinical_brief.md section 2) and agree
with the machine-readable criteria of pharmaverse admiral (data-raw/adlb_grading/ncictcaev5.json),
e.g. ALT with abnormal baseline grade 1 is ``signif(AVAL) >= signif(1.5*BASE)`` (inclusive),
bilirubin with abnormal baseline grade 1 is ``> BASE``, platelets grade 2 is ``< 75``, anaemia
grade 3 ``< 80 g/L``, hypocalcaemia grade 4 ``< 1.5 mmol/L``, fibrinogen grade 4 absolute
``< 0.5 g/L``. They are not computed from the criteria table under test.
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest

from msc_analysis.derive import ctcae
from msc_analysis.derive.lab_grades import grade_labs, graded_parameters, worst_post_baseline
from msc_analysis.errors import SettingsError
from msc_analysis.io.issues import DataIssues

nan = math.nan

# (term, kwargs, [(value, expected grade), ...]) -- values at and just around every boundary.
CASES = [
    # Blood bilirubin increased, normal baseline (ULN 21): >ULN-1.5, >1.5-3.0, >3.0-10.0, >10.0
    ("Blood bilirubin increased", {"uln": 21.0},
     [(21.0, 0), (21.01, 1), (31.5, 1), (31.51, 2), (63.0, 2), (63.01, 3), (210.0, 3),
      (210.1, 4)]),
    # abnormal baseline (300 > ULN): >1.0-1.5 x baseline, >1.5-3.0, >3.0-10.0, >10.0
    ("Blood bilirubin increased", {"uln": 21.0, "base": 300.0},
     [(200.0, 0), (300.0, 0), (300.1, 1), (450.0, 1), (450.1, 2), (900.0, 2), (900.1, 3),
      (3000.0, 3), (3000.1, 4)]),
    # ALT, normal baseline (ULN 40): >ULN-3.0, >3.0-5.0, >5.0-20.0, >20.0 x ULN
    ("Alanine aminotransferase increased", {"uln": 40.0, "base": 30.0},
     [(40.0, 0), (40.1, 1), (120.0, 1), (120.1, 2), (200.0, 2), (200.1, 3), (800.0, 3),
      (800.1, 4)]),
    # ALT, abnormal baseline (100 > 40): 1.5-3.0 (1.5 included), >3.0-5.0, >5.0-20.0, >20.0
    ("Alanine aminotransferase increased", {"uln": 40.0, "base": 100.0},
     [(149.9, 0), (150.0, 1), (300.0, 1), (300.1, 2), (500.0, 2), (500.1, 3), (2000.0, 3),
      (2000.1, 4)]),
    ("Aspartate aminotransferase increased", {"uln": 35.0, "base": 70.0},
     [(104.9, 0), (105.0, 1), (210.0, 1), (210.1, 2), (350.0, 2), (350.1, 3), (1400.0, 3),
      (1400.1, 4)]),
    ("Aspartate aminotransferase increased", {"uln": 35.0},
     [(35.0, 0), (35.1, 1), (105.0, 1), (105.1, 2)]),
    # INR increased: >1.2-1.5, >1.5-2.5, >2.5 (no grade 4)
    ("INR increased", {},
     [(1.2, 0), (1.21, 1), (1.5, 1), (1.51, 2), (2.5, 2), (2.51, 3), (9.0, 3)]),
    # Platelet count decreased (LLN 150): <LLN-75, <75-50, <50-25, <25
    ("Platelet count decreased", {"lln": 150.0},
     [(150.0, 0), (149.0, 1), (75.0, 1), (74.9, 2), (50.0, 2), (49.9, 3), (25.0, 3),
      (24.9, 4)]),
    # Anemia (LLN 120 g/L): <LLN-100, <100-80, <80 (lab criteria stop at grade 3)
    ("Anemia", {"lln": 120.0},
     [(120.0, 0), (119.0, 1), (100.0, 1), (99.9, 2), (80.0, 2), (79.9, 3), (40.0, 3)]),
    # Fibrinogen decreased, normal baseline (LLN 2.0 g/L): <1.0-0.75 LLN, <0.75-0.5, <0.5-0.25,
    # <0.25 LLN; also absolute <50 mg/dL (0.5 g/L) is grade 4
    ("Fibrinogen decreased", {"lln": 2.0, "base": 3.0},
     [(2.0, 0), (1.99, 1), (1.5, 1), (1.49, 2), (1.0, 2), (0.99, 3), (0.5, 3), (0.49, 4)]),
    # abnormal baseline (3.2 < LLN 4.0): <25% fall, 25-<50%, 50-<75%, >=75% fall from baseline
    ("Fibrinogen decreased", {"lln": 4.0, "base": 3.2},
     [(4.0, 0), (3.3, 1), (2.41, 1), (2.4, 2), (1.61, 2), (1.6, 3), (0.81, 3), (0.8, 4)]),
    # ... and the absolute criterion (<0.5 g/L is grade 4) whatever the fall from baseline
    ("Fibrinogen decreased", {"lln": 2.0, "base": 1.6}, [(0.5, 3), (0.49, 4)]),
    # Hypocalcemia (LLN 2.1 mmol/L): <LLN-2.0, <2.0-1.75, <1.75-1.5, <1.5
    ("Hypocalcemia", {"lln": 2.1},
     [(2.1, 0), (2.09, 1), (2.0, 1), (1.99, 2), (1.75, 2), (1.74, 3), (1.5, 3), (1.49, 4)]),
    # Creatinine increased, no baseline (ULN 100): >ULN-1.5, >1.5-3.0, >3.0-6.0, >6.0 x ULN
    ("Creatinine increased", {"uln": 100.0},
     [(100.0, 0), (100.1, 1), (150.0, 1), (150.1, 2), (300.0, 2), (300.1, 3), (600.0, 3),
      (600.1, 4)]),
    # with baseline 80: >1.5-3.0 x baseline is grade 2, >3.0 x baseline grade 3
    ("Creatinine increased", {"uln": 100.0, "base": 80.0},
     [(120.0, 1), (120.1, 2), (240.0, 2), (240.1, 3)]),
]


@pytest.mark.parametrize(("term", "kwargs", "pairs"), CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_grades_at_and_around_every_boundary(term, kwargs, pairs) -> None:
    values = [v for v, _ in pairs]
    expected = [float(g) for _, g in pairs]
    assert ctcae.grade_values(term, values, **kwargs).tolist() == expected


def test_baseline_rule_can_be_switched_off() -> None:
    # bilirubin 300 umol/L with ULN 21 is 14 x ULN: grade 4 against the ULN, 0 vs itself
    assert ctcae.grade_values("Blood bilirubin increased", [300.0], uln=21.0, base=300.0,
                              use_baseline=False).tolist() == [4.0]
    assert ctcae.grade_values("Blood bilirubin increased", [300.0], uln=21.0,
                              base=300.0).tolist() == [0.0]
    # creatinine: without the baseline route, 2.4 x baseline but 1.2 x ULN is grade 1
    assert ctcae.grade_values("Creatinine increased", [120.1], uln=100.0, base=50.0,
                              use_baseline=False).tolist() == [1.0]


def test_comparisons_on_significant_digits() -> None:
    # 3.0000001 x ULN is 3 x ULN at 6 significant digits: bilirubin grade 2, not 3
    value = 3.0000001 * 21.0
    assert ctcae.grade_values("Blood bilirubin increased", [value], uln=21.0).tolist() == [2.0]
    assert ctcae.grade_values("Blood bilirubin increased", [value], uln=21.0,
                              digits=12).tolist() == [3.0]
    # floating point: 0.1 * 3 = 0.30000000000000004 equals 0.3 after rounding
    assert ctcae.signif(0.1 * 3, 6).tolist() == ctcae.signif(0.3, 6).tolist()
    assert ctcae.signif([123456.7, 0.001234567, -9.87654321, 0.0], 3).tolist() == [
        123000.0, 0.00123, -9.88, 0.0]
    assert math.isnan(float(ctcae.signif(nan)))


def test_missing_reference_gives_missing_grade_only_when_it_matters() -> None:
    # platelets without LLN: 100 could be grade 0 or 1 -> missing; 60 is grade 2 whatever LLN
    out = ctcae.grade_values("Platelet count decreased", [100.0, 60.0, nan], lln=nan)
    assert math.isnan(out[0]) and out[1] == 2.0 and math.isnan(out[2])
    # bilirubin without ULN and without baseline: undetermined
    assert math.isnan(ctcae.grade_values("Blood bilirubin increased", [50.0])[0])


def test_abnormal_baseline_status() -> None:
    got = ctcae.baseline_abnormal("Blood bilirubin increased", [21.0, 21.1, nan], uln=21.0)
    assert got[0] == 0.0 and got[1] == 1.0 and math.isnan(got[2])
    got = ctcae.baseline_abnormal("Fibrinogen decreased", [2.0, 1.99], lln=2.0)
    assert got.tolist() == [0.0, 1.0]


def test_unit_conversions() -> None:
    # haemoglobin 4.9 mmol/L = 79.0 g/L (x 16.1145): below 80 g/L, grade 3 (CTCAE: <4.9 mmol/L)
    f = ctcae.convert_to_criteria_unit("Anemia", "mmol/L")
    assert f == pytest.approx(16.1145)
    assert ctcae.grade_values("Anemia", [4.9 * f], lln=7.5 * f).tolist() == [3.0]
    assert ctcae.convert_to_criteria_unit("Platelet count decreased", "GI/L") == 1.0
    assert ctcae.convert_to_criteria_unit("Hypocalcemia", "mg/dL") == pytest.approx(0.2495)
    assert ctcae.convert_to_criteria_unit("INR increased", "") == 1.0
    assert ctcae.convert_to_criteria_unit("Blood bilirubin increased", "mg/dL") == 1.0
    assert ctcae.convert_to_criteria_unit("Anemia", "furlongs") is None


def test_criteria_table_is_checked(tmp_path) -> None:
    table = ctcae.load_criteria()
    assert set(table["term"]) == {
        "Blood bilirubin increased", "Alanine aminotransferase increased",
        "Aspartate aminotransferase increased", "INR increased", "Platelet count decreased",
        "Anemia", "Fibrinogen decreased", "Hypocalcemia", "Creatinine increased"}
    bad = table.copy()
    bad.loc[0, "lower_ref"] = "XLN"
    path = tmp_path / "criteria.csv"
    bad.to_csv(path, index=False)
    with pytest.raises(SettingsError, match=r"line 2 \(Blood bilirubin increased, grade 1\)"):
        ctcae.load_criteria(path)
    with pytest.raises(SettingsError, match="not in the criteria table"):
        ctcae.grade_values("Hyperkalemia", [6.0])


def _lab_frame() -> pd.DataFrame:
    """Two subjects; baseline sample before the first session, then post-baseline samples."""
    rows = []
    for subj, values in (("S1", (300.0, 460.0, 280.0)), ("S2", (18.0, 70.0, 20.0))):
        for (adtm, visit), value in zip((("2025-01-01T08:00", "Baseline"),
                                         ("2025-01-02T14:00", "Session 1"),
                                         ("2025-01-08T08:00", "Day 7")), values, strict=True):
            rows.append({"USUBJID": subj, "PARAMCD": "TBIL", "AVAL": value, "AVALU": "umol/L",
                         "ADTM": pd.Timestamp(adtm), "ADT": pd.Timestamp(adtm[:10]),
                         "AVISIT": visit, "ATPT": "POST" if visit.startswith("S") else "",
                         "SESSNUM": 1.0 if visit.startswith("S") else nan,
                         "ANRLO": 0.0, "ANRHI": 21.0})
    rows.append({"USUBJID": "S1", "PARAMCD": "HGB", "AVAL": 4.9, "AVALU": "mmol/L",
                 "ADTM": pd.Timestamp("2025-01-02T14:00"), "ADT": pd.Timestamp("2025-01-02"),
                 "AVISIT": "Session 1", "ATPT": "POST", "SESSNUM": 1.0, "ANRLO": 7.5,
                 "ANRHI": 10.0})
    rows.append({"USUBJID": "S1", "PARAMCD": "PLAT", "AVAL": 100.0, "AVALU": "furlongs",
                 "ADTM": pd.Timestamp("2025-01-02T14:00"), "ADT": pd.Timestamp("2025-01-02"),
                 "AVISIT": "Session 1", "ATPT": "POST", "SESSNUM": 1.0, "ANRLO": 150.0,
                 "ANRHI": 400.0})
    return pd.DataFrame(rows)


def _adsl() -> pd.DataFrame:
    return pd.DataFrame({"USUBJID": ["S1", "S2"],
                         "TRTSDT": pd.to_datetime(["2025-01-02", "2025-01-02"])})


def _adex() -> pd.DataFrame:
    return pd.DataFrame({"USUBJID": ["S1", "S2"], "SESSNUM": [1.0, 1.0],
                         "ASTDTM": pd.to_datetime(["2025-01-02T09:00"] * 2),
                         "AENDTM": pd.to_datetime(["2025-01-02T13:00"] * 2)})


def test_grade_labs_derives_baseline_and_grades_both_ways() -> None:
    issues = DataIssues()
    out = grade_labs(_lab_frame(), adsl=_adsl(), adex=_adex(), issues=issues)
    tb = out[out["PARAMCD"] == "TBIL"].set_index(["USUBJID", "AVISIT"])
    # baseline: the sample before the first session start
    assert tb.loc[("S1", "Session 1"), "BASE"] == 300.0
    assert tb.loc[("S1", "Baseline"), "ABLFL"] == "Y"
    assert tb.loc[("S1", "Baseline"), "POSTFL"] == ""
    assert tb.loc[("S1", "Day 7"), "POSTFL"] == "Y"
    assert tb.loc[("S1", "Session 1"), "CHG"] == 160.0
    assert math.isnan(tb.loc[("S1", "Baseline"), "CHG"])
    # S1 abnormal baseline 300: 460 = 1.53 x baseline -> grade 2; 280 -> 0
    assert tb.loc[("S1", "Session 1"), "ATOXGRN"] == 2.0
    assert tb.loc[("S1", "Day 7"), "ATOXGRN"] == 0.0
    # against the normal range: 460 = 21.9 x ULN -> 4; baseline 300 = 14.3 x ULN -> 4
    assert tb.loc[("S1", "Session 1"), "ATOXGRNR"] == 4.0
    assert tb.loc[("S1", "Session 1"), "BTOXGRNR"] == 4.0
    assert tb.loc[("S1", "Session 1"), "BTOXGRN"] == 0.0
    # S2 normal baseline 18: 70 = 3.33 x ULN -> 3 either way
    assert tb.loc[("S2", "Session 1"), "ATOXGRN"] == 3.0
    assert tb.loc[("S2", "Session 1"), "ATOXGRNR"] == 3.0
    # haemoglobin in mmol/L converted for the absolute cut-offs: 4.9 mmol/L -> grade 3
    hgb = out[out["PARAMCD"] == "HGB"].iloc[0]
    assert hgb["ATOXGRN"] == 3.0 and hgb["ATOXTERM"] == "Anemia"
    # platelets in an unknown unit are not graded, and the data issues say so
    plat = out[out["PARAMCD"] == "PLAT"].iloc[0]
    assert math.isnan(plat["ATOXGRN"])
    rules = issues.frame()["rule"].tolist()
    assert "unit-not-gradable" in rules and "grade-undetermined" in rules

    worst = worst_post_baseline(out, "ATOXGRNR").set_index(["USUBJID", "PARAMCD"])
    assert worst.loc[("S1", "TBIL"), "BGRADE"] == 4.0
    assert worst.loc[("S1", "TBIL"), "WGRADE"] == 4.0
    assert worst.loc[("S2", "TBIL"), "BGRADE"] == 0.0
    assert worst.loc[("S2", "TBIL"), "WGRADE"] == 3.0
    assert worst.loc[("S2", "TBIL"), "NPOST"] == 2


def test_grade_labs_uses_base_given_in_the_data() -> None:
    frame = _lab_frame()
    frame = frame[frame["PARAMCD"] == "TBIL"].copy()
    frame["BASE"] = np.where(frame["USUBJID"] == "S1", 200.0, 18.0)
    frame["ABLFL"] = np.where(frame["AVISIT"] == "Baseline", "Y", "")
    out = grade_labs(frame, adsl=_adsl(), adex=_adex())
    s1 = out[(out["USUBJID"] == "S1") & (out["AVISIT"] == "Session 1")].iloc[0]
    # 460 / 200 = 2.3 x baseline -> grade 2 (given BASE, not the derived 300)
    assert s1["BASE"] == 200.0 and s1["ATOXGRN"] == 2.0 and s1["CHG"] == 260.0
    assert out.loc[out["AVISIT"] == "Baseline", "POSTFL"].eq("").all()
    # without session times only samples after the first-session day are post-baseline
    dated = grade_labs(frame, adsl=_adsl())
    assert dated.loc[dated["AVISIT"] == "Session 1", "POSTFL"].eq("").all()
    assert dated.loc[dated["AVISIT"] == "Day 7", "POSTFL"].eq("Y").all()


class _P:
    def __init__(self, term: str, basis: str) -> None:
        self.ctcae_term, self.grade_basis = term, basis


class _Sap:
    parameters: ClassVar[dict[str, _P]] = {
        "TBIL": _P("Blood bilirubin increased", "abnormal-baseline"),
        "INR": _P("INR increased", "absolute"),
        "CREAT": _P("Creatinine increased", "uln-or-baseline"),
        "CRP": _P("", ""),
    }


def test_graded_parameters_follow_the_sap_then_the_default_codes() -> None:
    got = graded_parameters(["TBIL", "INR", "CREAT", "CRP", "BILI", "CA", "K"], _Sap())
    assert set(got) == {"TBIL", "INR", "CREAT", "BILI", "CA"}
    assert got["TBIL"].use_baseline and got["CREAT"].use_baseline
    assert not got["INR"].use_baseline
    assert got["BILI"].term == "Blood bilirubin increased" and got["BILI"].use_baseline
    assert got["CA"].term == "Hypocalcemia"
