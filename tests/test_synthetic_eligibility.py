"""Every enrolled subject meets the protocol's eligibility criteria; every screen failure fails one.

The check is written here from the protocol text (project briefing; clinical brief sections 1.1
and 5), independently of the generator: it reads the written CSV files and recomputes each
criterion, including MELD from its published formula.

Protocol criteria: age 18-65; TBil >= 171 umol/L or rising >= 17.1 umol/L/day; PTA 20-40 % or
INR 1.5-2.6; hepatic encephalopathy grade <= II; raised IL-6 / TNF-alpha / CRP (above ULN);
MELD <= 30.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from msc_analysis.synthetic import SimulationSettings, simulate, write_study

REPO = Path(__file__).resolve().parents[1]

# Upper limits of normal used by the protocol's inflammation criterion (brief section 2):
# IL-6 < 7 pg/mL (Elecsys), TNF-alpha 8.1 pg/mL, CRP 5 mg/L.
ULN = {"IL6": 7.0, "TNFA": 8.1, "CRP": 5.0}


def _meld_original(tbil_umol: float, inr: float, creat_umol: float) -> float:
    """MELD(i) = 10 x round(0.957 ln cr + 0.378 ln bili + 1.120 ln INR + 0.643, 0.1), inputs in
    mg/dL floored at 1, creatinine capped at 4 (brief 1.1; OPTN policy as coded in meld.sas)."""
    bili = max(tbil_umol / 17.1, 1.0)
    cr = min(max(creat_umol / 88.4, 1.0), 4.0)
    i = max(inr, 1.0)
    inner = 0.957 * math.log(cr) + 0.378 * math.log(bili) + 1.120 * math.log(i) + 0.643
    return 10.0 * math.floor(inner * 10.0 + 0.5) / 10.0


def _failed(row: pd.Series) -> set[str]:
    """Criteria codes a screening record fails, from the protocol text."""
    fails = set()
    if not 18 <= row["AGE"] <= 65:
        fails.add("I1")
    days = (row["RFICDT"] - row["TBILPDT"]).days
    rising = (row["TBIL"] - row["TBILPRV"]) / days >= 17.1
    if not (row["TBIL"] >= 171.0 or rising):
        fails.add("I2")
    if not (20 <= row["PTA"] <= 40 or 1.5 <= row["INR"] <= 2.6):
        fails.add("I3")
    if row["HEGR"] > 2:
        fails.add("I4")
    raised = any(pd.notna(row[p]) and row[p] > ULN[p] for p in ULN)
    if not raised:
        fails.add("I5")
    if _meld_original(row["TBIL"], row["INR"], row["CREAT"]) > 30:
        fails.add("E1")
    return fails


def _read(folder: Path, name: str, dates: tuple[str, ...] = ()) -> pd.DataFrame:
    return pd.read_csv(folder / name, keep_default_na=False, na_values=[""],
                       parse_dates=list(dates))


@pytest.fixture(scope="module", params=["default", "large"])
def study(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    if request.param == "default":
        return REPO / "data" / "synthetic"
    folder = tmp_path_factory.mktemp("elig")
    write_study(simulate(SimulationSettings(n_subjects=1500, seed=11)), folder)
    return folder


def test_enrolled_subjects_meet_every_criterion(study: Path) -> None:
    adsl = _read(study, "adsl.csv")
    adlb = _read(study, "adlb.csv")
    log = _read(study, "screening_log.csv", ("RFICDT", "TBILPDT"))
    scr = adlb[adlb["AVISIT"] == "Screening"]
    wide = scr.pivot(index="USUBJID", columns="PARAMCD", values="AVAL")
    assert set(wide.index) == set(adsl["USUBJID"])
    enrolled = log[log["ELIGFL"] == "Y"].set_index("USUBJID")
    assert set(enrolled.index) == set(adsl["USUBJID"])
    subj = adsl.set_index("USUBJID")
    for usubjid, labs in wide.iterrows():
        rec = enrolled.loc[usubjid].copy()
        # the log's screening values are the ADLB screening results and the ADSL values
        for p in ("TBIL", "INR", "PTA", "CREAT", "IL6", "TNFA", "CRP"):
            a, b = labs[p], rec[p]
            assert (pd.isna(a) and pd.isna(b)) or a == pytest.approx(b, abs=1e-9), (usubjid, p)
        assert rec["AGE"] == subj.loc[usubjid, "AGE"]
        assert rec["HEGR"] == subj.loc[usubjid, "HEGRBL"]
        assert _failed(rec) == set(), usubjid
        meld = _meld_original(labs["TBIL"], labs["INR"], labs["CREAT"])
        assert meld == subj.loc[usubjid, "MELDSCR"] <= 30


def test_screen_failures_fail_the_criteria_they_list(study: Path) -> None:
    log = _read(study, "screening_log.csv", ("RFICDT", "TBILPDT"))
    failures = log[log["ELIGFL"] == "N"]
    assert failures["USUBJID"].isna().all()
    for _, rec in failures.iterrows():
        listed = set(str(rec["FAILCRIT"]).split(";"))
        assert _failed(rec) == listed, rec["SCRNID"]
        assert rec["FAILREAS"]


def test_screen_failures_cover_several_criteria() -> None:
    log = simulate(SimulationSettings(n_subjects=1500, seed=11))["screening_log"]
    codes = set(";".join(log.loc[log["ELIGFL"] == "N", "FAILCRIT"]).split(";"))
    assert {"I1", "I2", "I3", "I4", "I5", "E1"} <= codes


def test_screening_conventional_units_convert_to_si(study: Path) -> None:
    adlb = _read(study, "adlb.csv")
    scr = adlb[(adlb["AVISIT"] == "Screening") & adlb["PARAMCD"].isin(["TBIL", "CREAT"])]
    assert (scr["LBORRESU"] == "mg/dL").all()
    factor = scr["PARAMCD"].map({"TBIL": 17.1, "CREAT": 88.4})  # brief section 1.4
    assert (scr["AVAL"] - scr["LBORRES"].astype(float) * factor).abs().max() < 1e-6
