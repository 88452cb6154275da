"""AE analyses (SAF-AEOV, -AESOCPT, -AEGRADE, -AEREL, -AESER, -AESESS) on a study counted by hand.

The study is tests/safety_fixtures.py; every expected count below is worked out from its
comments, and the SOC/PT counts are also recounted with plain pandas straight from the raw
records. Clopper-Pearson limits are R's ``binom.test(x, 10)$conf.int`` (R >= 3, 7 significant
digits); Poisson limits are R's ``poisson.test(10, 1)$conf.int = 4.795389 18.390356`` and
``poisson.test(0, 1)$conf.int = 0 3.688879``, scaled to 100 sessions.
"""

from __future__ import annotations

import pandas as pd
import pytest

import safety_fixtures as fx
from msc_analysis.analyses import safety_ae
from msc_analysis.analyses.safety_data import prepare_safety
from msc_analysis.ard import lookup
from msc_analysis.io.issues import DataIssues
from msc_analysis.render.safety_tables import ae_overview_table, ae_soc_pt_table, soc_pt_order

# R: binom.test(x, 10)$conf.int
R_BINOM_10 = {0: (0.0, 0.3084971), 1: (0.002528579, 0.4450161), 2: (0.02521073, 0.5560955),
              4: (0.1215523, 0.7376219), 5: (0.187086, 0.812914)}


@pytest.fixture(scope="module")
def prepared():  # type: ignore[no-untyped-def]
    issues = DataIssues()
    data = prepare_safety(fx.study(), fx.sap(), issues)
    return data, issues


def n_of(ard: pd.DataFrame, aid: str, variable: str, level: str = "", **groups: str) -> float:
    return lookup(ard, aid, "n", variable=variable, variable_level=level, **groups)


def test_teae_flag_window_and_missing_onset(prepared) -> None:
    data, issues = prepared
    ae = data.ae.frame.set_index(["USUBJID", "AESEQ"])
    assert data.ae.teae_source == "derived"
    assert ae.loc[("S05", 1.0), "TRTEMFL"] == ""   # before the first session
    assert ae.loc[("S06", 1.0), "TRTEMFL"] == ""   # 29 days after the last session
    assert ae.loc[("S07", 1.0), "TRTEMFL"] == "Y"  # within 28 days
    assert ae.loc[("S04", 1.0), "TRTEMFL"] == "Y"  # no onset date: conservative
    assert "S11" not in set(data.ae.frame["USUBJID"])
    found = issues.frame()
    assert {"missing-onset-date", "missing-grade", "missing-relationship",
            "not-in-safety-set"} <= set(found["rule"])
    onset = found[found["rule"] == "missing-onset-date"].iloc[0]
    assert (onset["usubjid"], onset["file"], onset["row"]) == ("S04", "adae.csv", "6")


def test_trtemfl_in_the_data_is_used_as_given() -> None:
    ae = fx.adae()
    ae["TRTEMFL"] = ["Y", "", "Y", "Y", "Y", "Y", "Y", "Y", "", "Y"]
    data = prepare_safety(fx.study(adae=ae), fx.sap())
    frame = data.ae.frame.set_index(["USUBJID", "AESEQ"])
    assert data.ae.teae_source == "data"
    assert frame.loc[("S01", 2.0), "TRTEMFL"] == ""   # as given, although within the window
    assert frame.loc[("S05", 1.0), "TRTEMFL"] == "Y"  # as given, although before the start


def test_overview_counts_and_clopper_pearson(prepared) -> None:
    data, _ = prepared
    ard = safety_ae.ae_overview(data)
    expected = {  # variable: (subjects, events), counted by hand from the fixture
        "TEAE": (5, 7), "TEAE_REL_AERELDEV": (1, 1), "TEAE_REL_AERELMSC": (2, 2),
        "TEAE_REL_AERELPRC": (2, 2), "TEAE_REL_ANY": (4, 5), "TEAE_GR3": (2, 2),
        "TEAE_SER": (2, 2), "TEAE_SER_AESHOSP": (1, 1), "TEAE_SER_AESDTH": (1, 1),
        "TEAE_SER_AESLIFE": (0, 0), "TEAE_INTR": (0, 0), "TEAE_STOP": (1, 1),
        "TEAE_FATAL": (1, 1),
    }
    for variable, (n, events) in expected.items():
        assert n_of(ard, "SAF-AEOV", variable) == n, variable
        assert lookup(ard, "SAF-AEOV", "n_events", variable=variable) == events, variable
        assert lookup(ard, "SAF-AEOV", "N", variable=variable) == 10
        assert lookup(ard, "SAF-AEOV", "pct", variable=variable) == pytest.approx(10.0 * n)
        low, high = R_BINOM_10[n]
        assert lookup(ard, "SAF-AEOV", "conf_low", variable=variable) == pytest.approx(
            low, rel=1e-6, abs=1e-12)
        assert lookup(ard, "SAF-AEOV", "conf_high", variable=variable) == pytest.approx(
            high, rel=1e-6)
    assert lookup(ard, "SAF-AEOV", "N", variable="SAFFL") == 10
    table = ae_overview_table(ard, data.sap)
    first = table.rows[0]
    assert first.label == "Any TEAE"
    assert first.text("c0_n") == "5 (50.0)" and first.text("c0_ci") == "(18.7, 81.3)"
    assert first.text("c0_e") == "7"
    assert table.columns[0].header == "All subjects\nN = 10\nn (%)"


