"""The CDISC Pilot 01 ADaM folder loads, with the values its SOURCE.md documents.

References: ``shared/data/cdisc_pilot01/SOURCE.md`` (row counts, arm sizes 86/84/84, codes
0/54/81, AVISIT padding and "." for missing, ANRIND L/N/H, AESEV, TRTEMFL Y 1126 / N 65) and an
independent reading of the same files with pyreadstat (which does not have pandas' IBM-zero bug
and converts SAS dates itself).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from msc_analysis.io.issues import DataIssues
from msc_analysis.io.loading import Study, load_study

PILOT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "cdisc_pilot01"

pytestmark = pytest.mark.skipif(not PILOT.is_dir(), reason="CDISC pilot data not available")


@pytest.fixture(scope="module")
def loaded() -> tuple[Study, DataIssues, float]:
    issues = DataIssues()
    started = time.perf_counter()
    study = load_study(PILOT, analyses=("safety", "labs", "vitals", "report"), issues=issues)
    return study, issues, time.perf_counter() - started


@pytest.fixture(scope="module")
def study(loaded: tuple[Study, DataIssues, float]) -> Study:
    return loaded[0]


def test_row_counts_per_source_md(study: Study) -> None:
    assert len(study.adsl) == 254
    assert len(study.adae) == 1191
    assert len(study.advs) == 32139
    assert study.adex is None
    assert study.adlb["_file"].value_counts().to_dict() == {"adlbc.xpt": 74264,
                                                            "adlbh.xpt.gz": 49932}
    assert study.adsl["USUBJID"].nunique() == 254


def test_loads_in_a_few_seconds(loaded: tuple[Study, DataIssues, float]) -> None:
    assert loaded[2] < 10.0


def test_treatment_codes_are_exact_zero_for_placebo(study: Study) -> None:
    adsl, adae, adlb = study.adsl, study.adae, study.adlb
    assert adsl.groupby("TRT01A")["TRT01AN"].unique().map(list).to_dict() == {
        "Placebo": [0.0], "Xanomeline Low Dose": [54.0], "Xanomeline High Dose": [81.0]}
    assert (adsl["TRT01PN"] == 0).sum() == 86
    assert adsl["TRT01A"].value_counts().to_dict() == {
        "Placebo": 86, "Xanomeline High Dose": 84, "Xanomeline Low Dose": 84}
    assert set(adae.loc[adae["TRTA"] == "Placebo", "TRTAN"]) == {0.0}
    assert set(adlb.loc[adlb["TRTP"] == "Placebo", "TRTPN"]) == {0.0}
    numbers = adlb.select_dtypes("number")
    tiny = (numbers.abs() > 0) & (numbers.abs() < 1e-70)
    assert not tiny.to_numpy().any()


def test_visits_are_stripped_and_baseline_is_zero(study: Study) -> None:
    adlb = study.adlb
    assert set(adlb.loc[adlb["AVISIT"] == "Baseline", "AVISITN"]) == {0.0}
    assert set(adlb.loc[adlb["AVISITN"] == 99, "AVISIT"]) == {"End of Treatment"}
    # "." in AVISIT is missing; SOURCE.md: 1,482 such adlbc rows, all with AVISITN missing.
    blank = adlb[(adlb["AVISIT"] == "") & (adlb["_file"] == "adlbc.xpt")]
    assert len(blank) == 1482
    assert blank["AVISITN"].isna().all()
    assert not adlb["AVISIT"].str.startswith(" ").any()


def test_character_codes_as_documented(study: Study) -> None:
    assert set(study.adlb["ANRIND"]) <= {"L", "N", "H", ""}
    assert set(study.adae["AESEV"]) == {"MILD", "MODERATE", "SEVERE"}
    assert "ATOXGR" not in study.adae.columns
    assert study.adae["TRTEMFL"].value_counts().to_dict() == {"Y": 1126, "N": 65}


def test_dates_match_an_independent_reader(study: Study) -> None:
    ref, _ = pyreadstat.read_xport(str(PILOT / "adsl.xpt"))
    expected = pd.to_datetime(ref["TRTSDT"]).astype("datetime64[ns]")
    assert study.adsl["TRTSDT"].dtype == "datetime64[ns]"
    assert (study.adsl["TRTSDT"].to_numpy() == expected.to_numpy()).all()
    ref_ae, _ = pyreadstat.read_xport(str(PILOT / "adae.xpt"))
    got = study.adae["ASTDT"].to_numpy()
    want = pd.to_datetime(ref_ae["ASTDT"]).astype("datetime64[ns]").to_numpy()
    assert ((got == want) | (np.isnat(got) & np.isnat(want))).all()


def test_bilirubin_is_in_umol_per_litre_unchanged(study: Study) -> None:
    ref, _ = pyreadstat.read_xport(str(PILOT / "adlbc.xpt"), usecols=["PARAMCD", "AVAL"])
    want = ref.loc[ref["PARAMCD"] == "BILI", "AVAL"].to_numpy()
    adlb = study.adlb
    bili = adlb[adlb["PARAMCD"] == "BILI"]
    assert len(bili) == len(want) > 0
    np.testing.assert_array_equal(bili["AVAL"].to_numpy(), want)
    assert set(bili["AVALU"]) == {"umol/L"}
    assert set(bili["PARAM"]) == {"Bilirubin (umol/L)"}


def test_haemoglobin_mmol_per_litre_is_converted_to_g_per_litre(
    loaded: tuple[Study, DataIssues, float],
) -> None:
    # Hb 1 mmol/L (Fe) = 16.114 g/L; the Pilot reports HGB in mmol/L, the trial in g/L.
    study, issues, _ = loaded
    ref = pd.read_sas(PILOT / "adlbh.xpt.gz", encoding="latin1")
    want = ref.loc[ref["PARAMCD"] == "HGB", "AVAL"].to_numpy() * 16.114
    hgb = study.adlb[study.adlb["PARAMCD"] == "HGB"]
    np.testing.assert_allclose(hgb["AVAL"].to_numpy(), want, rtol=1e-12)
    assert set(hgb["AVALU"]) == {"g/L"}
    assert set(hgb["PARAM"]) == {"Hemoglobin (g/L)"}
    notes = issues.frame()
    converted = notes[notes["rule"] == "unit-converted"]
    assert converted["message"].tolist() == [
        "ADLB PARAMCD HGB: 2052 value(s) converted from mmol/L to g/L (x 16.114)"]


def test_no_errors_and_only_expected_warnings(loaded: tuple[Study, DataIssues, float]) -> None:
    frame = loaded[1].frame()
    assert (frame["severity"] != "error").all()
    warnings = frame[frame["severity"] == "warning"]
    # ADVS ATPT holds the Pilot's positions, outside the trial's PRE / DURING / POST: warnings
    # (ATPT is not needed), one per distinct value, rows kept.
    assert warnings[["file", "variable", "rule"]].drop_duplicates().values.tolist() == [
        ["advs.xpt.gz", "ATPT", "controlled-term"]]
    assert len(warnings) == 3
