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
from typing import Any

import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.colors import to_hex
from matplotlib.figure import Figure

from msc_analysis.errors import AnalysisError
from msc_analysis.render import figures as fg
from msc_analysis.render.figures._common import FIGSIZE, GREY, log_ticks
from msc_analysis.render.figures.biomarkers import PREPOST_ROW_HEIGHT
from msc_analysis.render.style import OKABE_ITO, save_figure
from msc_analysis.report import figures_step
from msc_analysis.report.build import compute
from msc_analysis.sap import load_sap

REPO = Path(__file__).resolve().parents[1]
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
# F14.2.2 and F14.2.3: one row of panels per parameter
# ------------------------------------------------------------------------------------------------

TBIL = fg.ParameterSpec("TBIL", "Total bilirubin", "umol/L", log_scale=True)
PTA = fg.ParameterSpec("PTA", "Prothrombin activity", "%", log_scale=False)
INR = fg.ParameterSpec("INR", "Prothrombin INR", "ratio", log_scale=True)


def _grid(fig: Figure) -> dict[tuple[int, int], Axes]:
    """The panels of a figure by (row, column) of its grid."""
    return {(ax.get_subplotspec().rowspan.start, ax.get_subplotspec().colspan.start): ax
            for ax in fig.axes}


def _panel_gids(ax: Axes, prefix: str) -> list[str]:
    return sorted(str(a.get_gid()) for a in [*ax.lines, *ax.patches, *ax.texts]
                  if str(a.get_gid()).startswith(prefix))


def _legend_texts(fig: Figure) -> list[str]:
    return [t.get_text() for leg in fig.legends for t in leg.get_texts()]


def _pairs() -> pd.DataFrame:
    """TBIL over two sessions (one POST missing) and PTA in session 1 only."""
    tbil = pd.DataFrame({
        "PARAMCD": "TBIL",
        "USUBJID": [*SUBJECTS, *SUBJECTS],
        "SESSNUM": [1, 1, 1, 2, 2, 2],
        "PRE": [100.0, 200.0, 400.0, 100.0, 100.0, 100.0],
        "POST": [50.0, 100.0, 800.0, 100.0, 200.0, np.nan],
    })
    pta = pd.DataFrame({"PARAMCD": "PTA", "USUBJID": SUBJECTS, "SESSNUM": [1, 1, 1],
                        "PRE": [20.0, 30.0, 40.0], "POST": [30.0, 25.0, 41.0]})
    return pd.concat([tbil, pta], ignore_index=True)


