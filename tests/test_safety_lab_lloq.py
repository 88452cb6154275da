"""Below-LLOQ laboratory values count in the safety summaries at the SAP's substitute."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from msc_analysis.analyses.safety_data import prepare_safety
from msc_analysis.io.issues import DataIssues
from msc_analysis.io.loading import load_study
from msc_analysis.sap import load_sap

REPO = Path(__file__).resolve().parents[1]


def test_below_lloq_values_are_substituted_not_dropped() -> None:
    sap = load_sap(REPO / "sap" / "sap.toml")
    study = load_study(REPO / "data" / "synthetic", analyses=("safety", "labs"))
    raw = study.adlb[study.adlb["USUBJID"].isin(
        study.adsl.loc[study.adsl["SAFFL"] == "Y", "USUBJID"])]
    blq = raw[raw["BLQFL"] == "Y"]
    assert len(blq) > 0 and blq["AVAL"].isna().all()  # the synthetic data report them empty
    lab = prepare_safety(study, sap, DataIssues()).lab
    got = lab[lab["BLQFL"] == "Y"]
    assert len(got) == len(blq)
    expected = got["LLOQ"].astype(float) / 2  # SAP primary rule: LLOQ/2
    pd.testing.assert_series_equal(got["AVAL"].astype(float), expected, check_names=False)
    assert set(got["AVALIMP"]) == {"LLOQ/2"}
