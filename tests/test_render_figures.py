"""Tests of the report's figures (msc_analysis.render.figures).

Each figure is built from a small hand-made frame and checked through its artists (lines, bars,
texts with known ``gid``), so a figure that drops a subject, mis-sorts bars, draws the KM step at
the wrong height or loses the at-risk numbers fails. Determinism: the same input rendered twice
gives byte-identical PNG and SVG files (through ``render.style.save_figure``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_hex
from matplotlib.figure import Figure

from msc_analysis.errors import AnalysisError
from msc_analysis.render import figures as fg
from msc_analysis.render.figures._common import log_ticks
from msc_analysis.render.style import OKABE_ITO, save_figure

SUBJECTS = ("S-001", "S-002", "S-003")
VISITS = (("Baseline", 0), ("Day 7", 7), ("Day 14", 14), ("Day 28", 28))

# R: qt(0.975, 2) = 4.302653 (t table, 2 df, two-sided 95 %: 4.303).
T_975_2 = 4.302653


def _gids(fig: Figure, prefix: str) -> list:
    """Artists of every axes of ``fig`` whose gid starts with ``prefix``."""
    found = []
    for ax in fig.axes:
        for artist in [*ax.lines, *ax.patches, *ax.texts, *ax.collections]:
            gid = artist.get_gid()
            if gid is not None and str(gid).startswith(prefix):
                found.append(artist)
    return found


def _texts(fig: Figure) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def _values() -> pd.DataFrame:
    rows = []
    for i, s in enumerate(SUBJECTS):
        for visit, n in VISITS:
            rows.append({"PARAMCD": "TBIL", "USUBJID": s, "AVISIT": visit, "AVISITN": n,
                         "AVAL": float(2 ** i) * (1 + n / 28)})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------------------
# F14.2.1
# ------------------------------------------------------------------------------------------------


def test_mean_ci_by_visit_matches_hand_t_interval() -> None:
    v = pd.DataFrame({"AVISIT": ["Day 7"] * 3, "AVISITN": [7] * 3, "AVAL": [1.0, 2.0, 3.0]})
    lin = fg.mean_ci_by_visit(v, log_scale=False).iloc[0]
    # mean 2, sd 1, se = 1/sqrt(3); half-width = 4.302653 / sqrt(3) = 2.484138
    assert lin["n"] == 3
    assert lin["estimate"] == pytest.approx(2.0)
    assert lin["conf_low"] == pytest.approx(2 - 2.484138, abs=1e-5)
    assert lin["conf_high"] == pytest.approx(2 + 2.484138, abs=1e-5)
    g = fg.mean_ci_by_visit(v.assign(AVAL=[1.0, 2.0, 4.0]), log_scale=True).iloc[0]
    # log values 0, ln2, 2 ln2: mean ln2 (GM = 2), sd ln2; half = 4.302653 * ln2 / sqrt(3)
    half = T_975_2 * math.log(2) / math.sqrt(3)  # 1.721870
    assert g["estimate"] == pytest.approx(2.0)
    assert g["conf_low"] == pytest.approx(2 * math.exp(-half), rel=1e-6)  # 0.357462
    assert g["conf_high"] == pytest.approx(2 * math.exp(half), rel=1e-6)  # 11.18999
    one = fg.mean_ci_by_visit(v.iloc[:1], log_scale=False).iloc[0]
    assert one["n"] == 1 and math.isnan(one["conf_low"])


def test_spaghetti_one_line_per_subject_and_given_means() -> None:
    values = _values()
    mean_ci = pd.DataFrame({"AVISIT": [v for v, _ in VISITS], "AVISITN": [n for _, n in VISITS],
                            "estimate": [2.0, 2.5, 3.0, 4.0], "conf_low": [1.0, 1.5, 2.0, 3.0],
                            "conf_high": [3.0, 3.5, 4.0, 5.0]})
    fig = fg.spaghetti(values, "TBIL", "Total bilirubin", "umol/L", True, mean_ci)
    lines = _gids(fig, "subject-")
    assert sorted(line.get_gid() for line in lines) == [f"subject-{s}" for s in SUBJECTS]
    s2 = next(line for line in lines if line.get_gid() == "subject-S-002")
    np.testing.assert_allclose(s2.get_ydata(), [2 * (1 + n / 28) for _, n in VISITS])
    np.testing.assert_allclose(s2.get_xdata(), [0, 7, 14, 28])
    mean = _gids(fig, "mean")
    mean_line = next(a for a in mean if hasattr(a, "get_ydata"))
    np.testing.assert_allclose(mean_line.get_ydata(), [2.0, 2.5, 3.0, 4.0])
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    assert [t.get_text() for t in ax.get_xticklabels()] == [v for v, _ in VISITS]
    assert ax.get_ylabel() == "Total bilirubin (umol/L)"


def test_spaghetti_default_mean_is_computed_and_missing_visit_flagged() -> None:
    values = _values()
    values = values.loc[values["AVISIT"] != "Day 28"]
    fig = fg.spaghetti(values, "TBIL", "Total bilirubin", "umol/L", log_scale=False)
    mean_line = next(a for a in _gids(fig, "mean") if hasattr(a, "get_ydata"))
    # arithmetic means of 1, 2, 4 times (1 + n/28) at n = 0, 7, 14
    np.testing.assert_allclose(mean_line.get_ydata(), [7 / 3 * (1 + n / 28) for n in (0, 7, 14)])
    assert _gids(fig, "no-values-Day 28"), "a scheduled visit without values must say so"
    assert fig.axes[0].get_yscale() == "linear"


def test_spaghetti_empty_and_non_positive() -> None:
    empty = _values().iloc[0:0]
    fig = fg.spaghetti(empty, "TBIL", "Total bilirubin", "umol/L", True)
    assert _gids(fig, "no-data")
    values = _values()
    values.loc[0, "AVAL"] = 0.0
    fig = fg.spaghetti(values, "TBIL", "Total bilirubin", "umol/L", True)
    assert any("1 value(s) <= 0 not shown" in t for t in _texts(fig))


def test_spaghetti_grid_panels_per_parameter() -> None:
    values = pd.concat([_values(), _values().assign(PARAMCD="INR")])
    specs = [fg.ParameterSpec("TBIL", "Total bilirubin", "umol/L", True),
             fg.ParameterSpec("INR", "INR", "", False),
             fg.ParameterSpec("CRP", "CRP", "mg/L", True)]
    fig = fg.spaghetti_grid(values, specs, ncols=2)
    titled = [ax.get_title() for ax in fig.axes if ax.get_visible() and ax.axison]
    assert titled == ["Total bilirubin", "INR", "CRP"]
    assert len(_gids(fig, "subject-")) == 2 * len(SUBJECTS)
    assert any("CRP: no values" in t for t in _texts(fig))


# ------------------------------------------------------------------------------------------------
# F14.2.2
# ------------------------------------------------------------------------------------------------


def test_prepost_paired_lines_per_session_and_geometric_summary() -> None:
    pairs = pd.DataFrame({
        "USUBJID": [*SUBJECTS, *SUBJECTS],
        "SESSNUM": [1, 1, 1, 2, 2, 2],
        "PRE": [100.0, 200.0, 400.0, 100.0, 100.0, 100.0],
        "POST": [50.0, 100.0, 800.0, 100.0, 200.0, np.nan],
    })
    fig = fg.prepost_paired(pairs, "TBIL", "Total bilirubin", "umol/L", log_scale=True)
    ax1, ax2 = [ax for ax in fig.axes if ax.get_title().startswith("Session")]
    assert ax1.get_title() == "Session 1" and ax2.get_title() == "Session 2"
    subj1 = [ln for ln in ax1.lines if str(ln.get_gid()).startswith("subject-")]
    subj2 = [ln for ln in ax2.lines if str(ln.get_gid()).startswith("subject-")]
    single2 = [ln for ln in ax2.lines if str(ln.get_gid()).startswith("single-")]
    assert len(subj1) == 3 and len(subj2) == 2 and len(single2) == 1
    colours = {ln.get_gid(): to_hex(ln.get_color()) for ln in subj1}
    assert colours["subject-S-001"] == OKABE_ITO["blue"].lower()  # fell
    assert colours["subject-S-003"] == OKABE_ITO["vermillion"].lower()  # rose
    summary = next(ln for ln in ax1.lines if ln.get_gid() == "summary")
    # geometric means: pre (100*200*400)^(1/3) = 200; post (50*100*800)^(1/3) = 4000000^(1/3)
    np.testing.assert_allclose(summary.get_ydata(), [200.0, 4_000_000 ** (1 / 3)])
    summary2 = next(ln for ln in ax2.lines if ln.get_gid() == "summary")
    np.testing.assert_allclose(summary2.get_ydata(), [100.0, math.sqrt(100 * 200)])
    assert ax1.get_yscale() == "log"


def test_prepost_paired_empty() -> None:
    fig = fg.prepost_paired(pd.DataFrame(columns=["USUBJID", "SESSNUM", "PRE", "POST"]),
                           "TBIL", "Total bilirubin")
    assert _gids(fig, "no-data")


# ------------------------------------------------------------------------------------------------
# F14.2.3
# ------------------------------------------------------------------------------------------------


def test_waterfall_bar_heights_are_sorted_pchg() -> None:
    pchg = pd.DataFrame({
        "USUBJID": ["S-001", "S-002", "S-003", "S-004", "S-001", "S-002"],
        "AVISIT": ["Day 7"] * 4 + ["Day 28"] * 2,
        "PCHG": [-10.0, 25.0, -40.0, np.nan, 5.0, -5.0],
    })
    fig = fg.waterfall(pchg, "total bilirubin")
    ax7, ax28 = fig.axes[:2]
    heights = [b.get_height() for b in ax7.patches]
    assert heights == [25.0, -10.0, -40.0]
    assert [b.get_gid() for b in ax7.patches] == ["bar-S-002", "bar-S-001", "bar-S-003"]
    assert [to_hex(b.get_facecolor()) for b in ax7.patches] == [
        OKABE_ITO["vermillion"].lower(), OKABE_ITO["blue"].lower(), OKABE_ITO["blue"].lower()]
    assert ax7.get_xlabel() == "Subject (1 without a value)"
    assert [b.get_height() for b in ax28.patches] == [5.0, -5.0]
    assert ax7.get_ylabel() == "Change from baseline in total bilirubin (%)"


def test_waterfall_visit_without_values_says_so() -> None:
    pchg = pd.DataFrame({"USUBJID": ["S-001"], "AVISIT": ["Day 7"], "PCHG": [-10.0]})
    fig = fg.waterfall(pchg, "TBil")
    assert "No values at Day 28" in _texts(fig)


# ------------------------------------------------------------------------------------------------
# F14.2.4
# ------------------------------------------------------------------------------------------------


def test_forest_log_axis_reference_line_and_texts() -> None:
    gmr = pd.DataFrame({
        "label": ["TBIL session 1", "TBIL session 2", "INR pooled"],
        "estimate": [0.845, 1.2, np.nan],
        "conf_low": [0.70, 0.9, np.nan],
        "conf_high": [1.025, 1.6, np.nan],
        "n": [10, 9, 0],
    })
    fig = fg.forest(gmr)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    ref = next(ln for ln in ax.lines if ln.get_gid() == "reference")
    np.testing.assert_allclose(ref.get_xdata(), [1.0, 1.0])
    est = next(ln for ln in ax.lines if ln.get_gid() == "estimate")
    np.testing.assert_allclose(est.get_xdata(), [0.845, 1.2])
    np.testing.assert_allclose(est.get_ydata(), [2.0, 1.0])  # top to bottom in input order
    assert [t.get_text() for t in ax.get_yticklabels()] == list(gmr["label"])
    texts = _texts(fig)
    # SAS rounding, half away from zero: 0.845 -> 0.85, 1.025 -> 1.03
    assert "0.85 (0.70, 1.03)" in texts
    assert "1.20 (0.90, 1.60)" in texts
    assert "NE" in texts and "10" in texts
    lo, hi = ax.get_xlim()
    assert lo < 0.70 and hi > 1.6


def test_forest_pooled_and_empty() -> None:
    gmr = pd.DataFrame({"label": ["a", "pooled"], "estimate": [0.8, 0.9],
                        "conf_low": [0.7, 0.8], "conf_high": [0.9, 1.0], "n": [5, 10],
                        "pooled": [False, True]})
    fig = fg.forest(gmr)
    pooled = next(ln for ln in fig.axes[0].lines if ln.get_gid() == "pooled")
    np.testing.assert_allclose(pooled.get_xdata(), [0.9])
    fig = fg.forest(gmr.iloc[0:0])
    assert _gids(fig, "no-data")


# ------------------------------------------------------------------------------------------------
# F14.3.1
# ------------------------------------------------------------------------------------------------


def _incidence() -> pd.DataFrame:
    # Clopper-Pearson 95 % for 3/10: (6.67, 65.25) %, for 1/10: (0.25, 44.50) % (R binom.test)
    return pd.DataFrame({
        "SOC": ["Vascular disorders", "Vascular disorders", "General disorders"],
        "PT": ["Hypotension", "Haemorrhage", "Pyrexia"],
        "n": [3, 1, 3], "N": [10, 10, 10], "pct": [30.0, 10.0, 30.0],
        "conf_low": [6.67, 0.25, 6.67], "conf_high": [65.25, 44.50, 65.25],
    })


def test_ae_dotplot_points_rows_and_counts() -> None:
    fig = fg.ae_dotplot(_incidence())
    ax = fig.axes[0]
    points = next(ln for ln in ax.lines if ln.get_gid() == "points-0")
    np.testing.assert_allclose(points.get_xdata(), [30.0, 10.0, 30.0])
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["Vascular disorders", "   Hypotension", "   Haemorrhage",
                      "General disorders", "   Pyrexia"]
    weights = [t.get_fontweight() for t in ax.get_yticklabels()]
    assert weights[0] == "bold" and weights[1] == "normal"
    ci = next(c for c in ax.collections if c.get_gid() == "ci-0")
    segs = ci.get_segments()
    assert [tuple(np.round(s[:, 0], 2)) for s in segs] == [(6.67, 65.25), (0.25, 44.5),
                                                          (6.67, 65.25)]
    assert _texts(fig).count("3/10") == 2 and "1/10" in _texts(fig)


def test_ae_dotplot_groups_and_empty() -> None:
    inc = pd.concat([_incidence().assign(ARM="A"), _incidence().iloc[:1].assign(ARM="B")])
    fig = fg.ae_dotplot(inc, group="ARM")
    ax = fig.axes[0]
    assert len(next(ln for ln in ax.lines if ln.get_gid() == "points-0").get_xdata()) == 3
    assert len(next(ln for ln in ax.lines if ln.get_gid() == "points-1").get_xdata()) == 1
    fig = fg.ae_dotplot(_incidence().iloc[0:0])
    assert "No events" in _texts(fig)


# ------------------------------------------------------------------------------------------------
# F14.3.2
# ------------------------------------------------------------------------------------------------


def _swimmer_inputs() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    subjects = pd.DataFrame({
        "USUBJID": ["S-001", "S-002", "S-003", "S-004"],
        "TRTSDT": pd.to_datetime(["2025-01-01"] * 4),
        "ENDDY": [20.0, 90.0, np.nan, 45.0],
        "STATUS": ["DIED", "COMPLETED", "ONGOING", "TRANSPLANTED"],
    })
    sessions = pd.DataFrame({"USUBJID": ["S-001"] * 3 + ["S-002"] * 3,
                             "DAY": [0, 2, 4, 0, 2, 4]})
    aes = pd.DataFrame({"USUBJID": ["S-001", "S-001", "S-002", "S-004"],
                        "DAY": [1, 19, -3, 30], "GRADE": [1, 5, 3, np.nan]})
    return subjects, sessions, aes


def test_swimmer_bars_markers_and_cutoff() -> None:
    subjects, sessions, aes = _swimmer_inputs()
    fig = fg.swimmer(subjects, sessions, aes, cutoff="2025-01-31")
    ax = fig.axes[0]
    bars = {b.get_gid(): b.get_width() for b in ax.patches}
    # S-003 ongoing: cut-off 2025-01-31 - first session 2025-01-01 = 30 days (day 0 = first
    # session, the time axis of F14.3.4 too)
    assert bars == {"bar-S-001": 20.0, "bar-S-002": 90.0, "bar-S-003": 30.0, "bar-S-004": 45.0}
    # the axis starts left of the earliest marker (an AE 3 days before the first session), so
    # no marker is cut; it ends right of the longest bar (90)
    low, high = ax.get_xlim()
    assert low < -3 and high > 90
    assert ax.get_xlabel() == "Days since the first session"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["002", "004", "003", "001"]
    sess = next(ln for ln in ax.lines if ln.get_gid() == "sessions")
    assert len(sess.get_xdata()) == 6
    assert len(next(ln for ln in ax.lines if ln.get_gid() == "ae-grade-5").get_xdata()) == 1
    assert len(next(ln for ln in ax.lines if ln.get_gid() == "ae-grade-missing").get_xdata()) == 1
    died = next(ln for ln in ax.lines if ln.get_gid() == "status-DIED")
    np.testing.assert_allclose(died.get_xdata(), [20.0])
    assert not [ln for ln in ax.lines if ln.get_gid() == "status-COMPLETED"]
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "Ongoing at data cut-off (2025-01-31)" in legend and "AE grade 5" in legend
    assert "AE grade 2" not in legend


def test_swimmer_errors_and_empty() -> None:
    subjects, _, _ = _swimmer_inputs()
    with pytest.raises(AnalysisError, match="unknown STATUS"):
        fg.swimmer(subjects.assign(STATUS="LOST"))
    with pytest.raises(AnalysisError, match="S-003"):
        fg.swimmer(subjects)  # no cut-off: the ongoing subject has no end day
    fig = fg.swimmer(subjects.iloc[0:0])
    assert "No subjects" in _texts(fig)


# ------------------------------------------------------------------------------------------------
# F14.3.3
# ------------------------------------------------------------------------------------------------


def test_hepatic_safety_panels() -> None:
    peaks = pd.DataFrame({"USUBJID": ["S-001", "S-002", "S-003"],
                          "ALT_ULN": [1.5, 4.0, np.nan], "TBIL_ULN": [10.0, 12.0, 8.0],
                          "ALT_BASE": [0.8, 2.0, 1.0], "TBIL_BASE": [0.5, 1.5, 0.9]})
    fig = fg.hepatic_safety(peaks)
    uln, base = fig.axes[:2]
    for ax in (uln, base):
        assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    pts = next(ln for ln in uln.lines if ln.get_gid() == "points")
    np.testing.assert_allclose(pts.get_xdata(), [1.5, 4.0])
    np.testing.assert_allclose(next(ln for ln in uln.lines if ln.get_gid() == "ref-alt")
                               .get_xdata(), [3.0, 3.0])
    np.testing.assert_allclose(next(ln for ln in uln.lines if ln.get_gid() == "ref-tbil")
                               .get_ydata(), [2.0, 2.0])
    assert len(next(ln for ln in base.lines if ln.get_gid() == "points").get_xdata()) == 3
    assert any("1 subject(s) without values" in t.get_text() for t in uln.texts)
    fig = fg.hepatic_safety(peaks.iloc[0:0])
    assert _texts(fig).count("No values") == 2


# ------------------------------------------------------------------------------------------------
# F14.3.4
# ------------------------------------------------------------------------------------------------


def _km() -> tuple[pd.DataFrame, list[float], pd.DataFrame]:
    # Hand KM: times 10 (event), 20 (censored), 30 (event), 40 (censored); n = 4.
    # S(10) = 3/4 = 0.75; S(30) = 0.75 * (1 - 1/2) = 0.375.
    curve = pd.DataFrame({"time": [10.0, 30.0], "surv": [0.75, 0.375],
                          "conf_low": [0.43, 0.10], "conf_high": [1.0, 1.0]})
    at_risk = pd.DataFrame({"day": [0, 14, 28, 42], "n": [4, 3, 2, 0]})
    return curve, [20.0, 40.0], at_risk


def test_kaplan_meier_plot_steps_censoring_and_at_risk() -> None:
    curve, censored, at_risk = _km()
    fig = fg.kaplan_meier_plot(curve, censored, at_risk)
    ax = fig.axes[0]
    km = next(ln for ln in ax.lines if ln.get_gid() == "km")
    assert km.get_drawstyle() == "steps-post"
    np.testing.assert_allclose(km.get_xdata(), [0.0, 10.0, 30.0, 40.0])
    np.testing.assert_allclose(km.get_ydata(), [1.0, 0.75, 0.375, 0.375])
    cens = next(ln for ln in ax.lines if ln.get_gid() == "censored")
    np.testing.assert_allclose(cens.get_ydata(), [0.75, 0.375])
    at_risk_texts = [t.get_text() for t in fig.axes[1].texts if t.get_gid() == "at-risk"]
    assert at_risk_texts == ["4", "3", "2", "0"]
    assert [t for t in ax.get_xticks()] == [0, 14, 28, 42]
    assert [c.get_gid() for c in ax.collections] == ["ci"]


def test_kaplan_meier_plot_landmarks_no_events_and_empty() -> None:
    curve, censored, at_risk = _km()
    fig = fg.kaplan_meier_plot(curve, censored, at_risk, landmarks=[0, 28])
    assert [t.get_text() for t in fig.axes[1].texts] == ["4", "2"]
    no_events = curve.iloc[0:0]
    fig = fg.kaplan_meier_plot(no_events, [5.0, 90.0], None)
    km = next(ln for ln in fig.axes[0].lines if ln.get_gid() == "km")
    np.testing.assert_allclose(km.get_ydata(), [1.0, 1.0])
    np.testing.assert_allclose(km.get_xdata(), [0.0, 90.0])
    fig = fg.kaplan_meier_plot(no_events, [], at_risk)
    assert "No subjects" in _texts(fig)


def test_step_values() -> None:
    curve, _, _ = _km()
    np.testing.assert_allclose(fg.step_values(curve, [0, 9.9, 10, 29, 30, 99]),
                               [1, 1, 0.75, 0.75, 0.375, 0.375])


# ------------------------------------------------------------------------------------------------
# F14.3.5
# ------------------------------------------------------------------------------------------------


def test_monitoring_plot_lines_and_stops() -> None:
    mon = pd.DataFrame({"n": [1, 2, 3, 4], "x": [1, 2, 2, 3],
                        "post_prob": [0.85, 0.90, 0.70, 0.95]})
    fig = fg.monitoring_plot(mon, threshold=0.2, prob_cutoff=0.8, min_subjects=3,
                            max_subjects=10)
    ax = fig.axes[0]
    post = next(ln for ln in ax.lines if ln.get_gid() == "post_prob")
    np.testing.assert_allclose(post.get_ydata(), [0.85, 0.90, 0.70, 0.95])
    cutoff = next(ln for ln in ax.lines if ln.get_gid() == "cutoff")
    np.testing.assert_allclose(cutoff.get_ydata(), [0.8, 0.8])
    minimum = next(ln for ln in ax.lines if ln.get_gid() == "min-subjects")
    np.testing.assert_allclose(minimum.get_xdata(), [3, 3])
    stop = next(ln for ln in ax.lines if ln.get_gid() == "stop")
    np.testing.assert_allclose(stop.get_xdata(), [4])  # n = 1, 2 exceed but are < min_subjects
    assert "3/4" in _texts(fig)
    assert ax.get_ylabel() == "P(event rate > 0.2 | data)"
    assert ax.get_xlim()[1] == pytest.approx(10.5)


def test_monitoring_plot_empty() -> None:
    fig = fg.monitoring_plot(pd.DataFrame(columns=["n", "events", "post_prob"]), 0.2, 0.8, 3)
    assert "No subjects evaluated" in _texts(fig)


# ------------------------------------------------------------------------------------------------
# Common behaviour
# ------------------------------------------------------------------------------------------------


def test_missing_columns_raise_analysis_error() -> None:
    with pytest.raises(AnalysisError, match=r"F14\.2\.3 waterfall.*PCHG"):
        fg.waterfall(pd.DataFrame({"USUBJID": ["a"], "AVISIT": ["Day 7"]}), "x")
    with pytest.raises(AnalysisError, match="post_prob"):
        fg.monitoring_plot(pd.DataFrame({"n": [1], "x": [0]}), 0.2, 0.8, 3)


def test_log_ticks() -> None:
    assert log_ticks(0.45, 1.5) == [0.5, 0.7, 1.0, 1.5]  # 1-1.5-2-3-5-7: 4 ticks
    assert log_ticks(0.55, 1.3) == [0.6, 0.7, 0.8, 0.9, 1.0, 1.2]  # finest set
    assert log_ticks(0.05, 200) == [0.1, 1.0, 10.0, 100.0]
    assert log_ticks(0.0, 1.0) == []


BUILDERS: dict[str, Callable[[], Figure]] = {
    "spaghetti": lambda: fg.spaghetti(_values(), "TBIL", "Total bilirubin", "umol/L", True),
    "prepost": lambda: fg.prepost_paired(
        pd.DataFrame({"USUBJID": SUBJECTS, "SESSNUM": [1, 1, 1], "PRE": [1.0, 2.0, 3.0],
                      "POST": [0.5, 2.5, 2.0]}), "INR", "INR"),
    "waterfall": lambda: fg.waterfall(
        pd.DataFrame({"USUBJID": SUBJECTS, "AVISIT": ["Day 7"] * 3, "PCHG": [-1.0, 3.0, 2.0]}),
        "INR"),
    "forest": lambda: fg.forest(pd.DataFrame({"label": ["a"], "estimate": [0.8],
                                             "conf_low": [0.6], "conf_high": [1.1], "n": [9]})),
    "ae": lambda: fg.ae_dotplot(_incidence()),
    "grid": lambda: fg.spaghetti_grid(_values(), [fg.ParameterSpec("TBIL", "TBil", "umol/L", True),
                                                  fg.ParameterSpec("CRP", "CRP", "mg/L", True)]),
    "empty-ae": lambda: fg.ae_dotplot(_incidence().iloc[0:0]),
    "swimmer": lambda: fg.swimmer(*_swimmer_inputs(), cutoff="2025-01-31"),
    "km": lambda: fg.kaplan_meier_plot(*_km()),
    "monitoring": lambda: fg.monitoring_plot(
        pd.DataFrame({"n": [1, 2], "x": [0, 1], "post_prob": [0.1, 0.5]}), 0.2, 0.8, 3),
}


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_figures_are_deterministic(name: str, tmp_path: Path) -> None:
    first = save_figure(BUILDERS[name](), tmp_path / "a" / name, dpi=40)
    second = save_figure(BUILDERS[name](), tmp_path / "b" / name, dpi=40)
    for fmt in ("png", "svg"):
        assert first[fmt].read_bytes() == second[fmt].read_bytes(), fmt


def test_hepatic_deterministic(tmp_path: Path) -> None:
    peaks = pd.DataFrame({"USUBJID": ["S-001"], "ALT_ULN": [1.5], "TBIL_ULN": [10.0],
                          "ALT_BASE": [0.8], "TBIL_BASE": [0.5]})
    a = save_figure(fg.hepatic_safety(peaks), tmp_path / "a", formats=("svg",), dpi=40)
    b = save_figure(fg.hepatic_safety(peaks), tmp_path / "b", formats=("svg",), dpi=40)
    assert a["svg"].read_bytes() == b["svg"].read_bytes()
