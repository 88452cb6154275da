"""Tables 14.1.1-14.1.3 and 14.2.8: every number read from the ARD, titles from the SAP."""

from __future__ import annotations

import pandas as pd

from msc_analysis.analyses.population import analysis_sets, demographics, disposition
from msc_analysis.analyses.survival import transplant_free_survival
from msc_analysis.render.population_tables import (
    analysis_sets_table,
    demographics_table,
    disposition_table,
    survival_table,
)
from msc_analysis.render.table import SPREAD_NE_NOTE
from msc_analysis.sap import load_sap

SAP = load_sap()


def _labels(table) -> list[str]:
    return [r.label for r in table.rows]


def test_disposition_table_cells_and_header(small_adsl: pd.DataFrame) -> None:
    adsl = small_adsl.assign(TRT01A="MSC-ALSS")
    table = disposition_table(disposition(adsl, by="TRT01A"), SAP)
    assert table.number == "14.1.1" and table.title == SAP.tfl("T14.1.1").title
    assert table.columns[0].header == "MSC-ALSS\nN = 5"
    body = table.body_frame().set_index("label")
    assert body.loc["Discontinued the study", "c0"] == "3 (60.0)"
    assert body.loc["Death", "c0"] == "1 (20.0)"  # reason, indented under discontinued
    assert body.loc["Completed the study", "c0"] == "1 (20.0)"
    # every displayed number has its ARD row in the table's data
    assert set(table.data["analysis_id"]) == {"DISP"}
    assert len(table.data) == 2 * sum(1 for r in table.rows if r.text("c0"))


def test_analysis_sets_and_demographics_tables(small_adsl: pd.DataFrame) -> None:
    sets = analysis_sets_table(analysis_sets(small_adsl), SAP)
    body = sets.body_frame().set_index("label")
    assert body.loc["Full Analysis Set", "c0"] == "3 (60.0)"
    labs = pd.DataFrame({"USUBJID": ["S1", "S2"], "PARAMCD": ["TBIL", "TBIL"],
                         "BASE": [200.0, 800.0]})
    demo = demographics_table(demographics(small_adsl, labs, log_params={"TBIL": True}), SAP)
    rows = demo.body_frame()
    age = rows.index[rows["label"] == "Age (years)"][0]
    assert rows.loc[age + 2, "label"] == "Mean (SD)"
    assert rows.loc[age + 2, "c0"] == "45.2 (12.03)"  # mean 45.2, SD 12.0291 (by hand)
    geo = rows[rows["label"] == "Geometric mean (geometric CV %)"]["c0"].iloc[0]
    assert geo.startswith("400.00")  # sqrt(200 * 800) = 400, TBil 1 decimal + 1


def test_survival_table() -> None:
    tte = pd.DataFrame({"AVAL": [10.0, 20.0, 61.0, 90.0], "CNSR": [0, 0, 1, 1]})
    table = survival_table(transplant_free_survival(tte, conf_level=0.95), SAP)
    body = table.body_frame()
    assert table.columns[0].header.endswith("N = 4")
    est = body[body["label"].str.startswith("Transplant-free survival")]["c0"].tolist()
    assert est[0].startswith("50.0 (")  # S(28) = 3/4 * 2/3 = 0.5


def test_demographics_of_one_subject_explain_ne(small_adsl: pd.DataFrame) -> None:
    one = small_adsl.iloc[:1]
    labs = pd.DataFrame({"USUBJID": ["S1"], "PARAMCD": ["TBIL"], "BASE": [200.0]})
    demo = demographics_table(demographics(one, labs, log_params={"TBIL": True}), SAP)
    rows = demo.body_frame()
    assert rows.loc[rows["label"] == "Mean (SD)", "c0"].iloc[0] == "30.0 (NE)"
    assert demo.footnotes[-1] == SPREAD_NE_NOTE
    two = pd.DataFrame({"USUBJID": ["S1", "S2"], "PARAMCD": ["TBIL", "TBIL"],
                        "BASE": [200.0, 800.0]})
    many = demographics_table(demographics(small_adsl, two, log_params={"TBIL": True}), SAP)
    assert SPREAD_NE_NOTE not in many.footnotes
