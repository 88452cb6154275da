"""The trial's synthetic study (data/synthetic/) loads clean for every analysis."""

from __future__ import annotations

from pathlib import Path

import pytest

from msc_analysis.io.issues import DataIssues
from msc_analysis.io.loading import load_study
from msc_analysis.io.schema import ANALYSES, LAB_PARAMETERS

SYNTHETIC = Path(__file__).resolve().parents[1] / "data" / "synthetic"

pytestmark = pytest.mark.skipif(not (SYNTHETIC / "adsl.csv").is_file(),
                                reason="data/synthetic not generated yet")


def test_synthetic_study_loads_without_errors_or_warnings() -> None:
    issues = DataIssues()
    study = load_study(SYNTHETIC, analyses=ANALYSES, issues=issues)
    frame = issues.frame()
    assert not (frame["severity"].isin(["error", "warning"])).any(), frame.to_string()
    for name in ("adsl", "adex", "adlb", "adae", "advs"):
        assert study.dataset(name) is not None, name
    # After loading, every lab value is in the trial's unit for its parameter.
    units = study.adlb.groupby("PARAMCD")["AVALU"].unique().map(list).to_dict()
    for code, found in units.items():
        assert found == [LAB_PARAMETERS[code][1]], code
