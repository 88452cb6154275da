"""Unit recognition and conversion to the trial's SI units (io/units.py).

Reference factors are the conventional SI conversion factors (AMA Manual of Style SI table;
Young DS, Ann Intern Med 1987;106:114-129): bilirubin mg/dL x 17.1, creatinine mg/dL x 88.4,
albumin g/dL x 10, CRP mg/dL x 10, haemoglobin mmol/L x 16.114; temperature C = (F - 32) x 5/9.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from io_fixtures import valid_frames, write_study
from msc_analysis.io.issues import DataIssues
from msc_analysis.io.loading import load_study
from msc_analysis.io.units import (
    conversion,
    normalise_unit,
    si_unit,
    to_si,
    trial_code,
    unit_from_param,
)


@pytest.mark.parametrize(
    ("code", "unit", "value", "expected"),
    [
        ("TBIL", "mg/dL", 1.0, 17.1),
        ("CREAT", "mg/dL", 1.2, 106.08),  # 1.2 x 88.4
        ("ALB", "g/dL", 3.0, 30.0),
        ("CRP", "mg/dL", 2.5, 25.0),
        ("HGB", "mmol/L", 8.5, 136.969),  # 8.5 x 16.114
        ("HGB", "g/dL", 13.0, 130.0),
        ("CALCIUM", "mg/dL", 10.0, 2.495),
        ("IL6", "ng/mL", 0.05, 50.0),
        ("ALT", "ukat/L", 0.5, 30.0),
        ("TBIL", "µmol/L", 250.0, 250.0),
        ("PLAT", "GI/L", 150.0, 150.0),
        ("PLAT", "x10^3/uL", 150.0, 150.0),
        ("TEMP", "F", 98.6, 37.0),
        ("INR", "", 1.2, 1.2),
    ],
)
def test_conversion_factors(code: str, unit: str, value: float, expected: float) -> None:
    conv = conversion(code, unit)
    assert conv is not None
    assert value * conv.factor + conv.offset == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(("code", "unit"), [("TBIL", "mg/mL"), ("PTA", "s"), ("CRP", ""),
                                            ("TEMP", "K")])
def test_unknown_units(code: str, unit: str) -> None:
    assert conversion(code, unit) is None


def test_aliases_and_labels() -> None:
    assert trial_code("BILI") == "TBIL"
    assert trial_code("CA") == "CALCIUM"
    assert trial_code("TBIL") == "TBIL"
    assert trial_code("_BILI") is None
    assert trial_code("URATE") is None
    assert si_unit("CREAT") == "umol/L"
    assert normalise_unit(" µmol / L ") == "umol/l"
    assert normalise_unit("10*9/L") == "10^9/l"
    assert unit_from_param("Bilirubin (umol/L)") == "umol/L"
    assert unit_from_param("Ery. Mean Corpuscular Hemoglobin (fmol(Fe))") == "fmol(Fe)"
    assert unit_from_param("Bilirubin (umol/L) change from previous visit") == ""


def _frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    frame["_file"] = "advs.csv"
    frame["_row"] = range(1, len(frame) + 1)
    return frame


def test_temperature_change_converts_by_factor_only() -> None:
    # 100.4 F = 38.0 C; a change of +1.8 F is +1.0 C (no offset for a difference).
    frame = _frame([{"PARAMCD": "TEMP", "PARAM": "Temperature (F)", "AVAL": 100.4,
                     "CHG": 1.8, "AVALU": "F"}])
    issues = DataIssues()
    out = to_si(frame, "ADVS", issues)
    assert out["AVAL"].iloc[0] == pytest.approx(38.0, rel=1e-12)
    assert out["CHG"].iloc[0] == pytest.approx(1.0, rel=1e-12)
    assert out["AVALU"].iloc[0] == "C"
    assert out["PARAM"].iloc[0] == "Temperature (C)"
    assert frame["AVAL"].iloc[0] == 100.4  # input untouched
    assert issues.frame()["rule"].tolist() == ["unit-converted"]


def test_unit_from_param_when_no_avalu_and_other_parameters_untouched() -> None:
    frame = _frame([
        {"PARAMCD": "CREAT", "PARAM": "Creatinine (mg/dL)", "AVAL": 1.0},
        {"PARAMCD": "URATE", "PARAM": "Urate (mg/dL)", "AVAL": 5.0},
    ])
    out = to_si(frame, "ADLB", DataIssues())
    assert out["AVAL"].tolist() == pytest.approx([88.4, 5.0], rel=1e-12)
    assert out["AVALU"].tolist() == ["umol/L", "mg/dL"]
    assert out["PARAM"].tolist() == ["Creatinine (umol/L)", "Urate (mg/dL)"]


def test_reference_range_and_lloq_convert_with_the_value(tmp_path: Path) -> None:
    frames = valid_frames()
    lab = frames["adlb"]
    tbil = lab["PARAMCD"] == "TBIL"
    lab.loc[tbil, ["AVAL", "AVALU", "ANRLO", "ANRHI", "LLOQ"]] = ["10", "mg/dL", "0.3", "1.2",
                                                                   "0.1"]
    study = load_study(write_study(tmp_path / "s", frames), analyses=("labs",))
    row = study.adlb[study.adlb["PARAMCD"] == "TBIL"].iloc[0]
    assert [row["AVAL"], row["ANRLO"], row["ANRHI"], row["LLOQ"]] == pytest.approx(
        [171.0, 5.13, 20.52, 1.71], rel=1e-12)
    assert row["LBORRES"] == "250"  # the original-unit result is not touched