def test_prepost_paired_one_row_per_parameter() -> None:
    fig = fg.prepost_paired(_pairs(), [TBIL, PTA])
    grid = _grid(fig)
    assert sorted(grid) == [(0, 0), (0, 1), (1, 0), (1, 1)]  # 2 parameters x 2 sessions
    # column titles on the top row only
    assert [grid[0, c].get_title() for c in (0, 1)] == ["Session 1", "Session 2"]
    assert [grid[1, c].get_title() for c in (0, 1)] == ["", ""]
    # which subjects in which panel
    assert _panel_gids(grid[0, 0], "subject-") == [f"subject-TBIL-{s}" for s in SUBJECTS]
    assert _panel_gids(grid[0, 1], "subject-") == ["subject-TBIL-S-001", "subject-TBIL-S-002"]
    assert _panel_gids(grid[0, 1], "single-") == ["single-TBIL-S-003"]
    assert _panel_gids(grid[1, 0], "subject-") == [f"subject-PTA-{s}" for s in SUBJECTS]
    assert not _panel_gids(grid[1, 1], "subject-")
    assert _panel_gids(grid[1, 1], "no-values-") == ["no-values-PTA"]  # no PTA in session 2
    # colours: fell blue, rose vermillion, unchanged grey
    def colour(ax: Axes, gid: str) -> str:
        return to_hex(next(ln for ln in ax.lines if ln.get_gid() == gid).get_color())

    assert colour(grid[0, 0], "subject-TBIL-S-001") == OKABE_ITO["blue"].lower()  # 100 -> 50
    assert colour(grid[0, 0], "subject-TBIL-S-003") == OKABE_ITO["vermillion"].lower()  # 400->800
    assert colour(grid[0, 1], "subject-TBIL-S-001") == to_hex(GREY)  # 100 -> 100
    assert colour(grid[0, 1], "subject-TBIL-S-002") == OKABE_ITO["vermillion"].lower()
    assert colour(grid[1, 0], "subject-PTA-S-002") == OKABE_ITO["blue"].lower()  # 30 -> 25
    assert colour(grid[1, 0], "subject-PTA-S-001") == OKABE_ITO["vermillion"].lower()  # 20 -> 30
    # geometric mean on the log row: pre (100*200*400)^(1/3) = 200, post (50*100*800)^(1/3)
    summary = next(ln for ln in grid[0, 0].lines if ln.get_gid() == "summary-TBIL")
    np.testing.assert_allclose(summary.get_ydata(), [200.0, 4_000_000 ** (1 / 3)])
    summary2 = next(ln for ln in grid[0, 1].lines if ln.get_gid() == "summary-TBIL")
    np.testing.assert_allclose(summary2.get_ydata(), [100.0, math.sqrt(100 * 200)])
    # arithmetic mean on the linear row: pre (20+30+40)/3 = 30, post (30+25+41)/3 = 32
    summary_pta = next(ln for ln in grid[1, 0].lines if ln.get_gid() == "summary-PTA")
    np.testing.assert_allclose(summary_pta.get_ydata(), [30.0, 32.0])
    # log axis only on the log-scale row; y shared within a row only
    assert [grid[0, c].get_yscale() for c in (0, 1)] == ["log", "log"]
    assert [grid[1, c].get_yscale() for c in (0, 1)] == ["linear", "linear"]
    assert grid[0, 0].get_ylim() == grid[0, 1].get_ylim() != grid[1, 0].get_ylim()
    # each row labelled with its parameter and unit, on its first panel (the unit on a line of
    # its own when the label is longer than a row is high)
    assert grid[0, 0].get_ylabel() == "Total bilirubin\n(umol/L)"
    assert grid[1, 0].get_ylabel() == "Prothrombin activity\n(%)"
    assert grid[0, 1].get_ylabel() == grid[1, 1].get_ylabel() == ""
    # one legend for the figure, saying the mean is geometric on the log rows
    assert len(fig.legends) == 1
    assert _legend_texts(fig) == ["Decrease", "Increase",
                                  "Mean of subjects with both values (geometric on log axes)"]


def test_prepost_paired_single_parameter_is_one_row() -> None:
    fig = fg.prepost_paired(_pairs(), TBIL)  # PARAMCD filters the TBIL rows
    grid = _grid(fig)
    assert sorted(grid) == [(0, 0), (0, 1)]
    assert tuple(fig.get_size_inches()) == FIGSIZE
    assert len(_gids(fig, "subject-TBIL-")) == 5 and not _gids(fig, "subject-PTA-")
    assert grid[0, 0].get_ylabel() == "Total bilirubin (umol/L)"
    assert _legend_texts(fig)[-1] == "Geometric mean (subjects with both values)"
    # without PARAMCD, a single parameter takes every row
    one = _pairs().query("PARAMCD == 'PTA'").drop(columns="PARAMCD")
    fig = fg.prepost_paired(one, [PTA])
    assert len(_gids(fig, "subject-PTA-")) == 3
    assert _legend_texts(fig)[-1] == "Mean (subjects with both values)"


def test_prepost_paired_empty_row_and_empty_figure() -> None:
    fig = fg.prepost_paired(_pairs(), [TBIL, INR, PTA])
    grid = _grid(fig)
    assert sorted({r for r, _ in grid}) == [0, 1, 2]
    assert _panel_gids(grid[1, 0], "no-data") == ["no-data"]  # INR has no values: a row says so
    assert _panel_gids(grid[1, 1], "no-data") == ["no-data"]
    assert grid[1, 0].get_ylabel() == "Prothrombin INR\n(ratio)"  # too long for one line
    assert grid[2, 0].get_yscale() == "linear"
    fig = fg.prepost_paired(pd.DataFrame(columns=["USUBJID", "SESSNUM", "PRE", "POST"]), TBIL)
    assert _gids(fig, "no-data")
    assert "Total bilirubin: no session values" in _texts(fig)


