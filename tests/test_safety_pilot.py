"""The safety analyses on the CDISC Pilot 01 ADaM data, against the published re-creations.

Published numbers: the pilot's clinical study report tables re-created in R by Atorus Research,
repository atorus-research/CDISC_pilot_replication:

- ``outputs/14-5.01.rtf`` (commit 69b4fb6e24e9277b16e72cce71452e791483d295), "Incidence of
  Treatment Emergent Adverse Events by Treatment Group", Safety population, columns Placebo
  (N=86), Xanomeline Low Dose (N=84), Xanomeline High Dose (N=84): subjects n (%) and [events];
- ``outputs/14-5.02.rtf`` (same commit), the same for serious TEAEs;
- ``outputs/14-6.01.rtf`` (commit 17e3976a63e2d94c7c18e431aa5db8af9be5ba47), "Summary
  Statistics for Continuous Laboratory Values": N, mean (SD) of the value and of the change from
  baseline by visit (grouped by TRTP, identical to TRT01A in these data).

Note: in 14-5.01 the Low Dose column has 77 subjects (91.7%) with any TEAE and the High Dose 76
(90.5%), not the reverse. Beyond the published cells, every SOC / PT cell (subjects and events
per arm) is recounted with plain pandas from the raw transport file.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from msc_analysis.analyses import safety_ae, safety_lab
from msc_analysis.analyses.safety_data import prepare_safety
from msc_analysis.ard import lookup
from msc_analysis.io.issues import DataIssues
from msc_analysis.io.loading import load_study
from msc_analysis.sap import load_sap

REPO = Path(__file__).resolve().parents[1]
PILOT = REPO.parent / "shared" / "data" / "cdisc_pilot01"
ARMS = ("Placebo", "Xanomeline Low Dose", "Xanomeline High Dose")

pytestmark = pytest.mark.skipif(not PILOT.is_dir(), reason="CDISC pilot data not available")


@pytest.fixture(scope="module")
def data():  # type: ignore[no-untyped-def]
    issues = DataIssues()
    study = load_study(PILOT, analyses=("safety", "labs"), issues=issues)
    return prepare_safety(study, load_sap(REPO / "sap" / "sap.toml"), issues, by="TRTA")


@pytest.fixture(scope="module")
def socpt(data):  # type: ignore[no-untyped-def]
    return safety_ae.ae_by_soc_pt(data)


def test_denominators_from_adsl_saffl_by_trt01a(data) -> None:
    assert data.groups == ARMS
    assert data.denominators == {"Placebo": 86, "Xanomeline Low Dose": 84,
                                 "Xanomeline High Dose": 84}


# Atorus 14-5.01: ANY BODY SYSTEM 65 (75.6%) [281] | 77 (91.7%) [412] | 76 (90.5%) [433]
ANY_TEAE = {"Placebo": (65, 75.6, 281), "Xanomeline Low Dose": (77, 91.7, 412),
            "Xanomeline High Dose": (76, 90.5, 433)}


def test_any_teae_against_published(data, socpt) -> None:
    ov = safety_ae.ae_overview(data)
    for arm, (n, pct, events) in ANY_TEAE.items():
        for ard, aid, var, level in ((ov, "SAF-AEOV", "TEAE", ""),
                                     (socpt, "SAF-AESOCPT", "TRTEMFL", "Y")):
            assert lookup(ard, aid, "n", variable=var, variable_level=level, TRTA=arm) == n
            assert lookup(ard, aid, "pct", variable=var, variable_level=level,
                          TRTA=arm) == pytest.approx(pct, abs=0.05)
            assert lookup(ard, aid, "n_events", variable=var, variable_level=level,
                          TRTA=arm) == events


# Atorus 14-5.01, CARDIAC DISORDERS block: (Placebo, Low, High) as (subjects, events)
CARDIAC = {
    None: ((12, 26), (13, 30), (15, 30)),
    "SINUS BRADYCARDIA": ((2, 2), (7, 10), (8, 12)),
    "MYOCARDIAL INFARCTION": ((4, 4), (2, 4), (4, 8)),
    "ATRIAL FIBRILLATION": ((1, 1), (1, 1), (3, 5)),
    "ATRIAL FLUTTER": ((0, 0), (1, 1), (1, 2)),
    "CARDIAC DISORDER": ((0, 0), (0, 0), (1, 1)),
    "SUPRAVENTRICULAR EXTRASYSTOLES": ((1, 2), (1, 2), (1, 1)),
    "VENTRICULAR EXTRASYSTOLES": ((0, 0), (2, 4), (1, 1)),
    "ATRIAL HYPERTROPHY": ((1, 2), (0, 0), (0, 0)),
    "ATRIOVENTRICULAR BLOCK FIRST DEGREE": ((1, 1), (1, 1), (0, 0)),
    "ATRIOVENTRICULAR BLOCK SECOND DEGREE": ((1, 1), (0, 0), (0, 0)),
    "BRADYCARDIA": ((1, 4), (0, 0), (0, 0)),
    "BUNDLE BRANCH BLOCK LEFT": ((1, 1), (0, 0), (0, 0)),
    "BUNDLE BRANCH BLOCK RIGHT": ((1, 2), (1, 1), (0, 0)),
}


@pytest.mark.parametrize("pt", list(CARDIAC), ids=lambda p: p or "SOC")
def test_cardiac_block_against_published(socpt, pt) -> None:
    soc = "CARDIAC DISORDERS"
    for arm, (n, events) in zip(ARMS, CARDIAC[pt], strict=True):
        if pt is None:
            kw = {"variable": "AEBODSYS", "variable_level": soc, "TRTA": arm}
        else:
            kw = {"variable": "AEDECOD", "variable_level": pt, "TRTA": arm, "AEBODSYS": soc}
        assert lookup(socpt, "SAF-AESOCPT", "n", **kw) == n
        assert lookup(socpt, "SAF-AESOCPT", "n_events", **kw) == events


def test_serious_teaes_against_published(data) -> None:
    # Atorus 14-5.02: any 0 | 1 (1.2%) [1] | 2 (2.4%) [2]; NERVOUS SYSTEM DISORDERS the same;
    # PARTIAL SEIZURES WITH SECONDARY GENERALISATION 0 | 0 | 1 [1]; SYNCOPE 0 | 1 [1] | 1 [1]
    ser = safety_ae.ae_serious(data)
    expect = {("TRTEMFL", "Y", None): (0, 1, 2),
              ("AEBODSYS", "NERVOUS SYSTEM DISORDERS", None): (0, 1, 2),
              ("AEDECOD", "PARTIAL SEIZURES WITH SECONDARY GENERALISATION",
               "NERVOUS SYSTEM DISORDERS"): (0, 0, 1),
              ("AEDECOD", "SYNCOPE", "NERVOUS SYSTEM DISORDERS"): (0, 1, 1)}
    for (var, level, soc), counts in expect.items():
        for arm, n in zip(ARMS, counts, strict=True):
            extra = {"AEBODSYS": soc} if soc else {}
            assert lookup(ser, "SAF-AESER", "n", variable=var, variable_level=level, TRTA=arm,
                          **extra) == n
            assert lookup(ser, "SAF-AESER", "n_events", variable=var, variable_level=level,
                          TRTA=arm, **extra) == n


def test_every_soc_pt_cell_against_plain_pandas(socpt) -> None:
    raw = pd.read_sas(PILOT / "adae.xpt", encoding="latin1")
    te = raw[raw["TRTEMFL"].str.strip() == "Y"]
    for key in ("AEBODSYS", "AEDECOD"):
        te = te.assign(**{key: te[key].str.strip()})
    ref_pt = te.groupby(["TRTA", "AEBODSYS", "AEDECOD"]).agg(
        n=("USUBJID", "nunique"), e=("USUBJID", "size"))
    ref_soc = te.groupby(["TRTA", "AEBODSYS"]).agg(n=("USUBJID", "nunique"),
                                                   e=("USUBJID", "size"))
    pts = socpt[(socpt["variable"] == "AEDECOD") & (socpt["stat_name"].isin(["n", "n_events"]))]
    got = pts.pivot_table(index=["group1_level", "group2_level", "variable_level"],
                          columns="stat_name", values="stat")
    got = got[got["n"] > 0]
    got.index.names = ["TRTA", "AEBODSYS", "AEDECOD"]
    joined = ref_pt.rename(columns={"n": "ref_n", "e": "ref_e"}).join(got, how="outer")
    assert len(joined) == len(ref_pt) == len(got)
    assert (joined["ref_n"] == joined["n"]).all()
    assert (joined["ref_e"] == joined["n_events"]).all()
    socs = socpt[(socpt["variable"] == "AEBODSYS") & (socpt["stat_name"] == "n")]
    for (arm, soc), row in ref_soc.iterrows():
        hit = socs[(socs["group1_level"] == arm) & (socs["variable_level"] == soc)]
        assert hit["stat"].tolist() == [row["n"]]


# Atorus 14-6.01, ALANINE AMINOTRANSFERASE: per arm (N, mean, SD) of the value and (mean, SD)
# of the change, by visit (Placebo | Low | High)
ALT = {
    "Baseline": [(86, 17.6, 9.22, None), (82, 18.0, 8.72, None), (84, 19.2, 10.05, None)],
    "Week 2": [(83, 18.0, 12.53, (0.2, 7.90)), (80, 20.9, 10.55, (2.8, 8.18)),
               (78, 21.0, 8.87, (1.6, 6.83))],
    "Week 4": [(79, 18.7, 12.91, (0.7, 8.66)), (72, 17.5, 7.66, (-0.7, 5.08)),
               (72, 21.3, 9.51, (2.1, 7.08))],
    "Week 8": [(72, 16.7, 9.34, (-1.1, 5.05)), (60, 17.6, 7.86, (0.2, 5.45)),
               (56, 22.8, 17.49, (3.2, 17.24))],
    "Week 20": [(65, 16.1, 6.56, (-1.9, 7.49)), (30, 16.7, 6.33, (0.9, 4.77)),
                (31, 19.6, 6.82, (-0.3, 8.63))],
}


def test_lab_summary_alt_against_published(data) -> None:
    ard = safety_lab.lab_summary(data)
    for visit, per_arm in ALT.items():
        for arm, (n, mean, sd, chg) in zip(ARMS, per_arm, strict=True):
            g = {"TRTA": arm, "PARAMCD": "ALT", "AVISIT": visit}
            assert lookup(ard, "SAF-LBSUM", "n", variable="AVAL", **g) == n
            assert lookup(ard, "SAF-LBSUM", "mean", variable="AVAL", **g) == pytest.approx(
                mean, abs=0.05)
            assert lookup(ard, "SAF-LBSUM", "sd", variable="AVAL", **g) == pytest.approx(
                sd, abs=0.005)
            if chg is not None:
                assert lookup(ard, "SAF-LBSUM", "mean", variable="CHG", **g) == pytest.approx(
                    chg[0], abs=0.05)
                assert lookup(ard, "SAF-LBSUM", "sd", variable="CHG", **g) == pytest.approx(
                    chg[1], abs=0.005)
    # the pilot's derived "change relative to the normal range" records are not summarised
    assert not ard["group2_level"].str.startswith("_").any()
    # the pilot's bilirubin and calcium codes are graded by the default CTCAE mapping
    assert set(data.lab.loc[data.lab["ATOXTERM"] != "", "PARAMCD"]) >= {"BILI", "CA", "ALT"}