def _independent_soc_pt() -> pd.DataFrame:
    """Subjects and events per SOC/PT recounted with plain pandas from the raw records."""
    ae = fx.adae()
    te = ae[(ae["USUBJID"] != "S11") & (
        ae["ASTDT"].isna() | ((ae["ASTDT"] >= "2025-01-10") & (ae["ASTDT"] <= "2025-02-11")))]
    return te.groupby(["AEBODSYS", "AEDECOD"]).agg(n=("USUBJID", "nunique"),
                                                   events=("USUBJID", "size"))


def test_soc_pt_counts_against_independent_count(prepared) -> None:
    data, _ = prepared
    ard = safety_ae.ae_by_soc_pt(data)
    ref = _independent_soc_pt()
    assert len(ref) == 4
    for (soc, pt), row in ref.iterrows():
        assert n_of(ard, "SAF-AESOCPT", "AEDECOD", pt, AEBODSYS=soc) == row["n"]
        assert lookup(ard, "SAF-AESOCPT", "n_events", variable="AEDECOD", variable_level=pt,
                      AEBODSYS=soc) == row["events"]
    # by hand: hypotension S01 (twice) and S04 -> 2 subjects, 3 events
    assert n_of(ard, "SAF-AESOCPT", "AEBODSYS", fx.VASC) == 2
    assert lookup(ard, "SAF-AESOCPT", "n_events", variable="AEBODSYS",
                  variable_level=fx.VASC) == 3
    assert n_of(ard, "SAF-AESOCPT", "TRTEMFL", "Y") == 5
    # the pre-treatment nausea is nowhere
    assert not (ard["variable_level"] == "Nausea").any()


def test_sort_order_ties_broken_alphabetically(prepared) -> None:
    data, _ = prepared
    ard = safety_ae.ae_by_soc_pt(data)
    # General (2 subjects, 2 events) and Vascular (2 subjects, 3 events) tie on subjects:
    # alphabetical, events do not count; then Infections and Skin (1 each), alphabetical
    order = soc_pt_order(ard, "SAF-AESOCPT")
    assert [soc for soc, _ in order] == [fx.GEN, fx.VASC, fx.INF, fx.SKIN]
    table = ae_soc_pt_table(ard, data.sap, "SAF-AESOCPT")
    labels = [r.label for r in table.rows]
    assert labels == ["Subjects with at least one event", fx.GEN, "Pyrexia", fx.VASC,
                      "Hypotension", fx.INF, "Sepsis", fx.SKIN, "Urticaria"]
    # every number in the table traces to exactly the ARD rows it shows
    hyp = table.data[(table.data["row_label"] == "Hypotension") & (table.data["column"] == "c0_n")]
    assert hyp["stat_name"].tolist() == ["n", "pct"] and hyp["stat"].tolist() == [2.0, 20.0]


def test_ties_in_preferred_terms() -> None:
    rows = []
    for soc, pt, n in ((fx.GEN, "Zeta", 2), (fx.GEN, "alpha", 2), (fx.GEN, "Beta", 3)):
        rows.append({"analysis_id": "X", "group1": "AEBODSYS", "group1_level": soc,
                     "variable": "AEDECOD", "variable_level": pt, "stat_name": "n", "stat": n})
    rows.append({"analysis_id": "X", "group1": "", "group1_level": "", "variable": "AEBODSYS",
                 "variable_level": fx.GEN, "stat_name": "n", "stat": 5})
    frame = pd.DataFrame(rows).fillna("")
    frame["group2"] = ""
    # descending subjects, then case-insensitive alphabetical
    assert soc_pt_order(frame, "X") == [(fx.GEN, ["Beta", "alpha", "Zeta"])]