def test_prepost_paired_rows_stay_legible() -> None:
    """Six rows: the figure grows so each panel keeps >= 1.2 in of height and 8 pt text."""
    specs = [fg.ParameterSpec(f"P{i}", f"Parameter {i}", "u", i % 2 == 0) for i in range(6)]
    pairs = pd.concat([_pairs().assign(PARAMCD=s.paramcd) for s in specs], ignore_index=True)
    fig = fg.prepost_paired(pairs, specs)
    width, height = fig.get_size_inches()
    assert width == FIGSIZE[0]
    assert height == pytest.approx(6 * PREPOST_ROW_HEIGHT + 0.8)
    for ax in fig.axes:
        assert ax.get_position().height * height >= 1.2
        sizes = [t.get_fontsize() for t in [*ax.get_xticklabels(), *ax.get_yticklabels(),
                                            ax.yaxis.label, ax.title]]
        assert min(sizes) >= 8
    assert [_grid(fig)[r, 0].get_yscale() for r in range(6)] == ["log", "linear"] * 3


def test_prepost_paired_input_errors() -> None:
    with pytest.raises(AnalysisError, match=r"F14\.2\.2 prepost_paired.*PARAMCD"):
        fg.prepost_paired(_pairs().drop(columns="PARAMCD"), [TBIL, PTA])
    with pytest.raises(AnalysisError, match="ParameterSpec"):
        fg.prepost_paired(_pairs(), "TBIL")  # type: ignore[arg-type]


def _pchg() -> pd.DataFrame:
    tbil = pd.DataFrame({
        "PARAMCD": "TBIL",
        "USUBJID": ["S-001", "S-002", "S-003", "S-004", "S-001", "S-002"],
        "AVISIT": ["Day 7"] * 4 + ["Day 28"] * 2,
        "PCHG": [-10.0, 25.0, -40.0, np.nan, 5.0, -5.0],
    })
    inr = pd.DataFrame({"PARAMCD": "INR", "USUBJID": ["S-001", "S-002", "S-003"],
                        "AVISIT": ["Day 7"] * 3, "PCHG": [12.0, -3.0, 0.0]})
    return pd.concat([tbil, inr], ignore_index=True)


def test_waterfall_one_row_per_parameter() -> None:
    fig = fg.waterfall(_pchg(), [TBIL, INR])
    grid = _grid(fig)
    assert sorted(grid) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert [grid[0, c].get_title() for c in (0, 1)] == ["Day 7", "Day 28"]
    assert [grid[1, c].get_title() for c in (0, 1)] == ["", ""]
    # bars sorted from the largest rise to the largest fall, in the right panel
    ax7 = grid[0, 0]
    assert [b.get_height() for b in ax7.patches] == [25.0, -10.0, -40.0]
    assert [b.get_gid() for b in ax7.patches] == ["bar-TBIL-S-002", "bar-TBIL-S-001",
                                                  "bar-TBIL-S-003"]
    assert [to_hex(b.get_facecolor()) for b in ax7.patches] == [
        OKABE_ITO["vermillion"].lower(), OKABE_ITO["blue"].lower(), OKABE_ITO["blue"].lower()]
    assert [t.get_text() for t in ax7.get_xticklabels()] == ["002", "001", "003"]
    assert ax7.get_xlabel() == "Subject (1 without a value)"
    assert [b.get_height() for b in grid[0, 1].patches] == [5.0, -5.0]
    inr7 = grid[1, 0]
    assert [b.get_gid() for b in inr7.patches] == ["bar-INR-S-001", "bar-INR-S-003",
                                                   "bar-INR-S-002"]
    assert [to_hex(b.get_facecolor()) for b in inr7.patches] == [
        OKABE_ITO["vermillion"].lower(), to_hex(GREY), OKABE_ITO["blue"].lower()]
    assert inr7.get_xlabel() == "Subject"
    assert "No values at Day 28" in [t.get_text() for t in grid[1, 1].texts]  # INR at Day 28
    # each row its own percent-change axis, linear
    # (wrapped, the unit on a line of its own, to fit the height of a row)
    assert grid[0, 0].get_ylabel() == "Total bilirubin\n(% change)"
    assert grid[1, 0].get_ylabel() == "Prothrombin INR\n(% change)"
    assert {ax.get_yscale() for ax in fig.axes} == {"linear"}
    assert len(fig.legends) == 1 and _legend_texts(fig) == ["Increase", "Decrease"]


