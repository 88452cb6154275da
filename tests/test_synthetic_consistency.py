"""Internal consistency of a simulated study: schema, keys, ranges, dates and cross-dataset rules.

Checked on a 2,000-subject study (for coverage of rare events) and on the committed default study.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from msc_analysis.io.schema import (
    LAB_PARAMETERS,
    SCHEMAS,
    SCREENING_LOG,
    VS_PARAMETERS,
    DatasetSchema,
)
from msc_analysis.synthetic import SimulationSettings, simulate

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def big() -> dict[str, pd.DataFrame]:
    return simulate(SimulationSettings(n_subjects=2000, seed=20240423))


def _schema(name: str) -> DatasetSchema:
    return SCREENING_LOG if name == "screening_log" else SCHEMAS[name.upper()]


def test_columns_in_declared_order(big: dict[str, pd.DataFrame]) -> None:
    for name, frame in big.items():
        assert list(frame.columns) == list(_schema(name).names), name


def test_keys_unique_and_subjects_known(big: dict[str, pd.DataFrame]) -> None:
    subjects = set(big["adsl"]["USUBJID"])
    for name, frame in big.items():
        schema = _schema(name)
        assert not frame.duplicated(list(schema.keys)).any(), name
        if name not in ("adsl", "screening_log"):
            assert set(frame["USUBJID"].astype(str)) <= subjects, name


def test_values_within_schema_rules(big: dict[str, pd.DataFrame]) -> None:
    for name, frame in big.items():
        for var in _schema(name).variables:
            col = frame[var.name]
            if var.allowed is not None:
                values = set(col.astype(str).replace("nan", "").unique())
                assert values <= set(var.allowed) | {""}, (name, var.name, values)
            if var.type in ("num", "int"):
                x = pd.to_numeric(col).dropna()
                if var.minimum is not None:
                    assert (x >= var.minimum).all(), (name, var.name)
                if var.maximum is not None:
                    assert (x <= var.maximum).all(), (name, var.name)
                if var.strictly_positive:
                    assert (x > 0).all(), (name, var.name)
                if var.type == "int":
                    assert (x == np.round(x)).all(), (name, var.name)


def test_all_parameters_present_with_ranges(big: dict[str, pd.DataFrame]) -> None:
    adlb = big["adlb"]
    assert set(adlb["PARAMCD"].astype(str)) == set(LAB_PARAMETERS)
    for code, (label, unit) in LAB_PARAMETERS.items():
        rows = adlb[adlb["PARAMCD"] == code]
        assert (rows["PARAM"] == label).all() and (rows["AVALU"] == unit).all()
        assert rows["ANRLO"].notna().all() and rows["ANRHI"].notna().all()
        assert (rows["ANRLO"] < rows["ANRHI"]).all()
    assert set(big["advs"]["PARAMCD"].astype(str)) == set(VS_PARAMETERS)
    # the assay limits of the cytokines (brief section 2: Elecsys IL-6 1.5 pg/mL)
    lloq = adlb.groupby("PARAMCD", observed=True)["LLOQ"].first().dropna().to_dict()
    assert lloq == {"IL6": 1.5, "TNFA": 4.0, "CRP": 3.0}


def test_below_lloq_convention(big: dict[str, pd.DataFrame]) -> None:
    adlb = big["adlb"]
    blq = adlb[adlb["BLQFL"] == "Y"]
    assert len(blq) > 50
    assert blq["AVAL"].isna().all()
    assert (blq["LBORRES"] == "<" + blq["LLOQ"].map(lambda v: f"{v:.1f}")).all()
    rest = adlb[adlb["BLQFL"] != "Y"]
    assert rest["AVAL"].notna().all()
    quant = rest[rest["LLOQ"].notna()]
    assert (quant["AVAL"] >= quant["LLOQ"]).all()
    # LBORRES is the reported result (SI except the screening mg/dL results)
    si = rest[rest["LBORRESU"] == rest["AVALU"]]
    assert np.allclose(si["LBORRES"].astype(float), si["AVAL"])


def test_schedule_and_visits(big: dict[str, pd.DataFrame]) -> None:
    adlb, adsl = big["adlb"], big["adsl"]
    visits = set(adlb["AVISIT"].astype(str))
    assert {"Screening", "Baseline", "Session 1", "Session 3", "Day 7", "Day 14",
            "Day 28"} <= visits
    sess = adlb[adlb["AVISIT"].astype(str).str.startswith("Session")]
    assert set(sess["ATPT"].astype(str)) == {"PRE", "POST"}
    k = sess["AVISIT"].astype(str).str.split().str[1].astype(float)
    assert (k == sess["SESSNUM"]).all() and (sess["AVISITN"] == 100 + k).all()
    other = adlb[~adlb.index.isin(sess.index)]
    assert (other["ATPT"] == "").all() and other["SESSNUM"].isna().all()
    # study days: follow-up visits at their target day (+- window), relative to TRTSDT
    fu = adlb[adlb["AVISIT"].isin(["Day 7", "Day 14", "Day 28"])]
    assert ((fu["ADY"] - fu["AVISITN"]).dropna().abs() <= 2).all()
    assert (adlb.loc[adlb["AVISIT"] == "Day 7", "ADY"].dropna() == 7).all()
    scr = adlb[adlb["AVISIT"] == "Screening"]
    assert scr["ADY"].dropna().between(-4, -2).all()
    # ADT is the date of ADTM; rows sorted by subject, parameter, time
    assert (adlb["ADT"] == adlb["ADTM"].dt.normalize()).all()
    for _, rows in adlb.groupby(["USUBJID", "PARAMCD"], observed=True):
        assert rows["ADTM"].is_monotonic_increasing
        break
    subjects_in_order = adlb["USUBJID"].astype(str).drop_duplicates().tolist()
    assert subjects_in_order == [s for s in adsl["USUBJID"] if s in set(subjects_in_order)]


def test_sample_times_relative_to_sessions(big: dict[str, pd.DataFrame]) -> None:
    adlb, adex = big["adlb"], big["adex"]
    sess = adlb[adlb["ATPT"].isin(["PRE", "POST"])].merge(
        adex[["USUBJID", "SESSNUM", "ASTDTM", "AENDTM"]].astype({"USUBJID": str}),
        left_on=[adlb.loc[adlb["ATPT"].isin(["PRE", "POST"]), "USUBJID"].astype(str),
                 "SESSNUM"], right_on=["USUBJID", "SESSNUM"], how="left")
    assert sess["ASTDTM"].notna().all()  # every session sample belongs to a session started
    pre = sess[sess["ATPT"] == "PRE"]
    post = sess[sess["ATPT"] == "POST"]
    assert (pre["ADTM"] < pre["ASTDTM"]).all()
    assert (pre["ASTDTM"] - pre["ADTM"] <= pd.Timedelta(minutes=30)).all()
    assert (post["ADTM"] > post["AENDTM"]).all()
    assert (post["ADTM"] - post["AENDTM"] <= pd.Timedelta(minutes=30)).all()


def test_missed_samples_are_absent_rows(big: dict[str, pd.DataFrame]) -> None:
    adlb = big["adlb"]
    quantified = adlb[adlb["BLQFL"] != "Y"]
    assert quantified["AVAL"].notna().all()
    assert (adlb["LBORRES"] != "").all()
    # some scheduled session samples are missing (missed_sample_prob 3%)
    per_sample = adlb[adlb["PARAMCD"] == "SODIUM"].groupby(
        ["USUBJID", "AVISIT", "ATPT"], observed=True).size()
    n_sessions = big["adex"].shape[0]
    sess_samples = per_sample.reset_index()
    n_post = (sess_samples["ATPT"] == "POST").sum()
    assert 0.9 * n_sessions < n_post < n_sessions


def test_dates_in_order(big: dict[str, pd.DataFrame]) -> None:
    adsl = big["adsl"]
    assert (adsl["RFICDT"] < adsl["ENRLDT"]).all()
    treated = adsl[adsl["SAFFL"] == "Y"]
    assert (treated["ENRLDT"] < treated["TRTSDT"]).all()
    assert (treated["TRTSDT"] <= treated["TRTEDT"]).all()
    assert (treated["TRTEDT"] <= treated["LSTALVDT"]).all()
    assert (adsl["ENRLDT"] <= adsl["LSTALVDT"]).all()
    assert (adsl["RFICDT"] >= pd.Timestamp("2024-04-23")).all()
    assert adsl["RFICDT"].is_monotonic_increasing
    dead = adsl[adsl["DTHFL"] == "Y"]
    assert (dead["DTHDT"] == dead["LSTALVDT"]).all()
    tx = adsl[adsl["LTXFL"] == "Y"]
    assert (tx["LTXDT"] <= tx["LSTALVDT"]).all() and (tx["LTXDT"] >= tx["ENRLDT"]).all()
    adae = big["adae"]
    closed = adae[adae["AENDT"].notna()]
    assert (closed["ASTDT"] <= closed["AENDT"]).all()
    adex = big["adex"]
    assert (adex["ASTDTM"] < adex["AENDTM"]).all()
    assert np.allclose((adex["AENDTM"] - adex["ASTDTM"]).dt.total_seconds() / 60, adex["EXDUR"])
    # no data after death, transplant or last contact
    last = adsl.set_index("USUBJID")[["LSTALVDT", "LTXDT", "RFICDT"]]
    for name in ("adlb", "advs"):
        frame = big[name]
        stop = frame["USUBJID"].astype(str).map(last["LSTALVDT"])
        ltx = frame["USUBJID"].astype(str).map(last["LTXDT"])
        assert (frame["ADTM"].dt.normalize() <= stop).all(), name
        assert ((frame["ADTM"].dt.normalize() <= ltx) | ltx.isna()).all(), name
        start = frame["USUBJID"].astype(str).map(last["RFICDT"])
        assert (frame["ADTM"].dt.normalize() >= start).all(), name
    ae_last = adae["USUBJID"].map(last["LSTALVDT"])
    assert (adae["ASTDT"] <= ae_last).all()


def test_adsl_agrees_with_adex(big: dict[str, pd.DataFrame]) -> None:
    adsl, adex = big["adsl"].set_index("USUBJID"), big["adex"]
    counts = adex.groupby("USUBJID").size().reindex(adsl.index, fill_value=0)
    assert (counts == adsl["NSESS"]).all()
    first = adex.groupby("USUBJID")["ASTDTM"].min().dt.normalize()
    last = adex.groupby("USUBJID")["ASTDTM"].max().dt.normalize()
    assert (first == adsl.loc[first.index, "TRTSDT"]).all()
    assert (last == adsl.loc[last.index, "TRTEDT"]).all()
    assert ((adsl["NSESS"] > 0) == (adsl["SAFFL"] == "Y")).all()
    assert adsl.loc[adsl["NSESS"] == 0, "TRTSDT"].isna().all()
    # sessions numbered 1..NSESS without gaps
    seq = adex.groupby("USUBJID")["SESSNUM"].agg(["min", "max", "size"])
    assert (seq["min"] == 1).all() and (seq["max"] == seq["size"]).all()
    assert (adsl["NSESS"] <= 3).all() and (adsl["TRT01A"] == "MSC-ALSS").all()
    assert (adsl["ENRLFL"] == "Y").all()


def test_analysis_set_flags(big: dict[str, pd.DataFrame]) -> None:
    adsl, adlb, adex = big["adsl"], big["adlb"], big["adex"]
    tb = adlb[(adlb["PARAMCD"] == "TBIL") & adlb["ATPT"].isin(["PRE", "POST"])
              & adlb["AVAL"].notna()]
    pairs = tb.groupby([tb["USUBJID"].astype(str), "SESSNUM"])["ATPT"].nunique()
    fas_subjects = set(pairs[pairs == 2].index.get_level_values(0))
    assert set(adsl.loc[adsl["FASFL"] == "Y", "USUBJID"]) == fas_subjects
    stopped = set(adex.loc[adex["SESSSTAT"] == "STOPPED", "USUBJID"])
    pp = adsl[adsl["PPROTFL"] == "Y"]
    assert (pp["FASFL"] == "Y").all() and (pp["NSESS"] == 3).all()
    assert not set(pp["USUBJID"]) & stopped
    assert ((adsl["FASFL"] == "Y") <= (adsl["SAFFL"] == "Y")).all()


def test_disposition(big: dict[str, pd.DataFrame]) -> None:
    adsl = big["adsl"]
    dead = adsl["DTHFL"] == "Y"
    assert (adsl.loc[dead, "DCSREAS"] == "DEATH").all()
    assert adsl.loc[dead, "DTHDT"].notna().all() and adsl.loc[~dead, "DTHDT"].isna().all()
    tx = adsl["LTXFL"] == "Y"
    assert adsl.loc[tx, "LTXDT"].notna().all() and adsl.loc[~tx, "LTXDT"].isna().all()
    assert ((adsl["EOSSTT"] == "COMPLETED") == (adsl["DCSREAS"] == "")).all()
    assert set(adsl["DCSREAS"]) <= {"", "DEATH", "WITHDRAWAL BY SUBJECT", "LOST TO FOLLOW-UP"}
    done = adsl[adsl["EOSSTT"] == "COMPLETED"]
    start = done["TRTSDT"].fillna(done["ENRLDT"])
    assert ((done["LSTALVDT"] - start).dt.days >= 88).all()


def test_deaths_are_grade_5_fatal_events(big: dict[str, pd.DataFrame]) -> None:
    adsl, adae = big["adsl"].set_index("USUBJID"), big["adae"]
    fatal = adae[adae["AEOUT"] == "FATAL"]
    assert (fatal["ATOXGR"] == "5").all() and (fatal["AESDTH"] == "Y").all()
    assert (fatal["AESER"] == "Y").all()
    assert (adae.loc[adae["ATOXGR"] == "5", "AEOUT"] == "FATAL").all()
    assert fatal["USUBJID"].is_unique
    assert set(fatal["USUBJID"]) == set(adsl.index[adsl["DTHFL"] == "Y"])
    assert (fatal["AENDT"].to_numpy() == adsl.loc[fatal["USUBJID"], "DTHDT"].to_numpy()).all()
    assert fatal["AEDECOD"].isin(["Hepatic failure", "Sepsis", "Acute kidney injury",
                                  "Upper gastrointestinal haemorrhage",
                                  "Multiple organ dysfunction syndrome"]).all()


def test_adverse_event_coding_and_flags(big: dict[str, pd.DataFrame]) -> None:
    adae, adsl = big["adae"], big["adsl"].set_index("USUBJID")
    # MedDRA primary SOC of each preferred term is unique
    assert (adae.groupby("AEDECOD")["AEBODSYS"].nunique() == 1).all()
    soc = adae.groupby("AEDECOD")["AEBODSYS"].first()
    assert soc["Hypotension"] == "Vascular disorders"
    assert soc["Anaphylactic reaction"] == "Immune system disorders"
    assert soc["Infusion related reaction"] == "Injury, poisoning and procedural complications"
    assert soc["Upper gastrointestinal haemorrhage"] == "Gastrointestinal disorders"
    assert soc["Device related infection"] == "Infections and infestations"
    assert soc["Hepatic failure"] == "Hepatobiliary disorders"
    serious = adae["AESER"] == "Y"
    crit = adae[["AESDTH", "AESLIFE", "AESHOSP", "AESDISAB", "AESCONG", "AESMIE"]] == "Y"
    assert (crit.any(axis=1) == serious).all()
    assert (adae.loc[~serious, "ATOXGR"].astype(int) <= 4).all()
    # AESEQ 1..n within subject, in onset order
    seq = adae.groupby("USUBJID")["AESEQ"].agg(["min", "max", "size"])
    assert (seq["min"] == 1).all() and (seq["max"] == seq["size"]).all()
    assert adae.groupby("USUBJID")["ASTDT"].apply(lambda s: s.is_monotonic_increasing).all()
    # TRTEMFL: onset from TRTSDT to TRTEDT + 28 days
    trts = adae["USUBJID"].map(adsl["TRTSDT"])
    trte = adae["USUBJID"].map(adsl["TRTEDT"])
    te = (adae["ASTDT"] >= trts) & (adae["ASTDT"] <= trte + pd.Timedelta(days=28))
    assert ((adae["TRTEMFL"] == "Y") == te).all()
    # session of onset exists for the subject
    with_sess = adae[adae["SESSNUM"].notna()]
    assert (with_sess["SESSNUM"] <= with_sess["USUBJID"].map(adsl["NSESS"])).all()
    pre = adae[adae["SESSNUM"].isna()]
    assert ((pre["ASTDT"] <= pre["USUBJID"].map(adsl["TRTSDT"])) | pre["USUBJID"].map(
        adsl["TRTSDT"]).isna()).all()


def test_session_status_agrees_with_ae_actions(big: dict[str, pd.DataFrame]) -> None:
    adae, adex = big["adae"], big["adex"].set_index(["USUBJID", "SESSNUM"])
    intra = adae[adae["AEACN"].isin(["SESSION INTERRUPTED", "SESSION STOPPED"])]
    assert len(intra) > 20
    status = adex.loc[list(zip(intra["USUBJID"], intra["SESSNUM"].astype(int),
                               strict=True)), "SESSSTAT"].to_numpy()
    assert (status[intra["AEACN"].to_numpy() == "SESSION STOPPED"] == "STOPPED").all()
    assert np.isin(status[intra["AEACN"].to_numpy() == "SESSION INTERRUPTED"],
                   ["INTERRUPTED", "STOPPED"]).all()
    # every session stopped or interrupted for an AE names an AE of that session with that action
    by_ae = adex[adex["INTRREAS"].str.startswith("ADVERSE EVENT: ")]
    for (usubjid, k), row in by_ae.iterrows():
        term = row["INTRREAS"].removeprefix("ADVERSE EVENT: ")
        mine = adae[(adae["USUBJID"] == usubjid) & (adae["SESSNUM"] == k)
                    & (adae["AEDECOD"] == term)]
        wanted = ({"SESSION STOPPED", "SESSIONS DISCONTINUED"} if row["SESSSTAT"] == "STOPPED"
                  else {"SESSION INTERRUPTED"})
        assert mine["AEACN"].isin(wanted).any(), (usubjid, k, term)
    assert (adex.loc[adex["SESSSTAT"] == "COMPLETED", "INTRREAS"] == "").all()
    assert (adex.loc[adex["SESSSTAT"] != "COMPLETED", "INTRREAS"] != "").all()
    # an AE that discontinued sessions is followed by no further session
    disc = adae[adae["AEACN"] == "SESSIONS DISCONTINUED"]
    last = big["adex"].groupby("USUBJID")["ASTDTM"].max().dt.normalize()
    last_start = disc["USUBJID"].map(last)
    assert (last_start.isna() | (last_start <= disc["ASTDT"])).all()
    nsess = disc["USUBJID"].map(big["adsl"].set_index("USUBJID")["NSESS"])
    assert (nsess < 3).all()


def test_vital_signs_agree_with_events(big: dict[str, pd.DataFrame]) -> None:
    advs, adae = big["advs"], big["adae"]
    key = ["USUBJID", "SESSNUM"]
    during = advs[(advs["PARAMCD"] == "SYSBP") & (advs["ATPT"] == "DURING")].copy()
    during["USUBJID"] = during["USUBJID"].astype(str)
    hypo = adae[adae["AEDECOD"].isin(["Hypotension", "Anaphylactic reaction"])
                & adae["SESSNUM"].notna() & (adae["AEACN"] != "NOT APPLICABLE")]
    hypo_sessions = set(zip(hypo["USUBJID"], hypo["SESSNUM"], strict=True))
    low = set(zip(*[during.loc[during["AVAL"] < 90, k] for k in key], strict=True))
    assert low == hypo_sessions & set(zip(*[during[k] for k in key], strict=True))
    assert len(low) > 50
    post = advs[(advs["PARAMCD"] == "TEMP") & (advs["ATPT"] == "POST")].copy()
    post["USUBJID"] = post["USUBJID"].astype(str)
    fever = adae[(adae["AEDECOD"] == "Pyrexia") & adae["SESSNUM"].notna()]
    hot = post[post["AVAL"] >= 38.0]
    assert set(zip(hot["USUBJID"], hot["SESSNUM"], strict=True)) == set(
        zip(fever["USUBJID"], fever["SESSNUM"], strict=True))
    # grade of fever from the temperature (CTCAE v5: 38.0-39.0 grade 1, >39.0-40.0 grade 2)
    merged = fever.merge(hot, on=key)
    expected = np.where(merged["AVAL"] > 40.0, 3, np.where(merged["AVAL"] > 39.0, 2, 1))
    assert (merged["ATOXGR"].astype(int) == expected).all()
    assert (advs.loc[advs["PARAMCD"] == "DIABP", "AVAL"].to_numpy()
            < advs.loc[advs["PARAMCD"] == "SYSBP", "AVAL"].to_numpy()).all()


def test_lab_driven_events_match_post_values(big: dict[str, pd.DataFrame]) -> None:
    adae, adlb = big["adae"], big["adlb"]
    # CTCAE v5 (brief section 2): platelets <LLN-75, <75-50, <50-25, <25 x 10^9/L
    cuts = {"Thrombocytopenia": ("PLAT", (125.0, 75.0, 50.0, 25.0)),
            "Blood fibrinogen decreased": ("FIBRINO", (2.0, 1.5, 1.0, 0.5)),
            "Hypocalcaemia": ("CALCIUM", (2.10, 2.0, 1.75, 1.5))}
    for term, (param, thr) in cuts.items():
        ev = adae[adae["AEDECOD"] == term]
        post = adlb[(adlb["PARAMCD"] == param) & (adlb["ATPT"] == "POST")].copy()
        post["USUBJID"] = post["USUBJID"].astype(str)
        merged = ev.merge(post, on=["USUBJID", "SESSNUM"])
        assert len(merged) > 0.8 * len(ev) > 5, term
        grade = sum((merged["AVAL"] < t).astype(int) for t in thr)
        assert (merged["ATOXGR"].astype(int) == grade).all(), term


def test_inr_and_pta_are_two_measurements(big: dict[str, pd.DataFrame]) -> None:
    adlb = big["adlb"]
    wide = adlb[adlb["PARAMCD"].isin(["INR", "PTA"])].pivot_table(
        index=["USUBJID", "ADTM"], columns="PARAMCD", values="AVAL", observed=True).dropna()
    r = np.corrcoef(np.log(wide["INR"]), np.log(wide["PTA"]))[0, 1]
    assert -0.95 < r < -0.7  # strongly but not deterministically related
    # same INR, different PTA: no function maps one onto the other
    spread = wide.groupby("INR")["PTA"].agg(["min", "max", "size"])
    assert ((spread["size"] > 5) & (spread["max"] - spread["min"] >= 5)).any()


def test_exposure_values(big: dict[str, pd.DataFrame]) -> None:
    adex = big["adex"]
    done = adex[adex["SESSSTAT"] == "COMPLETED"]
    assert done["EXDUR"].between(180, 300).all()
    assert done["PLVOL"].between(4000, 8000).all()
    assert adex["MSCDOSE"].between(0.8, 1.2).all()
    assert set(adex["ANTICOAG"]) == {"HEPARIN", "CITRATE"}
    assert (adex.groupby("USUBJID")["ANTICOAG"].nunique() == 1).all()
    stopped = adex[adex["SESSSTAT"] == "STOPPED"]
    assert (stopped["PLVOL"] < stopped["EXDUR"] * 25 * 1.06).all()


def test_default_study_is_consistent() -> None:
    folder = REPO / "data" / "synthetic"
    adsl = pd.read_csv(folder / "adsl.csv", keep_default_na=False, na_values=[""])
    adex = pd.read_csv(folder / "adex.csv", keep_default_na=False, na_values=[""])
    assert len(adsl) == 10 and adsl["USUBJID"].is_unique
    assert (adex.groupby("USUBJID").size().reindex(adsl["USUBJID"], fill_value=0).to_numpy()
            == adsl["NSESS"].to_numpy()).all()
    # the default study shows the events the analyses need: deaths, AEs, BLQ values
    adae = pd.read_csv(folder / "adae.csv", keep_default_na=False, na_values=[""])
    adlb = pd.read_csv(folder / "adlb.csv", keep_default_na=False, na_values=[""])
    assert (adsl["DTHFL"] == "Y").any() and (adae["AESER"] == "Y").any()
    assert (adlb["BLQFL"] == "Y").any()
    assert (adsl["FASFL"] == "Y").sum() >= 8