def test_related_and_serious_tables(prepared) -> None:
    data, _ = prepared
    rel = safety_ae.ae_related(data)
    # related to device, MSC or procedure: S01 (both hypotensions), S02, S03, S04
    assert n_of(rel, "SAF-AEREL", "TRTEMFL", "Y") == 4
    assert lookup(rel, "SAF-AEREL", "n_events", variable="TRTEMFL", variable_level="Y") == 5
    assert n_of(rel, "SAF-AEREL", "AEDECOD", "Hypotension", AEBODSYS=fx.VASC) == 2
    assert not (rel["variable_level"] == "Sepsis").any()
    ser = safety_ae.ae_serious(data)
    assert n_of(ser, "SAF-AESER", "TRTEMFL", "Y") == 2
    assert n_of(ser, "SAF-AESER", "AEDECOD", "Sepsis", AEBODSYS=fx.INF) == 1
    assert n_of(ser, "SAF-AESER", "AEDECOD", "Pyrexia", AEBODSYS=fx.GEN) == 1


def test_maximum_grade_table(prepared) -> None:
    data, _ = prepared
    ard = safety_ae.ae_by_grade(data)

    def g(variable: str, level: str, grade: str, **extra: str) -> float:
        return n_of(ard, "SAF-AEGRADE", variable, level, MAXGRADE=grade, **extra)

    # any TEAE: S04 max 1, S02 max 2, S01 max 3, S07 5, S03 no grade
    assert [g("TRTEMFL", "Y", k) for k in ("1", "2", "3", "4", "5", "Missing", "Any")] == [
        1, 1, 1, 0, 1, 1, 5]
    # hypotension: S01 grades 2 and 3 -> 3; S04 -> 1
    assert [g("AEDECOD", "Hypotension", k, AEBODSYS=fx.VASC) for k in ("1", "2", "3")] == [
        1, 0, 1]
    assert g("AEDECOD", "Urticaria", "Missing", AEBODSYS=fx.SKIN) == 1
    assert g("AEBODSYS", fx.GEN, "2") == 1 and g("AEBODSYS", fx.GEN, "1") == 1


def test_by_group_columns_and_denominators() -> None:
    data = prepare_safety(fx.study(), fx.sap(), by="TRTA")
    assert data.groups == ("ARM A", "ARM B") and data.denominators == {"ARM A": 5, "ARM B": 5}
    ard = safety_ae.ae_overview(data)
    assert n_of(ard, "SAF-AEOV", "TEAE", TRTA="ARM A") == 4      # S01-S04
    assert n_of(ard, "SAF-AEOV", "TEAE", TRTA="ARM B") == 1      # S07
    assert lookup(ard, "SAF-AEOV", "pct", variable="TEAE", TRTA="ARM A") == 80.0
    assert lookup(ard, "SAF-AEOV", "N", variable="SAFFL", TRTA="ARM B") == 5
    table = ae_overview_table(ard, data.sap)
    assert [c.header.split("\n")[0] for c in table.columns][::3] == ["ARM A", "ARM B"]


def test_session_level_aes(prepared) -> None:
    data, _ = prepared
    ard = safety_ae.ae_sessions(data)

    def s(stat: str, k: str) -> float:
        return lookup(ard, "SAF-AESESS", stat, variable="AE_SESSION", SESSNUM=k)

    # session 1: S01 hypotension (day 10) and pyrexia (day 11), S03 urticaria (day 11)
    assert (s("n_sessions", "1"), s("n", "1"), s("n_events", "1")) == (10, 2, 3)
    # session 2: S01 hypotension (day 12), S02 pyrexia (day 13, within 24 h of day 12)
    assert (s("n", "2"), s("n_events", "2")) == (2, 2)
    assert (s("n", "3"), s("n_events", "3")) == (0, 0)
    assert (s("n_sessions", "All"), s("n", "All"), s("n_events", "All")) == (30, 3, 5)
    assert s("rate", "1") == pytest.approx(30.0)
    # R: poisson.test(0, 1)$conf.int upper 3.688879 -> per 100 sessions over 10 sessions
    assert s("conf_low", "3") == 0.0
    assert s("conf_high", "3") == pytest.approx(100 * 3.688879 / 10, rel=1e-6)