def test_waterfall_single_parameter_and_missing_visit() -> None:
    pchg = pd.DataFrame({"USUBJID": ["S-001"], "AVISIT": ["Day 7"], "PCHG": [-10.0]})
    fig = fg.waterfall(pchg, fg.ParameterSpec("TBIL", "TBil"))
    assert sorted(_grid(fig)) == [(0, 0), (0, 1)]
    assert tuple(fig.get_size_inches()) == FIGSIZE
    assert "No values at Day 28" in _texts(fig)
    with pytest.raises(AnalysisError, match=r"F14\.2\.3 waterfall.*PARAMCD"):
        fg.waterfall(pchg, [TBIL, INR])


def test_waterfall_many_bars_are_counted_not_labelled() -> None:
    ids = [f"S-{i:03d}" for i in range(60)]
    pchg = pd.DataFrame({"USUBJID": ids, "AVISIT": "Day 7", "PCHG": np.linspace(-50, 50, 60)})
    fig = fg.waterfall(pchg, TBIL, visits=("Day 7",))
    ax = fig.axes[0]
    assert len(ax.patches) == 60
    assert ax.get_xticklabels() == [] or all(not t.get_text() for t in ax.get_xticklabels())
    assert ax.get_xlabel() == "60 subjects"
    # a panel about 5.8 in wide: 12 ids fit level, 30 only rotated (60 not at all)
    fig = fg.waterfall(pchg.iloc[:12], TBIL, visits=("Day 7",))
    assert {t.get_rotation() for t in fig.axes[0].get_xticklabels()} == {0.0}
    fig = fg.waterfall(pchg.iloc[:30], TBIL, visits=("Day 7",))
    assert {t.get_rotation() for t in fig.axes[0].get_xticklabels()} == {90.0}
    assert fig.axes[0].get_xlabel() == "Subject"


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


def test_hepatic_labels_of_close_points_do_not_overlap() -> None:
    # Three subjects at (almost) one point and one far away: the lone point keeps the first
    # spot (3, 3) points above right; the three crowded labels each get a spot of their own.
    peaks = pd.DataFrame({"USUBJID": ["S-001", "S-002", "S-003", "S-004"],
                          "ALT_ULN": [5.0, 5.01, 5.02, 40.0], "TBIL_ULN": [10.0] * 3 + [3.0],
                          "ALT_BASE": [1.0] * 4, "TBIL_BASE": [1.0] * 4})
    fig = fg.hepatic_safety(peaks)
    uln = fig.axes[0]
    spots = {a.get_text(): a.xyann for a in uln.texts if a.get_gid() == "label"}
    assert sorted(spots) == ["001", "002", "003", "004"]
    assert spots["004"] == (3, 3)
    crowded = [spots[k] for k in ("001", "002", "003")]
    assert len(set(crowded)) == 3
    leaders = {a.get_text() for a in uln.texts if a.get_gid() == "label" and a.arrow_patch}
    assert leaders <= {"001", "002", "003"}


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


