"""SAF-MON / SAF-MONBND / SAF-MONOC: the DLT-like event per subject and the ARD rows.

The DLT-like event is the SAP's (sap/sap.toml [monitoring]): serious or CTCAE grade >= 3, and
possibly / probably / definitely related to the device (AERELDEV) or the MSCs (AERELMSC), onset
from the first session to 7 days after the last. In tests/safety_fixtures.py only S02 has one
(serious pyrexia probably related to the MSCs): S01's grade 3 hypotension is related to the
procedure only, S07's fatal sepsis is not related, S04's MSC-related hypotension is grade 1.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

import safety_fixtures as fx
from msc_analysis.analyses.safety_data import prepare_safety
from msc_analysis.analyses.safety_monitoring import (
    dlt_subjects,
    monitoring_after_each_subject,
    monitoring_boundaries,
    monitoring_operating_characteristics,
)
from msc_analysis.ard import lookup
from msc_analysis.render.safety_tables import (
    monitoring_boundaries_table,
    monitoring_oc_table,
    monitoring_table,
)


def test_dlt_like_events_per_subject() -> None:
    ae = fx.adae()
    extra = pd.DataFrame([
        # S05: grade 3, device-related, but 11 days after the last session (window 7 days)
        fx._ae("S05", 2, "Hypotension", fx.VASC, "2025-01-25", "3", dev="POSSIBLY RELATED"),
        # S06: grade 3, device relationship missing (counts as related), within the window
        fx._ae("S06", 2, "Hypotension", fx.VASC, "2025-01-15", "3", dev=""),
    ])
    data = prepare_safety(fx.study(adae=pd.concat([ae, extra], ignore_index=True)), fx.sap())
    subjects = dlt_subjects(data)
    assert subjects["USUBJID"].tolist() == [f"S{i:02d}" for i in range(1, 11)]
    assert subjects.loc[subjects["DLTFL"], "USUBJID"].tolist() == ["S02", "S06"]


def test_monitoring_rows_after_each_subject() -> None:
    data = prepare_safety(fx.study(), fx.sap())
    ard = monitoring_after_each_subject(data)

    def m(stat: str, seq: int) -> float:
        return lookup(ard, "SAF-MON", stat, variable="DLT", SUBJSEQ=str(seq))

    assert [m("n_events", k) for k in range(1, 11)] == [0] + [1] * 9
    assert [m("n", k) for k in range(1, 11)] == list(range(1, 11))
    # Beta(0.3, 2.7) prior: posterior mean after 1 event in 2 subjects = 1.3 / 5
    assert m("post_mean", 2) == pytest.approx(1.3 / 5)
    assert all(m("decision", k) == 0 for k in range(1, 11))
    assert math.isnan(m("boundary", 1)) and m("boundary", 2) == 2
    assert ard.loc[ard["group1"] == "SUBJSEQ", "variable_level"].iloc[0] == "S01"
    table = monitoring_table(ard, data.sap)
    assert [r.text("dec") for r in table.rows] == ["continue"] * 10
    assert table.rows[1].text("x") == "1/2"


def test_boundaries_and_operating_characteristics_rows() -> None:
    sap = fx.sap()
    bnd = monitoring_boundaries(sap=sap)
    assert [lookup(bnd, "SAF-MONBND", "boundary", variable="DLT", NEVAL=str(n))
            for n in range(2, 11)] == [2, 2, 3, 3, 3, 3, 4, 4, 4]
    table = monitoring_boundaries_table(bnd, sap)
    assert table.rows[0].text("bnd") == "no stopping" and table.rows[1].text("bnd") == "2"
    oc = monitoring_operating_characteristics(sap=sap)
    rates = oc.loc[oc["stat_name"] == "prob_stop", "group1_level"].tolist()
    assert rates == [f"{r:g}" for r in sap.monitoring.true_rates]
    for rate in rates:
        sim = lookup(oc, "SAF-MONOC", "prob_stop", variable="STOP", TRUE_RATE=rate)
        mcse = lookup(oc, "SAF-MONOC", "mcse", variable="STOP", TRUE_RATE=rate)
        exact = lookup(oc, "SAF-MONOC", "estimate", variable="STOP_EXACT", TRUE_RATE=rate)
        assert abs(sim - exact) < 4 * mcse + 1e-12
        en = lookup(oc, "SAF-MONOC", "expected_n", variable="N_TREATED", TRUE_RATE=rate)
        en_exact = lookup(oc, "SAF-MONOC", "estimate", variable="N_TREATED_EXACT",
                          TRUE_RATE=rate)
        en_mcse = lookup(oc, "SAF-MONOC", "mcse", variable="N_TREATED", TRUE_RATE=rate)
        assert abs(en - en_exact) < 4 * en_mcse + 1e-12
    assert len(monitoring_oc_table(oc, sap).rows) == len(rates)


def test_monitoring_and_ae_tables_share_one_definition_of_related() -> None:
    # CDISC spellings such as "PROBABLE" are related in the AE tables (derive.teae); the rule
    # counts such an event too, so the tables and the stopping rule cannot disagree.
    ae = fx.adae()
    extra = pd.DataFrame([
        # S06: grade 3, device relationship "PROBABLE", within the 7-day window
        fx._ae("S06", 2, "Hypotension", fx.VASC, "2025-01-15", "3", dev="PROBABLE"),
    ])
    data = prepare_safety(fx.study(adae=pd.concat([ae, extra], ignore_index=True)), fx.sap())
    frame = data.ae.frame
    assert (frame.loc[(frame["USUBJID"] == "S06") & (frame["AESEQ"] == 2),
                      "REL_AERELDEV"] == "Y").all()
    subjects = dlt_subjects(data)
    assert subjects.loc[subjects["DLTFL"], "USUBJID"].tolist() == ["S02", "S06"]


def test_subjects_beyond_the_rule_size_are_listed_not_monitored() -> None:
    import dataclasses as dc

    from msc_analysis.io.issues import DataIssues

    sap = fx.sap()
    small = dc.replace(sap, monitoring=dc.replace(sap.monitoring, max_subjects=6,
                                                  min_subjects=2))
    issues = DataIssues()
    data = prepare_safety(fx.study(), small, issues)
    ard = monitoring_after_each_subject(data)
    rule = ard[(ard["group1"] == "SUBJSEQ") & (ard["variable"] == "DLT")]
    assert rule["group1_level"].astype(int).max() == 6  # ten treated, the rule covers six
    # the other four are outside the rule, not out of sight (SAP 9.2): one row each
    outside = ard[(ard["group1"] == "SUBJSEQ") & (ard["variable"] == "DLT_BEYOND")]
    assert outside["group1_level"].tolist() == ["7", "8", "9", "10"]
    assert outside["variable_level"].tolist() == ["S07", "S08", "S09", "S10"]
    beyond = issues.frame()
    beyond = beyond[beyond["rule"] == "beyond-max-subjects"]
    assert beyond["usubjid"].tolist() == ["S07", "S08", "S09", "S10"]


# --------------------------------------------------------------------------------------------
# Monitoring windows still open at the data cut-off (SAP section 9.1)
# --------------------------------------------------------------------------------------------

CUT = "2025-01-20"


def _window_study():  # type: ignore[no-untyped-def]
    """The fixture study with windows that close before, on and after the cut-off 2025-01-20.

    Window end = TRTEDT + 7 days (first session 2025-01-10 for everyone):
    S01 last session 01-12 -> ends 01-19 (before the cut-off: closed);
    S03 last session 01-13 -> ends 01-20 (on the cut-off: closed, the day is observed);
    S02 ends 01-21 (after) but has the DLT-like serious MSC-related pyrexia of 01-13: closed;
    S07 ends 01-21, died 01-18 (inside the window, before the cut-off): closed;
    S08 ends 01-21, transplanted 01-16: closed;
    S10 ends 01-21, died 01-25 (after the cut-off: not known then): open;
    S04, S05, S06, S09 end 01-21: open (provisional).
    """
    adsl = fx.adsl()
    adsl.loc[adsl["USUBJID"] == "S01", "TRTEDT"] = pd.Timestamp("2025-01-12")
    adsl.loc[adsl["USUBJID"] == "S03", "TRTEDT"] = pd.Timestamp("2025-01-13")
    adsl.loc[adsl["USUBJID"] == "S07", "DTHDT"] = pd.Timestamp("2025-01-18")
    adsl.loc[adsl["USUBJID"] == "S10", ["DTHFL", "DTHDT"]] = ["Y", pd.Timestamp("2025-01-25")]
    adsl["LTXDT"] = pd.to_datetime(["2025-01-16" if s == "S08" else None
                                    for s in adsl["USUBJID"]])
    return fx.study(adsl=adsl)


OPEN = ["S04", "S05", "S06", "S09", "S10"]


def test_window_closed_before_on_after_the_cutoff_event_and_death() -> None:
    from msc_analysis.io.issues import DataIssues

    issues = DataIssues()
    data = prepare_safety(_window_study(), fx.sap(), issues, cutoff=CUT)
    assert data.cutoff == pd.Timestamp(CUT)
    subj = dlt_subjects(data).set_index("USUBJID")
    assert subj.loc["S01", "WINDOW_END"] == pd.Timestamp("2025-01-19")
    assert subj.loc["S03", "WINDOW_END"] == pd.Timestamp("2025-01-20")
    assert subj["WINDOW_REASON"].to_dict() == {
        "S01": "ended", "S02": "event", "S03": "ended", "S04": "open", "S05": "open",
        "S06": "open", "S07": "death", "S08": "transplant", "S09": "open", "S10": "open"}

    ard = monitoring_after_each_subject(data)
    flags = ard[ard["stat_name"] == "window_closed"]
    assert dict(zip(flags["variable_level"], flags["stat"], strict=True)) == {
        s: (0.0 if s in OPEN else 1.0) for s in fx.SUBJECTS[:10]}
    # one window_closed row per subject row, with the same by-variables as its other rows
    assert (flags["group1"] == "SUBJSEQ").all()
    assert flags["group1_level"].tolist() == [str(k) for k in range(1, 11)]
    assert flags.loc[flags["variable_level"] == "S04", "method"].iloc[0] == (
        "window 2025-01-10 to 2025-01-21; cut-off 2025-01-20; window open at the cut-off: "
        "row provisional")
    assert flags.loc[flags["variable_level"] == "S07", "method"].iloc[0].endswith(
        "died before the window ended")

    warn = issues.frame()
    warn = warn[warn["rule"] == "monitoring-window-open"]
    assert warn["usubjid"].tolist() == OPEN
    assert set(warn["severity"]) == {"warning"} and set(warn["source"]) == {"SAF-MON"}
    assert all("closes on 2025-01-21" in m for m in warn["message"])


def test_window_flag_leaves_the_rules_numbers_unchanged() -> None:
    provisional = monitoring_after_each_subject(
        prepare_safety(_window_study(), fx.sap(), cutoff=CUT))
    # default cut-off: the last date in the data (S06's nausea of 2025-02-12): all closed
    final = monitoring_after_each_subject(prepare_safety(_window_study(), fx.sap()))
    assert (final.loc[final["stat_name"] == "window_closed", "stat"] == 1).all()
    rule_rows = [r[r["stat_name"] != "window_closed"].reset_index(drop=True)
                 for r in (provisional, final)]
    pd.testing.assert_frame_equal(*rule_rows)
    # and the numbers are the rule's own: only S02 has the event (hand count)
    assert [lookup(provisional, "SAF-MON", "n_events", variable="DLT", SUBJSEQ=str(k))
            for k in range(1, 11)] == [0] + [1] * 9
    # Beta(0.3, 2.7) prior, 1 event in 10 subjects: posterior mean 1.3 / 13
    assert lookup(provisional, "SAF-MON", "post_mean", variable="DLT",
                  SUBJSEQ="10") == pytest.approx(0.1)


def test_monitoring_table_marks_provisional_rows() -> None:
    data = prepare_safety(_window_study(), fx.sap(), cutoff=CUT)
    ard = monitoring_after_each_subject(data)
    table = monitoring_table(ard, data.sap)
    subjects = [r.text("subject") for r in table.rows]
    assert subjects == [f"{s} (provisional)" if s in OPEN else s for s in fx.SUBJECTS[:10]]
    note = next(f for f in table.footnotes if f.startswith("(provisional)"))
    assert "cut-off 2025-01-20" in note and "7-day monitoring window" in note
    assert ("S04 on 2025-01-21; S05 on 2025-01-21; S06 on 2025-01-21; S09 on 2025-01-21; "
            "S10 on 2025-01-21") in note
    # each marker traces to its subject's window_closed row (value 0); plain ids trace nowhere
    trace = table.data[table.data["column"] == "subject"]
    assert trace["variable_level"].tolist() == OPEN
    assert set(trace["stat_name"]) == {"window_closed"} and (trace["stat"] == 0).all()
    # the other cells are those of the rule, unchanged
    assert [r.text("x") for r in table.rows] == ["0/1"] + [f"1/{k}" for k in range(2, 11)]
    # no provisional row: no marker, no footnote, no trace on the subject column
    final = monitoring_table(monitoring_after_each_subject(
        prepare_safety(_window_study(), fx.sap())), data.sap)
    assert [r.text("subject") for r in final.rows] == fx.SUBJECTS[:10]
    assert not any(f.startswith("(provisional)") for f in final.footnotes)
    assert (final.data["column"] != "subject").all()


def test_decision_text_says_it_rests_on_provisional_rows() -> None:
    from msc_analysis.analyses.safety import run_safety
    from msc_analysis.report.safety_step import monitoring_decision

    sap = fx.sap()
    text = monitoring_decision(run_safety(_window_study(), sap, cutoff=CUT,
                                          analyses=["SAF-MON"]), sap)
    assert "Decision: CONTINUE" in text
    assert ("Provisional: 5 of the 10 evaluated subjects were still inside the monitoring "
            "window at the data cut-off 2025-01-20") in text
    assert "S04 (window closes 2025-01-21)" in text
    assert "rests on provisional rows of Table 14.3.7.1" in text
    final = monitoring_decision(run_safety(_window_study(), sap, analyses=["SAF-MON"]), sap)
    assert "Provisional" not in final


def test_decision_text_when_the_rule_stopped_with_provisional_rows() -> None:
    from msc_analysis.analyses.safety import run_safety
    from msc_analysis.report.safety_step import monitoring_decision

    sap = fx.sap()
    study = _window_study()
    # S01 gets a grade 3 device-related event: 2 events in the first 2 subjects -> stop
    # (SAP table 9.3: boundary 2 at n = 2)
    extra = pd.DataFrame([fx._ae("S01", 4, "Hypotension", fx.VASC, "2025-01-11", "3",
                                dev="POSSIBLY RELATED")])
    study.adae = pd.concat([study.adae, extra], ignore_index=True)
    text = monitoring_decision(run_safety(study, sap, cutoff=CUT, analyses=["SAF-MON"]), sap)
    assert "Decision: STOP" in text and "after subject 2" in text
    assert "could only confirm the stop or bring it earlier" in text
