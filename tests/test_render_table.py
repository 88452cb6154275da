"""Tests of the display-table model and the ARD cell builder (msc_analysis.render.table)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from msc_analysis import ard
from msc_analysis.ard import ARD_COLUMNS, ArdError
from msc_analysis.render.formatting import fmt_mean_sd, fmt_n_pct, fmt_p
from msc_analysis.render.table import (
    TRACE_COLUMNS,
    BodyRow,
    Cell,
    Column,
    DisplayTable,
    TableBuilder,
    cell_from_ard,
    header_with_n,
)


def soc_pt_ard() -> pd.DataFrame:
    """A small SOC/PT ARD: SOC rows carry only AESOC, PT rows AESOC and AEDECOD."""
    b = ard.ArdBuilder("SAF-AESOCPT")
    soc = {"AESOC": "Infections and infestations"}
    pt = {**soc, "AEDECOD": "Sepsis"}
    b.add("USUBJID", "N", 10)
    b.add("USUBJID", "n", 3, groups=soc)
    b.add("USUBJID", "pct", 30.0, groups=soc)
    b.add("USUBJID", "n", 2, groups=pt)
    b.add("USUBJID", "pct", 20.0, groups=pt)
    return b.frame()


def lab_ard() -> pd.DataFrame:
    b = ard.ArdBuilder("SAF-LBSUM", {"PARAMCD": "TBIL"})
    b.add_many("AVAL", {"n": 10, "mean": 123.456, "sd": 45.6789}, groups={"AVISIT": "Baseline"})
    b.add_many("AVAL", {"n": 9, "mean": 98.765, "sd": float("nan")}, groups={"AVISIT": "Day 7"})
    b.add("AVAL", "p_value", 0.000042, groups={"AVISIT": "Day 7"}, method="paired t")
    return b.frame()


def test_cell_from_ard_reads_and_traces_each_number() -> None:
    a = lab_ard()
    cell = cell_from_ard(a, "SAF-LBSUM", ["mean", "sd"], {"PARAMCD": "TBIL", "AVISIT": "Baseline"},
                         lambda m, s: fmt_mean_sd(m, s, 2))
    assert cell.text == "123.46 (45.679)"  # hand: 123.456 -> 123.46, 45.6789 -> 45.679
    assert list(cell.trace.columns) == list(ARD_COLUMNS)
    assert cell.trace["stat_name"].tolist() == ["mean", "sd"]
    assert cell.trace["stat"].tolist() == [123.456, 45.6789]  # unrounded


def test_cell_from_ard_single_stat_name_and_missing_value() -> None:
    a = lab_ard()
    cell = cell_from_ard(a, "SAF-LBSUM", "p_value", {"AVISIT": "Day 7"}, fmt_p)
    assert cell.text == "<0.0001"
    cell = cell_from_ard(a, "SAF-LBSUM", ("mean", "sd"), {"AVISIT": "Day 7"},
                         lambda m, s: fmt_mean_sd(m, s, 2))
    assert cell.text == "98.77 (NE)"  # hand: 98.765 is a decimal half -> 98.77
    assert math.isnan(cell.trace["stat"].iloc[1])


def test_cell_from_ard_raises_unless_exactly_one_row() -> None:
    a = lab_ard()
    with pytest.raises(ArdError, match="found 0"):
        cell_from_ard(a, "SAF-LBSUM", "mean", {"AVISIT": "Day 14"}, str)
    with pytest.raises(ArdError, match="found 2"):  # both visits match PARAMCD alone
        cell_from_ard(a, "SAF-LBSUM", "mean", {"PARAMCD": "TBIL"}, str)
    with pytest.raises(ArdError, match="found 2"):  # duplicated row
        cell_from_ard(pd.concat([a, a], ignore_index=True), "SAF-LBSUM", "p_value",
                      {"AVISIT": "Day 7"}, fmt_p)


def test_cell_from_ard_exact_groups_separates_soc_from_pt() -> None:
    a = soc_pt_ard()
    soc = {"AESOC": "Infections and infestations"}

    def fmt(n: float, pct: float) -> str:
        return fmt_n_pct(n, None, pct=pct)

    with pytest.raises(ArdError, match="found 2"):  # SOC filter also matches the PT row
        cell_from_ard(a, "SAF-AESOCPT", ["n", "pct"], soc, fmt)
    cell = cell_from_ard(a, "SAF-AESOCPT", ["n", "pct"], soc, fmt, exact_groups=True)
    assert cell.text == "3 (30.0)"
    assert set(cell.trace["group2"]) == {""}
    pt = cell_from_ard(a, "SAF-AESOCPT", ["n", "pct"], {**soc, "AEDECOD": "Sepsis"}, fmt,
                       exact_groups=True)
    assert pt.text == "2 (20.0)"
    big_n = cell_from_ard(a, "SAF-AESOCPT", "N", {}, lambda n: f"N = {n:g}", exact_groups=True)
    assert big_n.text == "N = 10"


def test_cell_from_ard_allow_missing() -> None:
    a = soc_pt_ard()
    cell = cell_from_ard(a, "SAF-AESOCPT", ["n", "pct"], {"AESOC": "Cardiac disorders"},
                         lambda n, p: "x", allow_missing=True, missing_text="0")
    assert cell.text == "0" and len(cell.trace) == 0
    with pytest.raises(ArdError):  # partial match is still an error
        cell_from_ard(a, "SAF-AESOCPT", ["n", "mean"], {"AESOC": "Infections and infestations"},
                      lambda n, m: "x", allow_missing=True, exact_groups=True)


def test_builder_builds_table_with_trace_data() -> None:
    a = soc_pt_ard()
    soc = {"AESOC": "Infections and infestations"}
    b = TableBuilder("14.3.1.2", "TEAEs by SOC and PT", "Safety Set",
                     [Column("msc", header_with_n("MSC bioreactor", 10))],
                     footnotes=["Subjects are counted once per SOC and PT."],
                     stub_header="System organ class\n  Preferred term")

    def fmt(n: float, pct: float) -> str:
        return fmt_n_pct(n, None, pct=pct)

    b.add_row("Infections and infestations",
              {"msc": cell_from_ard(a, "SAF-AESOCPT", ["n", "pct"], soc, fmt, exact_groups=True)})
    b.add_row("Sepsis", {"msc": cell_from_ard(a, "SAF-AESOCPT", ["n", "pct"],
                                              {**soc, "AEDECOD": "Sepsis"}, fmt)}, indent=1)
    b.add_row("Note row", {"msc": "text only"})
    t = b.build()
    assert t.caption == "Table 14.3.1.2 TEAEs by SOC and PT"
    assert t.columns[0].header_lines == ("MSC bioreactor", "N = 10")
    assert t.analysis_ids == ("SAF-AESOCPT",)
    assert [r.text("msc") for r in t.rows] == ["3 (30.0)", "2 (20.0)", "text only"]
    assert [r.indent for r in t.rows] == [0, 1, 0]
    # data: one row per displayed number, with where it lands
    assert tuple(t.data.columns) == TRACE_COLUMNS
    assert t.data["row"].tolist() == [0, 0, 1, 1]
    assert t.data["column"].tolist() == ["msc"] * 4
    assert t.data["cell_text"].tolist() == ["3 (30.0)", "3 (30.0)", "2 (20.0)", "2 (20.0)"]
    assert t.data["stat"].tolist() == [3.0, 30.0, 2.0, 20.0]
    body = t.body_frame()
    assert body.columns.tolist() == ["group", "indent", "label", "msc"]
    assert body["label"].tolist() == ["Infections and infestations", "Sepsis", "Note row"]


def test_builder_rejects_unknown_column() -> None:
    b = TableBuilder("1", "T", "P", [Column("a", "A")])
    with pytest.raises(ValueError, match="unknown columns"):
        b.add_row("x", {"b": "1"})


def test_empty_builder_and_declared_ids() -> None:
    t = TableBuilder("1", "T", "P", [Column("a", "A")], analysis_ids=["X-1"]).build()
    assert t.rows == () and len(t.data) == 0 and t.analysis_ids == ("X-1",)
    assert tuple(t.data.columns) == TRACE_COLUMNS


def test_display_table_validation() -> None:
    cols = (Column("a", "A"),)
    with pytest.raises(ValueError, match="duplicate"):
        DisplayTable("1", "T", "P", (Column("a", "A"), Column("a", "B")), ())
    with pytest.raises(ValueError, match="unknown"):
        DisplayTable("1", "T", "P", cols, (BodyRow("r", {"z": "1"}),))
    with pytest.raises(ValueError, match="number and a title"):
        DisplayTable("", "T", "P", cols, ())
    with pytest.raises(ValueError, match="data columns"):
        DisplayTable("1", "T", "P", cols, (), data=pd.DataFrame({"x": [1]}))
    with pytest.raises(ValueError, match="align"):
        Column("a", "A", align="middle")
    with pytest.raises(ValueError, match="indent"):
        BodyRow("r", indent=-1)
    with pytest.raises(TypeError, match="display strings"):
        BodyRow("r", {"a": 1.5})  # type: ignore[dict-item]


def test_display_table_is_frozen() -> None:
    t = DisplayTable("1", "T", "P", (Column("a", "A"),), (BodyRow("r", {"a": "1"}),))
    with pytest.raises(AttributeError):
        t.title = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        t.rows[0].cells["a"] = "2"  # type: ignore[index]


def test_from_frame() -> None:
    body = pd.DataFrame({
        "group": ["Total bilirubin", "Total bilirubin"],
        "indent": [1, 1],
        "label": ["n", "Mean (SD)"],
        "s1": ["10", "123.46 (45.679)"],
        "s2": ["9", None],
    })
    t = DisplayTable.from_frame("14.3.4.1", "Lab summary", "Safety Set",
                                [Column("s1", "Session 1"), Column("s2", "Session 2")], body,
                                footnotes=("SD: standard deviation.",))
    assert [r.group for r in t.rows] == ["Total bilirubin"] * 2
    assert t.rows[1].text("s2") == "" and t.rows[1].indent == 1
    assert t.footnotes == ("SD: standard deviation.",)
    with pytest.raises(ValueError, match="lacks"):
        DisplayTable.from_frame("1", "T", "P", [Column("zz", "Z")], body)


def test_header_with_n() -> None:
    assert header_with_n("MSC", 10) == "MSC\nN = 10"
    assert header_with_n("MSC", 10.0) == "MSC\nN = 10"
    assert header_with_n("MSC", None) == "MSC"
    with pytest.raises(ValueError):
        header_with_n("MSC", 2.5)


def test_cell_default_trace_is_empty_ard() -> None:
    c = Cell("x")
    assert list(c.trace.columns) == list(ARD_COLUMNS) and len(c.trace) == 0


def test_builder_traces_cells_of_two_ards_in_row_then_column_order() -> None:
    # Cells read from two different ARD frames, interleaved: the table's data keeps the order
    # in which the numbers appear (row by row, then column by column), whichever ARD each is in.
    lab, soc = lab_ard(), soc_pt_ard()
    b = TableBuilder("1", "T", "Set", [Column("a", "A"), Column("b", "B")])
    b.add_row("r1", {
        "a": cell_from_ard(soc, "SAF-AESOCPT", "n", {"AESOC": "Infections and infestations"},
                           str, exact_groups=True),
        "b": cell_from_ard(lab, "SAF-LBSUM", ["mean", "sd"],
                           {"PARAMCD": "TBIL", "AVISIT": "Baseline"}, lambda m, s: f"{m} {s}"),
    })
    b.add_row("r2", {
        "a": cell_from_ard(lab, "SAF-LBSUM", "n", {"PARAMCD": "TBIL", "AVISIT": "Day 7"}, str),
        "b": cell_from_ard(soc, "SAF-AESOCPT", "N", {}, str),
    })
    data = b.build().data
    assert data["analysis_id"].tolist() == ["SAF-AESOCPT", "SAF-LBSUM", "SAF-LBSUM",
                                            "SAF-LBSUM", "SAF-AESOCPT"]
    assert data["stat"].tolist() == [3.0, 123.456, 45.6789, 9.0, 10.0]
    assert data["column"].tolist() == ["a", "b", "b", "a", "b"]
    assert data["row"].tolist() == [0, 0, 0, 1, 1]
