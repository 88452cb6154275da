"""Laboratory safety analyses (SAF-LBSUM, SAF-LBSHIFT, SAF-LBG3, listing 16.2.8.1) by hand.

Four subjects, total bilirubin (ULN 21 umol/L; SAP basis: CTCAE's abnormal-baseline rule) and
platelets (LLN 150 x 10^9/L; SAP basis: normal range and absolute cut-offs). Every expected
value below is worked out in the comments from the CTCAE v5.0 criteria (clinical brief
section 2) and plain arithmetic.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

import safety_fixtures as fx
from msc_analysis.analyses import safety_lab
from msc_analysis.analyses.safety_data import prepare_safety
from msc_analysis.analyses.safety_listings import listing_lab_grade3
from msc_analysis.ard import lookup
from msc_analysis.io.issues import DataIssues
from msc_analysis.render.safety_tables import lab_grade3_table, lab_shift_table, lab_summary_table

TIMES = {"Baseline": "2025-01-09T08:00", "Session 1": "2025-01-10T14:00",
         "Day 7": "2025-01-17T08:00", "": "2025-01-20T08:00"}
AVISITN = {"Baseline": 0.0, "Session 1": 1.0, "Day 7": 7.0, "": math.nan}
VALUES = {  # (subject, paramcd): {visit: value}; "" is an unscheduled sample
    ("S01", "TBIL"): {"Baseline": 300.0, "Session 1": 460.0, "Day 7": 1000.0, "": 2000.0},
    ("S02", "TBIL"): {"Baseline": 100.0, "Session 1": 150.0, "Day 7": 90.0},
    ("S03", "TBIL"): {"Baseline": 15.0, "Session 1": 70.0},
    ("S04", "TBIL"): {"Baseline": 50.0},
    ("S01", "PLAT"): {"Baseline": 160.0, "Session 1": 45.0, "Day 7": 60.0},
    ("S02", "PLAT"): {"Baseline": 40.0, "Session 1": 45.0, "Day 7": 30.0},
    ("S03", "PLAT"): {"Baseline": 200.0, "Session 1": 180.0},
}


def adlb() -> pd.DataFrame:
    rows = []
    for (subj, code), visits in VALUES.items():
        for visit, value in visits.items():
            rows.append({
                "USUBJID": subj, "PARAMCD": code, "AVAL": value,
                "AVALU": "umol/L" if code == "TBIL" else "10^9/L",
                "ADTM": pd.Timestamp(TIMES[visit]), "ADT": pd.Timestamp(TIMES[visit][:10]),
                "AVISIT": visit, "AVISITN": AVISITN[visit],
                "ATPT": "POST" if visit == "Session 1" else "",
                "SESSNUM": 1.0 if visit == "Session 1" else math.nan,
                "ANRLO": 0.0 if code == "TBIL" else 150.0,
                "ANRHI": 21.0 if code == "TBIL" else 400.0,
            })
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def data():  # type: ignore[no-untyped-def]
    adsl = fx.adsl().iloc[:4]
    return prepare_safety(fx.study(adsl=adsl, adae=None, adlb=adlb()), fx.sap(), DataIssues())


def test_summary_by_visit(data) -> None:
    ard = safety_lab.lab_summary(data)

    def v(stat: str, visit: str, variable: str = "AVAL") -> float:
        return lookup(ard, "SAF-LBSUM", stat, variable=variable, PARAMCD="TBIL", AVISIT=visit)

    assert v("n", "Baseline") == 4 and v("mean", "Baseline") == pytest.approx(465 / 4)
    # session samples are labelled with their time point
    assert v("n", "Session 1 Post") == 3
    assert v("mean", "Session 1 Post") == pytest.approx(680 / 3)
    # change: 460-300, 150-100, 70-15
    assert v("mean", "Session 1 Post", "CHG") == pytest.approx((160 + 50 + 55) / 3)
    assert v("median", "Session 1 Post", "CHG") == 55.0
    assert (v("min", "Day 7", "CHG"), v("max", "Day 7", "CHG")) == (-10.0, 700.0)
    assert v("sd", "Day 7") == pytest.approx(math.sqrt((1000 - 545) ** 2 * 2))
    # no change row at baseline; visits in visit order; the unscheduled sample is not shown
    tb = ard[(ard["group1_level"] == "TBIL") & (ard["stat_name"] == "n")]
    assert list(dict.fromkeys(tb["group2_level"])) == ["Baseline", "Session 1 Post", "Day 7"]
    assert not ((tb["group2_level"] == "Baseline") & (tb["variable"] == "CHG")).any()
    excluded = data.issues.frame()
    assert ((excluded["rule"] == "no-visit") & excluded["message"].str.startswith(
        "TBIL: 1 record")).any()
    table = lab_summary_table(ard, data.sap)
    row = next(r for r in table.rows if r.group.startswith("Total Bilirubin")
               and r.label == "Session 1 Post")
    assert row.text("c0_n") == "3" and row.text("c0_m").startswith("226.67 (")


def test_shift_table(data) -> None:
    ard = safety_lab.lab_shift(data)

    def shift(code: str, base: str, worst: str) -> float:
        return lookup(ard, "SAF-LBSHIFT", "n", variable="WGRADE", variable_level=worst,
                      PARAMCD=code, BGRADE=base)

    # TBIL against the ULN: S01 300 (14.3 x ULN, grade 4) -> worst 2000 (grade 4);
    # S02 100 (4.8 x, grade 3) -> 150 (7.1 x, grade 3); S03 15 (grade 0) -> 70 (3.3 x, grade 3);
    # S04 has no post-baseline value and is not in the table
    assert lookup(ard, "SAF-LBSHIFT", "N", variable="USUBJID", PARAMCD="TBIL") == 3
    assert (shift("TBIL", "4", "4"), shift("TBIL", "3", "3"), shift("TBIL", "0", "3")) == (
        1, 1, 1)
    assert shift("TBIL", "0", "0") == 0 and shift("TBIL", "0", "Any") == 1
    assert lookup(ard, "SAF-LBSHIFT", "pct", variable="WGRADE", variable_level="3",
                  PARAMCD="TBIL", BGRADE="0") == pytest.approx(100 / 3)
    # platelets: S01 160 (0) -> 45 (<50, grade 3); S02 40 (3) -> 30 (3); S03 200 -> 180 (0)
    assert (shift("PLAT", "0", "3"), shift("PLAT", "3", "3"), shift("PLAT", "0", "0")) == (
        1, 1, 1)
    assert any(i["rule"] == "no-post-baseline" and i["usubjid"] == "S04"
               for i in data.issues.frame().to_dict("records"))
    table = lab_shift_table(ard, data.sap)
    assert any(r.label == "Grade 4" and r.text("c0_4") == "1 (33.3)" for r in table.rows)


def test_grade3_table(data) -> None:
    ard = safety_lab.lab_grade3(data)

    def g(stat: str, code: str, level: str = "GE3") -> float:
        if code == "ANY":
            return lookup(ard, "SAF-LBG3", stat, variable="ATOXGRN",
                          variable_level=f"ANY_{level}")
        return lookup(ard, "SAF-LBG3", stat, variable="ATOXGRN", variable_level=level,
                      PARAMCD=code)

    # TBIL relative to an abnormal baseline: S01 1000 = 3.3 x 300 (grade 3) -> yes and worse
    # (the baseline is grade 0 relative to itself); S02 at most 1.5 x 100 (grade 1) -> no;
    # S03 normal baseline, 70 = 3.3 x ULN (grade 3) -> yes, worse
    assert (g("N", "TBIL"), g("n", "TBIL"), g("n", "TBIL", "GE3_WORSE")) == (3, 2, 2)
    # platelets: S01 45 (grade 3, baseline grade 0) -> worse; S02 grade 3 at baseline already
    assert (g("n", "PLAT"), g("n", "PLAT", "GE3_WORSE")) == (2, 1)
    # any parameter: S01, S02, S03 with grade >= 3; worse: S01, S03
    assert (g("N", "ANY"), g("n", "ANY"), g("n", "ANY", "GE3_WORSE")) == (3, 3, 2)
    # Clopper-Pearson for 2/3 by hand: the upper limit is the 97.5% point of Beta(3, 1), whose
    # cdf is x^3, so 0.975^(1/3); the lower limit the 2.5% point of Beta(2, 2), whose cdf is
    # 3x^2 - 2x^3
    assert g("conf_high", "TBIL") == pytest.approx(0.975 ** (1 / 3), rel=1e-9)
    low = g("conf_low", "TBIL")
    assert 3 * low**2 - 2 * low**3 == pytest.approx(0.025, rel=1e-9)
    table = lab_grade3_table(ard, data.sap)
    assert table.rows[-1].label == "Any parameter" and table.rows[-1].text("c0_n") == "3/3 (100)"


def test_grade3_listing(data) -> None:
    listing = listing_lab_grade3(data)
    # S01 TBIL 1000 (grade 3) and the unscheduled 2000 (6.7 x baseline: grade 3), S03 TBIL 70,
    # S01 PLAT 45, S02 PLAT 45 and 30
    got = sorted(zip(listing["USUBJID"], listing["PARAMCD"], listing["AVAL"], strict=True))
    assert got == [("S01", "PLAT", 45.0), ("S01", "TBIL", 1000.0), ("S01", "TBIL", 2000.0),
                   ("S02", "PLAT", 30.0), ("S02", "PLAT", 45.0), ("S03", "TBIL", 70.0)]
    assert set(listing["ATOXGRN"]) == {3.0}
    assert "Group" in listing.columns


def test_no_adlb_gives_no_rows() -> None:
    data = prepare_safety(fx.study(), fx.sap())
    assert safety_lab.lab_summary(data).empty and safety_lab.lab_shift(data).empty
