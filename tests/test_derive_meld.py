"""MELD, MELD-Na and MELD 3.0 against the brief's worked checks and hand calculations.

References: ../shared/domain/clinical_brief.md section 1 (worked checks 1.1-1.3, computed by
the brief's authors from the OPTN formulas as coded in CU-Anschutz-DOS-CORP/sas-macros meld.sas);
the other expected values are hand calculations written out below.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from msc_analysis.derive.meld import meld, meld_3, meld_na, round_half_away


def test_brief_worked_check_meld() -> None:
    # Brief 1.1: TBil 300 umol/L (17.54 mg/dL), INR 2.0, creatinine 80 umol/L (0.90 -> 1.0)
    # -> MELD 25.0.
    assert meld(300, 2.0, 80) == 25.0


def test_brief_worked_check_meld_na() -> None:
    # Brief 1.2: same patient with Na 130 -> MELD-Na 28.
    assert meld_na(300, 2.0, 80, 130) == 28.0


def test_brief_worked_check_meld_3() -> None:
    # Brief 1.3: same patient, female, Na 130, albumin 3.0 g/dL (30 g/L) -> 28.5 -> 29.
    assert meld_3(300, 2.0, 80, 130, 30, True) == 29.0
    assert meld_3(300, 2.0, 80, 130, 30, True, rounded=False) == pytest.approx(28.546, abs=5e-4)


def test_meld_unrounded_hand_calculation() -> None:
    # bili 300/17.1 = 17.5439 mg/dL, ln = 2.86470; ln(2) = 0.693147; creat floor 1 -> ln 0.
    # 0.378*2.86470 + 1.120*0.693147 + 0.643 = 1.08286 + 0.77632 + 0.643 = 2.50218 -> x10 = 25.0218
    assert meld(300, 2.0, 80, rounded=False) == pytest.approx(25.0218, abs=1e-4)


def test_meld_floors_and_cap() -> None:
    # bili 10 umol/L (0.58 mg/dL), INR 0.9, creat 50 umol/L (0.57 mg/dL): all floored to 1.0,
    # so the bracket is 0.643 -> rounded 0.6 -> MELD 6.0; unrounded, uncapped 6.43.
    assert meld(10, 0.9, 50) == 6.0
    assert meld(10, 0.9, 50, rounded=False, cap=False) == pytest.approx(6.43)
    # Extreme values: bili 2000 umol/L (116.96 mg/dL), INR 8, creat 4.0 mg/dL (cap):
    # 0.957*1.386294 + 0.378*4.761849 + 1.120*2.079442 + 0.643 = 1.32668 + 1.79998 + 2.32897
    # + 0.643 = 6.09863 -> 61.0, capped to 40.
    assert meld(2000, 8.0, 400) == 40.0
    assert meld(2000, 8.0, 400, cap=False) == 61.0


def test_meld_creatinine_cap_and_dialysis_rule() -> None:
    # bili 171 umol/L = 10 mg/dL, INR 1.5, creat set to 4.0 (dialysis, or 500 umol/L > 4 mg/dL):
    # 0.957*ln4 + 0.378*ln10 + 1.120*ln1.5 + 0.643 = 1.326684 + 0.870377 + 0.454121 + 0.643
    # = 3.294182 -> 3.3 -> 33.0
    assert meld(171, 1.5, 100, True) == 33.0
    assert meld(171, 1.5, 500) == 33.0
    # Without dialysis, creat 100 umol/L = 1.1312 mg/dL: 0.957*ln(1.1312) = 0.117989
    # -> 0.117989 + 0.870377 + 0.454121 + 0.643 = 2.085487 -> 2.1 -> 21.0
    assert meld(171, 1.5, 100) == 21.0


def test_meld_na_threshold_and_bounds() -> None:
    # MELD 6 (floors above) with Na 125: OPTN applies no sodium term when MELD <= 11.
    assert meld_na(10, 0.9, 50, 125) == 6.0
    # Always applied: 6 + 1.32*12 - 0.033*6*12 = 6 + 15.84 - 2.376 = 19.464 -> 19.
    assert meld_na(10, 0.9, 50, 125, sodium_threshold=False) == 19.0
    # Na bounded to 125-137: Na 118 acts as 125; Na 142 as 137 (MELD-Na = MELD).
    assert meld_na(300, 2.0, 80, 118) == meld_na(300, 2.0, 80, 125)
    assert meld_na(300, 2.0, 80, 142) == 25.0
    # Na 125 with MELD 25: 25 + 15.84 - 0.033*25*12 = 25 + 15.84 - 9.9 = 30.94 -> 31.
    assert meld_na(300, 2.0, 80, 125) == 31.0


def test_meld_3_male_and_bounds() -> None:
    # Male: 28.546 - 1.33 = 27.216 -> 27.
    assert meld_3(300, 2.0, 80, 130, 30, False) == 27.0
    # bili 10 mg/dL, INR 1.5, creat 500 umol/L -> cap 3.0, Na 137, albumin 10 g/L -> 1.5 g/dL:
    # 4.56*2.302585 + 9.09*0.405465 + 11.14*1.098612 + 1.85*2.0 - 1.83*2.0*1.098612 + 6
    # = 10.49979 + 3.68568 + 12.23854 + 3.7 - 4.02092 + 6 = 32.10309
    assert meld_3(171, 1.5, 500, 137, 10, False, rounded=False) == pytest.approx(32.10309,
                                                                                abs=1e-4)
    # The MELD 3.0 creatinine cap is 3.0 mg/dL: 300 umol/L (3.39 mg/dL) equals 265.2 (3.0).
    assert meld_3(171, 1.5, 300, 137, 10, False) == meld_3(171, 1.5, 265.2, 137, 10, False)
    # Albumin above 3.5 g/dL acts as 3.5: 45 g/L equals 35 g/L.
    assert meld_3(300, 2.0, 80, 130, 45, True) == meld_3(300, 2.0, 80, 130, 35, True)


def test_vectorised_and_missing() -> None:
    out = meld([300, 171, np.nan], [2.0, 1.5, 2.0], [80, 100, 80])
    assert isinstance(out, np.ndarray)
    np.testing.assert_array_equal(out[:2], [25.0, 21.0])
    assert math.isnan(out[2])
    assert math.isnan(meld_3(300, 2.0, np.nan, 130, 30, True))


def test_round_half_away_from_zero() -> None:
    # SAS round: halves go away from zero (numpy's round would give 2.0 and 0.2).
    np.testing.assert_array_equal(round_half_away([2.5, -2.5, 0.25, 2.45], 0), [3, -3, 0, 2])
    np.testing.assert_array_equal(round_half_away([0.25, 2.45, -0.15], 1), [0.3, 2.5, -0.2])
