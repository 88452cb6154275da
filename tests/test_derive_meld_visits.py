"""MELD scores by visit: the clinical brief's worked example, change from baseline and the
naming of missing components."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from msc_analysis.derive.meld_visits import meld_by_visit
from msc_analysis.errors import AnalysisError


def _inputs() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    adsl = pd.DataFrame({"USUBJID": ["A", "B"], "SEX": ["F", "M"]})
    # Brief 1.1-1.3 worked check at baseline for A: TBil 300 umol/L, INR 2.0, creatinine
    # 80 umol/L -> MELD 25; Na 130 -> MELD-Na 28; female, albumin 30 g/L -> MELD 3.0 29.
    base = pd.DataFrame({
        "USUBJID": ["A"] * 5 + ["B"] * 3,
        "PARAMCD": ["TBIL", "INR", "CREAT", "SODIUM", "ALB", "TBIL", "INR", "CREAT"],
        "BASE": [300.0, 2.0, 80.0, 130.0, 30.0, 171.0, 1.0, 88.4],
    })
    # Day 7 of A: TBil 171 umol/L (10 mg/dL), INR 1.0, creatinine 88.4 (1 mg/dL):
    # MELD = 10 * round(0.378 ln 10 + 0.643, 1) = 10 * round(1.5134, 1) = 15.
    windows = pd.DataFrame({
        "USUBJID": ["A"] * 6,
        "PARAMCD": ["TBIL", "INR", "CREAT", "SODIUM", "ALB", "TBIL"],
        "AVISIT": ["Day 7"] * 5 + ["Day 14"],
        "AVAL": [171.0, 1.0, 88.4, 137.0, 35.0, 200.0],
        "ANL01FL": ["Y"] * 6,
    })
    return adsl, base, windows


def test_scores_change_and_missing_components() -> None:
    adsl, base, windows = _inputs()
    out = meld_by_visit(["A", "B"], adsl, base, windows, ["MELD", "MELDNA", "MELD3"],
                        ["Day 7", "Day 14"])
    a = out.loc[out["USUBJID"] == "A"].set_index(["PARAMCD", "AVISIT"])
    assert a.loc[("MELD", "Baseline"), "AVAL"] == 25.0
    assert a.loc[("MELDNA", "Baseline"), "AVAL"] == 28.0
    assert a.loc[("MELD3", "Baseline"), "AVAL"] == 29.0
    assert a.loc[("MELD", "Day 7"), "AVAL"] == 15.0
    assert a.loc[("MELD", "Day 7"), "CHG"] == -10.0
    assert a.loc[("MELD", "Day 7"), "PCHG"] == pytest.approx(-40.0)
    assert np.isnan(a.loc[("MELD", "Baseline"), "CHG"])
    assert np.isnan(a.loc[("MELD", "Day 14"), "AVAL"])
    assert a.loc[("MELD", "Day 14"), "MISSING"] == "INR,CREAT"
    b = out.loc[out["USUBJID"] == "B"].set_index(["PARAMCD", "AVISIT"])
    assert b.loc[("MELD", "Baseline"), "MISSING"] == ""
    assert np.isnan(b.loc[("MELD3", "Baseline"), "AVAL"])
    assert b.loc[("MELD3", "Baseline"), "MISSING"] == "SODIUM,ALB"


def test_unknown_score_is_an_error() -> None:
    adsl, base, windows = _inputs()
    with pytest.raises(AnalysisError, match="CHILD"):
        meld_by_visit(["A"], adsl, base, windows, ["CHILD"], [])