def test_monitoring_plot_marks_provisional_points() -> None:
    # SAP 9.1: subjects 3 and 4 were inside their window at the cut-off; subject 4 also stops
    mon = pd.DataFrame({"n": [1, 2, 3, 4], "x": [1, 2, 2, 3],
                        "post_prob": [0.85, 0.90, 0.70, 0.95],
                        "provisional": [False, False, True, True]})
    fig = fg.monitoring_plot(mon, threshold=0.2, prob_cutoff=0.8, min_subjects=3)
    ax = fig.axes[0]
    open_points = [ln for ln in ax.lines if ln.get_gid() == "provisional"]
    assert sorted(float(v) for ln in open_points for v in ln.get_xdata()) == [3.0, 4.0]
    assert all(ln.get_markerfacecolor() == "white" for ln in open_points)
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "Provisional (window open at the cut-off)" in labels
    # without provisional points: no open marker and no legend entry
    fig = fg.monitoring_plot(mon.assign(provisional=False), 0.2, 0.8, 3)
    assert not [ln for ln in fig.axes[0].lines if ln.get_gid() == "provisional"]
    assert "Provisional (window open at the cut-off)" not in [
        t.get_text() for t in fig.legends[0].get_texts()]


def test_monitoring_plot_empty() -> None:
    fig = fg.monitoring_plot(pd.DataFrame(columns=["n", "events", "post_prob"]), 0.2, 0.8, 3)
    assert "No subjects evaluated" in _texts(fig)


# ------------------------------------------------------------------------------------------------
# Common behaviour
# ------------------------------------------------------------------------------------------------


def test_missing_columns_raise_analysis_error() -> None:
    with pytest.raises(AnalysisError, match=r"F14\.2\.3 waterfall.*PCHG"):
        fg.waterfall(pd.DataFrame({"USUBJID": ["a"], "AVISIT": ["Day 7"]}),
                     fg.ParameterSpec("X", "x"))
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
                      "POST": [0.5, 2.5, 2.0]}), fg.ParameterSpec("INR", "INR")),
    "prepost-rows": lambda: fg.prepost_paired(_pairs(), [TBIL, INR, PTA]),
    "waterfall": lambda: fg.waterfall(
        pd.DataFrame({"USUBJID": SUBJECTS, "AVISIT": ["Day 7"] * 3, "PCHG": [-1.0, 3.0, 2.0]}),
        fg.ParameterSpec("INR", "INR")),
    "waterfall-rows": lambda: fg.waterfall(_pchg(), [TBIL, INR]),
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


# ------------------------------------------------------------------------------------------------
# F14.2.2 and F14.2.3 of the report: every biomarker of the SAP
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def report_results() -> Any:
    """The report's results for data/synthetic (computed once for this module)."""
    return compute(REPO / "data" / "synthetic", sap=load_sap(REPO / "sap" / "sap.toml"))


def _row_codes(fig: Figure, prefix: str) -> list[str]:
    """The PARAMCD of each row of a report figure, read from the gids of its first panel."""
    grid = _grid(fig)
    codes = []
    for row in sorted({r for r, _ in grid}):
        gids = {str(a.get_gid()) for a in [*grid[row, 0].lines, *grid[row, 0].patches]}
        found = {g[len(prefix):].split("-", 1)[0] for g in gids if g.startswith(prefix)}
        assert len(found) == 1, (row, found)
        codes.append(found.pop())
    return codes


def test_report_f14_2_2_has_a_row_per_sap_biomarker(report_results: Any) -> None:
    sap = report_results.sap
    assert sap.biomarkers == ("TBIL", "INR", "PTA", "IL6", "TNFA", "CRP")
    fig = figures_step.BUILDERS["F14.2.2"][0](report_results, 60)
    grid = _grid(fig)
    n_sessions = int(report_results.prepost.pairs["SESSNUM"].max())
    assert sorted(grid) == [(r, c) for r in range(6) for c in range(n_sessions)]
    assert _row_codes(fig, "subject-") == list(sap.biomarkers)
    for row, code in enumerate(sap.biomarkers):
        param = sap.parameters[code]
        assert grid[row, 0].get_ylabel().replace("\n", " ") == (
            f"{param.label.split(' (')[0]} ({param.unit})")
        assert grid[row, 0].get_yscale() == ("log" if param.scale == "log" else "linear")
    # session 1 of TBIL shows exactly the subjects with a session-1 TBIL value
    pairs = report_results.prepost.pairs
    s1 = pairs[(pairs["PARAMCD"] == "TBIL") & (pairs["SESSNUM"] == 1)
               & (pairs["PRE"].notna() | pairs["POST"].notna())]
    shown = [g.split("-", 2)[2] for g in _panel_gids(grid[0, 0], "subject-")
             + _panel_gids(grid[0, 0], "single-")]
    assert sorted(shown) == sorted(s1["USUBJID"])
    # the cap on subjects still applies, to every row alike
    capped = figures_step.BUILDERS["F14.2.2"][0](report_results, 3)
    subjects = {str(g.get_gid()).split("-", 2)[2] for g in _gids(capped, "subject-")}
    assert subjects == set(sorted(pairs["USUBJID"].unique())[:3])
    assert _row_codes(capped, "subject-") == list(sap.biomarkers)


