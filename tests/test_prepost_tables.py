"""Tables 14.2.1-14.2.7 rendered from the PP-* ARD of the hand-made study.

The displayed numbers are checked against values computed here from the toy data with numpy
and rounded half away from zero by hand, and every number is checked to trace to an ARD row.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from msc_analysis.analyses.prepost import run_prepost
from msc_analysis.ard import ARD_COLUMNS
from msc_analysis.io.issues import DataIssues
from msc_analysis.render.prepost_tables import prepost_tables
from msc_analysis.render.writers import to_html
from msc_analysis.sap import load_sap
from test_prepost_analyses import SAP_PATH, TB_POST1, TB_PRE1, toy_study


@pytest.fixture(scope="module")
def sap():
    return load_sap(SAP_PATH)


@pytest.fixture(scope="module")
def ard(sap):
    return run_prepost(toy_study(), sap, DataIssues())


@pytest.fixture(scope="module")
def tables(ard, sap):
    return {t.number: t for t in prepost_tables(ard, sap)}


def _cell(table, group: str, label: str, column: str, occurrence: int = 0) -> str:
    body = table.body_frame()
    hits = body.loc[(body["group"] == group) & (body["label"] == label), column]
    return str(hits.iloc[occurrence])


def test_the_sap_tables_of_section_14_2_are_built(tables, sap) -> None:
    assert sorted(tables) == ["14.2.1", "14.2.2", "14.2.3", "14.2.4", "14.2.5", "14.2.6",
                              "14.2.7"]
    for number, table in tables.items():
        tfl = next(t for t in sap.tfls if t.kind == "table" and t.number == number)
        assert table.title == tfl.title
        assert table.population == "Full Analysis Set"
        for footnote in tfl.footnotes:
            assert footnote in table.footnotes


def test_every_number_traces_to_one_ard_row(tables, ard) -> None:
    keyed = ard.set_index(list(ARD_COLUMNS[:-2]))["stat"]
    for table in tables.values():
        assert len(table.data) > 0
        assert set(table.data["analysis_id"]) <= {"PP-SESS", "PP-RR", "PP-FU", "PP-MMRM",
                                                  "PP-MELD", "PP-HOLM", "PP-LLOQ"}
        for rec in table.data.to_dict("records"):
            key = tuple(rec[c] for c in ARD_COLUMNS[:-2])
            value = keyed.loc[key]
            assert np.isscalar(value) or len(value) == 1
            assert float(np.asarray(value).ravel()[0]) == pytest.approx(rec["stat"], nan_ok=True)


def test_session_table_cells_by_hand(tables) -> None:
    t = tables["14.2.1"]
    group = "Total Bilirubin (umol/L)"
    # geometric mean ratio post/pre of session 1, numpy logs, 3 decimals (sap.decimals.ratio)
    logr = np.log(np.array(TB_POST1) / np.array(TB_PRE1))
    half = 2.306004135033371 * logr.std(ddof=1) / 3.0      # qt(0.975, 8) in R
    gmr = (math.exp(logr.mean()), math.exp(logr.mean() - half), math.exp(logr.mean() + half))
    assert [round(v, 3) for v in gmr] == [0.728, 0.539, 0.983]
    assert _cell(t, group, "Geometric mean ratio post/pre (95% CI)", "s1") == \
        "0.728 (0.539, 0.983)"
    # pre-session mean (SD): TBIL has 1 raw decimal -> mean 2, SD 3 decimals
    pre = np.array(TB_PRE1)
    assert f"{pre.mean():.2f} ({pre.std(ddof=1):.3f})" == "176.67 (71.559)"
    assert _cell(t, group, "Mean (SD)", "s1") == "176.67 (71.559)"
    # exact signed-rank p = 20/512 = 0.0390625 -> 0.0391
    assert _cell(t, group, "p-value", "s1", occurrence=1) == "0.0391"
    assert _cell(t, group, "No post-session value", "s2") == "1"


def test_labels_follow_the_sap_confidence_level(sap) -> None:
    sap90 = dataclasses.replace(sap, conf_level=0.90)
    ard90 = run_prepost(toy_study(), sap90, DataIssues())
    t = {x.number: x for x in prepost_tables(ard90, sap90)}["14.2.1"]
    labels = set(t.body_frame()["label"])
    assert "Geometric mean ratio post/pre (90% CI)" in labels
    assert not any("95%" in label for label in labels)


def test_a_table_without_its_analysis_is_not_built(ard, sap) -> None:
    numbers = [t.number for t in prepost_tables(ard.loc[ard["analysis_id"] != "PP-HOLM"], sap)]
    assert "14.2.6" not in numbers and "14.2.1" in numbers


def test_html_rendering_escapes_and_contains_caption(tables) -> None:
    html = to_html(tables["14.2.3"])
    assert "Table 14.2.3" in html and "Death before the visit" in html
    assert isinstance(tables["14.2.3"].data, pd.DataFrame)


def test_a_duplicated_ard_row_is_an_error_not_a_guess(ard, sap) -> None:
    from msc_analysis.ard import ArdError

    row = ard.loc[(ard["analysis_id"] == "PP-RR") & (ard["stat_name"] == "mean")].head(1)
    with pytest.raises(ArdError, match="expected one ARD row"):
        prepost_tables(pd.concat([ard, row], ignore_index=True), sap)


def test_achieved_level_is_shown_when_it_is_not_the_sap_level() -> None:
    # With a 90 % level, PTA session 3 of the synthetic study has too few non-zero differences
    # for the signed-rank interval to reach 90 %: R's wilcox.test reports the level it achieves.
    from msc_analysis.io.loading import load_study
    from msc_analysis.render.prepost_tables import sessions_table
    from msc_analysis.sap import load_sap

    repo = Path(__file__).resolve().parents[1]
    sap = dataclasses.replace(load_sap(repo / "sap" / "sap.toml"), conf_level=0.90)
    study = load_study(repo / "data" / "synthetic", analyses=("efficacy",))
    ard = run_prepost(study, sap, DataIssues())
    odd = ard[(ard["analysis_id"] == "PP-SESS") & (ard["stat_name"] == "conf_level")
              & (ard["variable_level"] == "signed-rank") & (ard["stat"].round(9) != 0.9)]
    assert len(odd) >= 1
    level = float(odd["stat"].iloc[0])
    table = sessions_table(ard, sap)
    texts = [c for r in table.rows for c in r.cells.values()]
    assert any(t.endswith(f"; {100 * level:.1f}% level)") for t in texts)
    assert any("level the interval achieves" in f for f in table.footnotes)
    # the nominal intervals carry no level text
    assert sum("% level)" in t for t in texts) <= len(
        ard[(ard["analysis_id"] == "PP-SESS") & (ard["stat_name"] == "conf_level")
            & (ard["stat"].round(9) != 0.9)])
