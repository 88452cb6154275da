"""The safety-monitoring rule cannot mislead (SAP section 9; issue 11, item 8).

- Stopping is absorbing: once the boundary is crossed at subject k, every later row of
  Table 14.3.7.1, Figure 14.3.5 and the decision text say so (ARD ``stopped_at``).
- Subjects evaluated after the rule's ``max_subjects`` are shown with their DLT-like events and
  as outside the rule (ARD variable ``DLT_BEYOND``), in the table, the figure and the text.
- Each row names the DLT-like events that counted (term, onset, why it qualified), from the
  derived frame :func:`~msc_analysis.analyses.safety_monitoring.dlt_events`, its number of
  events per subject traced to the ARD's ``n_events_subject``.

Cases worked out by hand on the fixture study of tests/safety_fixtures.py (ten Safety Set
subjects S01-S10, all with the first session 2025-01-10 and the last 2025-01-14, so evaluated
in identifier order, window 2025-01-10 to 2025-01-21; only S02 has a DLT-like event, a serious
pyrexia probably related to the MSCs on 2025-01-13), and on the CDISC pilot's low-dose arm.
SAP table 9.3: the boundary is 2 events at n = 2 and 3, 3 at n = 4 to 7, 4 at n = 8 to 10.
"""

from __future__ import annotations

import dataclasses as dc
import math
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import safety_fixtures as fx
from msc_analysis.analyses.safety import run_safety
from msc_analysis.ard import ArdError, lookup
from msc_analysis.cli import main
from msc_analysis.io.loading import load_study
from msc_analysis.render.safety_tables import monitoring_table, safety_displays
from msc_analysis.report import figures_step
from msc_analysis.report.safety_step import monitoring_decision

REPO = Path(__file__).resolve().parents[1]
PILOT = REPO.parent / "shared" / "data" / "cdisc_pilot01"
LOW = "Xanomeline Low Dose"
WINDOW = "in the window 2025-01-10 to 2025-01-21"


def _with_events(*rows: dict) -> SimpleNamespace:
    """The fixture study with extra adverse events."""
    return fx.study(adae=pd.concat([fx.adae(), pd.DataFrame(list(rows))], ignore_index=True))


def _table(results, sap):  # type: ignore[no-untyped-def]
    return safety_displays(results, sap)["t14_3_7_1"]