def test_poisson_rate_per_100_sessions_against_r() -> None:
    # 10 subjects x 10 sessions, one AE the day after each subject's first session:
    # 10 events in 100 sessions; R poisson.test(10, 1)$conf.int = 4.795389 18.390356
    adsl = fx.adsl().iloc[:10]
    ex = []
    for subj in adsl["USUBJID"]:
        for k in range(1, 11):
            start = pd.Timestamp("2025-01-10T09:00") + pd.Timedelta(days=2 * (k - 1))
            ex.append({"USUBJID": subj, "SESSNUM": float(k), "ASTDTM": start,
                       "AENDTM": start + pd.Timedelta(hours=4)})
    ae = pd.DataFrame([fx._ae(s, 1, "Pyrexia", fx.GEN, "2025-01-11", "1")
                       for s in adsl["USUBJID"]])
    data = prepare_safety(fx.study(adsl=adsl, adae=ae, adex=pd.DataFrame(ex)), fx.sap())
    ard = safety_ae.ae_sessions(data)
    low = lookup(ard, "SAF-AESESS", "conf_low", variable="AE_SESSION", SESSNUM="All")
    high = lookup(ard, "SAF-AESESS", "conf_high", variable="AE_SESSION", SESSNUM="All")
    assert lookup(ard, "SAF-AESESS", "rate", variable="AE_SESSION", SESSNUM="All") == 10.0
    assert low == pytest.approx(4.795389, rel=1e-6)
    assert high == pytest.approx(18.390356, rel=1e-6)


def test_subject_without_aes_and_study_without_adae() -> None:
    data = prepare_safety(fx.study(adae=None), fx.sap())
    ard = safety_ae.ae_overview(data)
    assert n_of(ard, "SAF-AEOV", "TEAE") == 0
    assert lookup(ard, "SAF-AEOV", "N", variable="TEAE") == 10
    soc = safety_ae.ae_by_soc_pt(data)
    assert n_of(soc, "SAF-AESOCPT", "TRTEMFL", "Y") == 0


def test_worst_grade_per_subject_and_term() -> None:
    from msc_analysis.derive.teae import derive_ae_grade, worst_grade

    ae, source, label = derive_ae_grade(fx.adae())
    assert (source, label) == ("ATOXGR", "CTCAE grade")
    worst = worst_grade(ae).set_index(["USUBJID", "AEBODSYS", "AEDECOD"])["WORSTGRN"]
    assert worst[("S01", fx.VASC, "Hypotension")] == 3.0    # grades 2 and 3
    assert pd.isna(worst[("S03", fx.SKIN, "Urticaria")])     # no grade
    sev = fx.adae().drop(columns="ATOXGR").assign(AESEV="MODERATE")
    _, source, label = derive_ae_grade(sev)
    assert (source, label) == ("AESEV", "Severity")


def test_unknown_relationship_value_is_an_error() -> None:
    from msc_analysis.derive.teae import derive_relationship
    from msc_analysis.errors import DataError

    ae = fx.adae()
    ae.loc[0, "AERELDEV"] = "MAYBE"
    with pytest.raises(DataError, match=r"AERELDEV.*MAYBE"):
        derive_relationship(ae)
    # as loaded: the message names the file, the data row, the variable and the rule
    ae["_file"], ae["_row"] = "adae.csv", range(1, len(ae) + 1)
    ae.loc[2, "AERELDEV"] = "MAYBE"
    with pytest.raises(DataError, match=r"^adae.csv data row 1: variable AERELDEV, rule "
                                        r"relationship-term: 'MAYBE' .*\(2 record\(s\)"):
        derive_relationship(ae)
    # the pilot's single AEREL with its own terms
    pilot = pd.DataFrame({"USUBJID": ["A", "B", "C", "D"],
                          "AEREL": ["PROBABLE", "POSSIBLE", "REMOTE", "NONE"]})
    out, used = derive_relationship(pilot)
    assert used == ("AEREL",) and out["RELANYFL"].tolist() == ["Y", "Y", "", ""]


def test_session_attribution_with_onset_times() -> None:
    from msc_analysis.derive.teae import attribute_to_sessions

    ex = fx.adex()
    ae = pd.DataFrame({"USUBJID": ["S01", "S01", "S01"],
                       # session 1 ends 2025-01-10T13:00: +23 h is within 24 h, +25 h is not;
                       # the third AE starts during session 2
                       "ASTDTM": pd.to_datetime(["2025-01-11T12:00", "2025-01-11T14:00",
                                                 "2025-01-12T10:00"]),
                       "ASTDT": pd.to_datetime(["2025-01-11", "2025-01-11", "2025-01-12"])})
    got = attribute_to_sessions(ae, ex, hours=24)["ASESSNUM"].tolist()
    assert got[0] == 1.0 and pd.isna(got[1]) and got[2] == 2.0