def test_report_f14_2_3_has_a_row_per_sap_biomarker(report_results: Any) -> None:
    sap = report_results.sap
    fig = figures_step.BUILDERS["F14.2.3"][0](report_results, 60)
    grid = _grid(fig)
    assert sorted(grid) == [(r, c) for r in range(6) for c in range(2)]
    assert [grid[0, c].get_title() for c in (0, 1)] == ["Day 7", "Day 28"]
    assert _row_codes(fig, "bar-") == list(sap.biomarkers)
    for row, code in enumerate(sap.biomarkers):
        label = grid[row, 0].get_ylabel().replace("\n", " ")
        assert label == f"{sap.parameters[code].label.split(' (')[0]} (% change)"
    alt = figures_step.BUILDERS["F14.2.3"][1]
    assert "each biomarker" in alt and "Bilirubin" not in alt


def test_report_f14_3_4_numbers_at_risk_every_two_weeks_and_at_day_90(
        report_results: Any) -> None:
    # data/synthetic's 9 treated subjects, transplant-free survival times (days; ADTTE AVAL):
    # 90, 90, 90, 89, 90 and 75 censored; 5 and 14 deaths, 43 a transplant. At risk on day d:
    # the subjects with a time >= d, counted by hand.
    times = sorted(report_results.tte["AVAL"].tolist())
    assert times == [5, 14, 43, 75, 89, 90, 90, 90, 90]
    fig = figures_step.BUILDERS["F14.3.4"][0](report_results, 60)
    ax, ax_tab = fig.axes
    texts = [(t.get_position()[0], t.get_text()) for t in ax_tab.texts
             if t.get_gid() == "at-risk"]
    assert texts == [(0, "9"), (14, "8"), (28, "7"), (42, "7"), (56, "6"), (70, "6"), (84, "5"),
                     (90, "4")]
    assert list(ax.get_xticks()) == [0, 14, 28, 42, 56, 70, 84, 90]
    assert ax.get_xlim() == (0, 90)
    # the landmark days agree with the numbers at risk of Table 14.2.8 (ARD rows of SURV-TFS)
    ard = report_results.ard
    at_risk = ard[(ard["analysis_id"] == "SURV-TFS") & (ard["stat_name"] == "n")
                  & (ard["group2"] == "DAY")]
    ard_n = {int(float(d)): int(n) for d, n in zip(at_risk["group2_level"], at_risk["stat"],
                                                   strict=True)}
    assert ard_n == {28: 7, 90: 4} == {int(x): int(t) for x, t in texts if x in (28, 90)}


def test_report_f14_3_3_shows_the_safety_set_only(report_results: Any) -> None:
    # Subject 002 of data/synthetic was enrolled but never treated (SAFFL = N): it has
    # screening values only, no post-baseline value, and is not in the SAP's population (SAF).
    adsl = report_results.study.adsl
    saf = sorted(adsl.loc[adsl["SAFFL"] == "Y", "SUBJID"])
    assert "002" not in saf and len(saf) == 9
    fig = figures_step.BUILDERS["F14.3.3"][0](report_results, 60)
    for ax in fig.axes:
        labels = sorted(t.get_text() for t in ax.texts if t.get_text().isdigit())
        assert labels == saf
        (points,) = [line for line in ax.lines if line.get_gid() == "points"]
        assert len(points.get_xdata()) == 9
        assert not [t for t in ax.texts if "without values" in t.get_text()]