def _column(table, key: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [r.text(key) for r in table.rows]


def _figure(results, sap):  # type: ignore[no-untyped-def]
    """F14.3.5 as the report makes it: its input frame (Drawing kwargs) and the figure."""
    drawing = figures_step.DRAWINGS["F14.3.5"](SimpleNamespace(ard=results.ard, sap=sap), 10)
    return drawing.kwargs, drawing.draw()


def _gid(fig, gid: str) -> list:  # type: ignore[no-untyped-def]
    return fig.findobj(lambda a: a.get_gid() == gid)


# --------------------------------------------------------------------------------------------
# Stopping is absorbing
# --------------------------------------------------------------------------------------------


def _stop_at_two():  # type: ignore[no-untyped-def]
    # S01 gets a grade 3 device-related hypotension: S01 and S02 have the event, no one else.
    # The rule stops at n = 2 (2 >= 2) and n = 3 (2 >= 2); from n = 4 the boundary is 3, so the
    # rule alone would read "continue" again: the trial has stopped at subject 2 all the same.
    sap = fx.sap()
    study = _with_events(fx._ae("S01", 4, "Hypotension", fx.VASC, "2025-01-11", "3",
                                dev="POSSIBLY RELATED"))
    return run_safety(study, sap, analyses=["SAF-MON"]), sap


def test_stop_is_absorbing_in_the_ard_and_table() -> None:
    results, sap = _stop_at_two()
    ard = results.ard

    def m(stat: str, k: int) -> float:
        return lookup(ard, "SAF-MON", stat, variable="DLT", SUBJSEQ=str(k))

    # the rule's own value at each n is unchanged ...
    assert [m("decision", k) for k in range(1, 11)] == [0, 1, 1] + [0] * 7
    # ... and the first crossing is recorded on its row and every later one
    assert math.isnan(m("stopped_at", 1))
    assert [m("stopped_at", k) for k in range(2, 11)] == [2] * 9
    table = _table(results, sap)
    assert _column(table, "dec") == (["continue", "STOP: boundary crossed"]
                                     + ["STOP: boundary crossed at subject 2"] * 8)
    # each decision cell traces to its row's decision, stopped_at and n
    trace = table.data[(table.data["column"] == "dec") & (table.data["row_label"] == "7")]
    assert dict(zip(trace["stat_name"], trace["stat"], strict=True)) == {
        "decision": 0.0, "stopped_at": 2.0, "n": 7.0}
    assert any(f.startswith("STOP: the stopping boundary was crossed") for f in table.footnotes)


def test_stop_is_absorbing_in_the_figure_and_text() -> None:
    results, sap = _stop_at_two()
    kwargs, fig = _figure(results, sap)
    assert kwargs["monitor"]["stopped_at"].tolist()[1:] == [2.0] * 9
    # the stop markers are the rule's decisions (n = 2, 3), read from the ARD
    stop = _gid(fig, "stop")
    assert [float(v) for v in stop[0].get_xdata()] == [2.0, 3.0]
    # the region after the first crossing is shaded and labelled
    (shade,) = _gid(fig, "stopped")
    assert shade.get_x() == pytest.approx(1.75)
    assert [t.get_text() for t in _gid(fig, "stopped-label")] == ["Stopped at subject 2"]
    text = monitoring_decision(results, sap)
    assert text.startswith("Decision: STOP. The stopping boundary was reached after subject 2 "
                           "(S02: 2 of the first 2 subjects with a DLT-like event")
    assert "Stopping is final: the subjects evaluated after subject 2 do not undo it." in text
    assert "After 10 evaluated subjects, 2 of them with a DLT-like event" in text


# --------------------------------------------------------------------------------------------
# A subject with two qualifying events
# --------------------------------------------------------------------------------------------


def _two_events():  # type: ignore[no-untyped-def]
    # S02 gets a second DLT-like event, a grade 3 device-related hypotension before its pyrexia
    sap = fx.sap()
    study = _with_events(fx._ae("S02", 2, "Hypotension", fx.VASC, "2025-01-11", "3",
                                dev="POSSIBLY RELATED"))
    return run_safety(study, sap, analyses=["SAF-MON"]), sap


def test_two_events_of_one_subject_are_both_named_and_count_once() -> None:
    results, sap = _two_events()
    ard = results.ard
    assert lookup(ard, "SAF-MON", "n_events_subject", variable="DLT", SUBJSEQ="2") == 2
    # the rule counts subjects with the event: S02 counts once
    assert [lookup(ard, "SAF-MON", "n_events", variable="DLT", SUBJSEQ=str(k))
            for k in range(1, 11)] == [0] + [1] * 9
    events = results.derived["SAF-MON"]
    assert events["USUBJID"].tolist() == ["S02", "S02"]
    assert events["AEDECOD"].tolist() == ["Hypotension", "Pyrexia"]  # by onset
    table = _table(results, sap)
    assert table.rows[1].text("events") == (
        f"(1) Hypotension: grade 3; related: AERELDEV POSSIBLY RELATED; onset 2025-01-11, "
        f"{WINDOW}\n"
        f"(2) Pyrexia: serious, grade 2; related: AERELMSC PROBABLY RELATED; onset 2025-01-13, "
        f"{WINDOW}")
    assert table.rows[1].text("x") == "1/2"
    assert _column(table, "events")[2:] == ["none"] * 8
    trace = table.data[(table.data["column"] == "events") & (table.data["row_label"] == "2")]
    assert trace[["stat_name", "stat"]].values.tolist() == [["n_events_subject", 2.0]]
    # the figure shows subjects with the event (1 of 2), not events (2)
    kwargs, fig = _figure(results, sap)
    assert kwargs["monitor"]["events"].tolist() == [0.0] + [1.0] * 9
    labels = [t.get_text() for t in _gid(fig, "events-label")]
    assert labels[:2] == ["0/1", "1/2"]
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "Posterior probability (label: subjects with event / evaluated)" in legend
    text = monitoring_decision(results, sap)
    assert "After 10 evaluated subjects, 1 of them with a DLT-like event," in text


def test_events_that_disagree_with_the_ard_are_an_error() -> None:
    results, sap = _two_events()
    events = results.derived["SAF-MON"]
    with pytest.raises(ArdError, match=r"S02 \(1\) disagree with the ARD's n_events_subject "
                                       r"\(2\)"):
        monitoring_table(results.ard, sap, events.iloc[1:])
    # without the derived frame the table still gives each subject's number of events
    table = monitoring_table(results.ard, sap)
    assert table.rows[1].text("events") == "2 DLT-like events"


def test_why_an_event_qualified_names_missing_onset_and_relationship() -> None:
    # S06: grade 3, device relationship missing (counts as related), no onset date (counts)
    study = _with_events(fx._ae("S06", 2, "Hypotension", fx.VASC, None, "3", dev=""))
    results = run_safety(study, fx.sap(), analyses=["SAF-MON"])
    events = results.derived["SAF-MON"].set_index("USUBJID")
    assert events.loc["S06", "REASON"] == (
        "grade 3; related: AERELDEV missing (counts as related); no onset date (counts), "
        "window 2025-01-10 to 2025-01-21")
    assert events.loc["S06", "RELATION"] == "AERELDEV: missing"
    assert events.loc["S06", "SUBJSEQ"] == 6 and bool(events.loc["S06", "IN_RULE"])


# --------------------------------------------------------------------------------------------
# Subjects beyond the rule's max_subjects
# --------------------------------------------------------------------------------------------


def _beyond():  # type: ignore[no-untyped-def]
    # The rule covers 6 subjects (S01-S06; only S02 has the event: continue). S07-S10 are
    # beyond it: S08 has one DLT-like event, S09 two, S10 only a procedure-related grade 3
    # event (not DLT-like): 4 further subjects hold 3 DLT-like events.
    sap = fx.sap()
    small = dc.replace(sap, monitoring=dc.replace(sap.monitoring, max_subjects=6))
    study = _with_events(
        fx._ae("S08", 1, "Hypotension", fx.VASC, "2025-01-12", "3", dev="POSSIBLY RELATED"),
        fx._ae("S09", 1, "Anaphylactic reaction", fx.GEN, "2025-01-10", "3",
               msc="DEFINITELY RELATED", ser="Y", hosp="Y"),
        fx._ae("S09", 2, "Hypotension", fx.VASC, "2025-01-14", "4", dev="PROBABLY RELATED"),
        fx._ae("S10", 1, "Hypotension", fx.VASC, "2025-01-12", "3", prc="PROBABLY RELATED"),
    )
    return run_safety(study, small, analyses=["SAF-MON"]), small


def test_subjects_beyond_the_rule_in_the_ard() -> None:
    results, _ = _beyond()
    ard = results.ard
    assert [lookup(ard, "SAF-MON", "n_events_subject", variable="DLT_BEYOND",
                   variable_level=s, SUBJSEQ=str(k))
            for k, s in zip(range(7, 11), ("S07", "S08", "S09", "S10"), strict=True)] == [
        0, 1, 2, 0]
    assert lookup(ard, "SAF-MON", "n", variable="DLT_BEYOND", variable_level="") == 4
    assert lookup(ard, "SAF-MON", "n_events", variable="DLT_BEYOND", variable_level="") == 3
    events = results.derived["SAF-MON"]
    assert events.loc[~events["IN_RULE"], "USUBJID"].tolist() == ["S08", "S09", "S09"]
    assert events.loc[~events["IN_RULE"], "SUBJSEQ"].tolist() == [8, 9, 9]


def test_subjects_beyond_the_rule_in_the_table() -> None:
    results, sap = _beyond()
    table = _table(results, sap)
    assert _column(table, "subject")[6:] == ["4 further subjects", "S07", "S08", "S09", "S10"]
    assert [r.label for r in table.rows][6:] == ["Outside the rule", "7", "8", "9", "10"]
    assert _column(table, "dec") == (
        ["continue"] * 6 + ["not covered by the rule: for review by the Safety Review "
                            "Committee"] + ["outside the rule (max_subjects = 6)"] * 4)
    events = _column(table, "events")
    assert events[6] == "3 DLT-like events"
    assert events[7] == "none" and events[10] == "none"
    assert events[8] == (f"Hypotension: grade 3; related: AERELDEV POSSIBLY RELATED; onset "
                         f"2025-01-12, {WINDOW}")
    assert events[9] == (
        f"(1) Anaphylactic reaction: serious, grade 3; related: AERELMSC DEFINITELY RELATED; "
        f"onset 2025-01-10, {WINDOW}\n"
        f"(2) Hypotension: grade 4; related: AERELDEV PROBABLY RELATED; onset 2025-01-14, "
        f"{WINDOW}")
    # no number of the rule on the rows outside it
    for key in ("x", "mean", "cri", "prob", "bnd"):
        assert _column(table, key)[6:] == [""] * 5
    # the line's numbers are the ARD's
    trace = table.data[table.data["row_label"] == "Outside the rule"]
    assert trace[["column", "variable", "stat_name", "stat"]].values.tolist() == [
        ["subject", "DLT_BEYOND", "n", 4.0], ["events", "DLT_BEYOND", "n_events", 3.0]]
    assert any(f.startswith("Outside the rule: subjects evaluated after the rule's first 6")
               for f in table.footnotes)


def test_subjects_beyond_the_rule_in_the_figure_and_text() -> None:
    results, sap = _beyond()
    kwargs, fig = _figure(results, sap)
    assert kwargs["beyond"] == (4.0, 3.0)
    assert kwargs["monitor"]["n"].tolist() == [1, 2, 3, 4, 5, 6]
    (title,) = _gid(fig, "beyond")
    assert title.get_text() == ("4 further subjects beyond the rule's 6: 3 DLT-like events, "
                                "not covered by the rule")
    text = monitoring_decision(results, sap)
    assert text.startswith("Decision: CONTINUE. The stopping boundary has not been reached "
                           "within the rule's 6 subjects.\n\n4 further subjects beyond the "
                           "rule's 6 hold 3 DLT-like events (S08 (1 event), S09 (2 events)): "
                           "the rule does not cover them; the safety review committee must "
                           "review them.")
    assert "After the rule's 6 evaluated subjects, 1 of them with a DLT-like event" in text


def test_nothing_beyond_the_rule_adds_nothing() -> None:
    results = run_safety(fx.study(), fx.sap(), analyses=["SAF-MON"])
    ard = results.ard
    assert not (ard["variable"] == "DLT_BEYOND").any()
    sap = fx.sap()
    table = _table(results, sap)
    assert "Outside the rule" not in [r.label for r in table.rows]
    assert not any(f.startswith(("Outside the rule", "STOP")) for f in table.footnotes)
    kwargs, fig = _figure(results, sap)
    assert kwargs["beyond"] is None and not _gid(fig, "beyond") and not _gid(fig, "stopped")
    assert monitoring_decision(results, sap).startswith(
        "Decision: CONTINUE. The stopping boundary has not been reached.\n\nAfter 10")


def test_thirty_subject_study_on_the_command_line(tmp_path: Path) -> None:
    # the case: a simulated study of 30 subjects with DLT-like events after subject 10
    data, out = tmp_path / "data", tmp_path / "out"
    assert main(["-q", "simulate", "--subjects", "30", "--seed", "5", "--out", str(data)]) == 0
    assert main(["-q", "safety", "--data", str(data), "--out", str(out)]) == 0
    html = (out / "tables" / "t14_3_7_1.html").read_text(encoding="utf-8")
    n_treated = int(load_study(data, analyses=("safety",)).adsl["TRTSDT"].notna().sum())
    ard = pd.read_csv(out / "ard.csv", keep_default_na=False)
    beyond = ard[(ard["analysis_id"] == "SAF-MON") & (ard["variable"] == "DLT_BEYOND")]
    assert html.count("outside the rule (max_subjects = 10)") == n_treated - 10
    assert f"{n_treated - 10} further subjects" in html
    m = float(beyond.loc[beyond["stat_name"] == "n_events", "stat"].iloc[0])
    assert m >= 1 and f"{m:g} DLT-like event" in html
    per_subject = beyond[beyond["stat_name"] == "n_events_subject"]
    assert per_subject["stat"].astype(float).sum() == m


# --------------------------------------------------------------------------------------------
# The CDISC pilot's low-dose arm (the case)
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def low_dose(tmp_path_factory):  # type: ignore[no-untyped-def]
    """SAF-MON on the pilot's Xanomeline Low Dose arm alone (ADSL and ADAE only)."""
    if not PILOT.is_dir():
        pytest.skip("CDISC pilot data not available")
    folder = tmp_path_factory.mktemp("pilot")
    for name in ("adsl.xpt", "adae.xpt"):
        shutil.copy(PILOT / name, folder / name)
    study = load_study(folder, analyses=("safety",))
    keep = study.adsl["TRT01A"] == LOW
    subjects = set(study.adsl.loc[keep, "USUBJID"])
    arm = SimpleNamespace(adsl=study.adsl[keep].reset_index(drop=True),
                          adae=study.adae[study.adae["USUBJID"].isin(subjects)]
                          .reset_index(drop=True), adex=None, adlb=None, advs=None)
    sap = fx.sap()
    return run_safety(arm, sap, analyses=["SAF-MON"]), sap


def test_pilot_low_dose_stops_at_subject_3_and_stays_stopped(low_dose) -> None:  # type: ignore[no-untyped-def]
    results, sap = low_dose
    table = _table(results, sap)
    rows = table.rows[:10]
    # hand check with the pilot's ADAE: severe (grade 3) events, AEREL PROBABLE, in the
    # window, for the 2nd, 3rd and 8th subjects of the arm by first dose
    assert [r.text("x") for r in rows] == ["0/1", "1/2", "2/3", "2/4", "2/5", "2/6", "2/7",
                                           "3/8", "3/9", "3/10"]
    assert [r.text("dec") for r in rows] == (
        ["continue", "continue", "STOP: boundary crossed"]
        + ["STOP: boundary crossed at subject 3"] * 7)
    assert rows[1].text("subject") == "01-709-1007"
    assert rows[1].text("events") == (
        "APPLICATION SITE DERMATITIS: grade 3; related: AEREL PROBABLE; onset 2012-08-21, in "
        "the window 2012-07-31 to 2012-09-04")
    assert rows[2].text("events").startswith("APPLICATION SITE IRRITATION: grade 3; related: "
                                             "AEREL PROBABLE; onset 2012-09-13")
    # 84 subjects in the arm: 74 beyond the rule, with 17 DLT-like events in 9 of them;
    # 01-703-1119 (30th) has two
    outside = next(r for r in table.rows if r.label == "Outside the rule")
    assert outside.text("subject") == "74 further subjects"
    assert outside.text("events") == "17 DLT-like events"
    row30 = next(r for r in table.rows if r.label == "30")
    assert row30.text("subject") == "01-703-1119"
    assert row30.text("events").startswith("(1) APPLICATION SITE IRRITATION: grade 3")
    assert "\n(2) PRURITUS: grade 3; related: AEREL PROBABLE; onset 2013-05-04" in row30.text(
        "events")
    assert row30.text("dec") == "outside the rule (max_subjects = 10)"
    assert len(table.rows) == 10 + 1 + 74


def test_pilot_low_dose_figure_and_text(low_dose) -> None:  # type: ignore[no-untyped-def]
    results, sap = low_dose
    kwargs, fig = _figure(results, sap)
    frame = kwargs["monitor"]
    assert frame["decision"].tolist() == [0, 0, 1, 0, 0, 0, 0, 0, 0, 0]
    assert np.isnan(frame["stopped_at"].iloc[:2]).all()
    assert frame["stopped_at"].iloc[2:].tolist() == [3.0] * 8
    assert [t.get_text() for t in _gid(fig, "stopped-label")] == ["Stopped at subject 3"]
    assert [float(v) for v in _gid(fig, "stop")[0].get_xdata()] == [3.0]
    assert kwargs["beyond"] == (74.0, 17.0)
    text = monitoring_decision(results, sap)
    assert text.startswith(
        "Decision: STOP. The stopping boundary was reached after subject 3 (01-703-1086: 2 of "
        "the first 3 subjects with a DLT-like event, posterior probability 0.822)")
    assert "Stopping is final: the subjects evaluated after subject 3 do not undo it." in text
    assert "74 further subjects beyond the rule's 10 hold 17 DLT-like events (" in text
    assert "01-703-1119 (2 events)" in text
    assert "the rule does not cover them; the safety review committee must review them" in text
    from msc_analysis.analyses.safety_monitoring import dlt_events

    assert len(dlt_events(results.data)) == 3 + 17


def _pilot_frame(name: str) -> pd.DataFrame:
    """A pilot XPT read by pandas alone (text stripped, SAS dates as timestamps)."""
    frame = pd.read_sas(PILOT / name, encoding="latin1")
    for column in frame.columns:
        if frame[column].dtype == object:
            frame[column] = frame[column].str.strip()
        elif column.endswith("DT") and not pd.api.types.is_datetime64_any_dtype(frame[column]):
            frame[column] = pd.Timestamp("1960-01-01") + pd.to_timedelta(frame[column], unit="D")
    return frame


def test_pilot_low_dose_counts_equal_an_independent_pandas_count(low_dose) -> None:  # type: ignore[no-untyped-def]
    """The DLT-like events of SAP 9.1 counted from the raw XPT files with pandas alone:
    serious or severe (grade 3), possibly/probably/definitely related or unassessed, onset from
    the first dose to 7 days after the last; subjects in the order of their first dose."""
    results, _ = low_dose
    adsl, ae = _pilot_frame("adsl.xpt"), _pilot_frame("adae.xpt")
    arm = adsl[(adsl["TRT01A"] == LOW) & adsl["TRTSDT"].notna()]
    arm = arm.sort_values(["TRTSDT", "USUBJID"]).reset_index(drop=True)
    arm["SEQ"] = np.arange(1, len(arm) + 1)
    both = ae.drop(columns=["TRTSDT", "TRTEDT"]).merge(
        arm[["USUBJID", "SEQ", "TRTSDT", "TRTEDT"]], on="USUBJID")
    end = both["TRTEDT"].fillna(both["TRTSDT"]) + pd.Timedelta(days=7)
    counted = both[((both["AESEV"] == "SEVERE") | (both["AESER"] == "Y"))
                   & both["AEREL"].isin(["POSSIBLE", "PROBABLE", "DEFINITE", ""])
                   & (both["ASTDT"].isna() | ((both["ASTDT"] >= both["TRTSDT"])
                                              & (both["ASTDT"] <= end)))]
    ard = results.results["SAF-MON"]
    inside = ard[(ard["variable"] == "DLT") & (ard["stat_name"] == "n_events_subject")]
    by_seq = counted[counted["SEQ"] <= 10].groupby("SEQ").size()
    assert {int(k): int(v) for k, v in zip(inside["group1_level"], inside["stat"], strict=True)
            if v > 0} == {int(k): int(v) for k, v in by_seq.items()}  # subjects 2, 3 and 8
    beyond = ard[ard["variable"] == "DLT_BEYOND"]
    total = beyond[(beyond["stat_name"] == "n_events") & (beyond["variable_level"] == "")]
    assert float(total["stat"].iloc[0]) == int((counted["SEQ"] > 10).sum()) == 17
