"""Tables 14.1.1-14.1.3 (disposition, analysis sets, demographics) and 14.2.8 (survival).

Every cell is read from one ARD row (:func:`~msc_analysis.render.table.cell_from_ard`); titles,
populations and footnotes come from the SAP's TFL list.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from msc_analysis.render.formatting import (
    fmt_ci,
    fmt_mean_sd,
    fmt_median_q1q3,
    fmt_min_max,
    fmt_n,
    fmt_n_pct,
    fmt_num,
    is_missing,
)
from msc_analysis.render.table import (
    Column,
    DisplayTable,
    TableBuilder,
    cell_from_ard,
    header_with_n,
)
from msc_analysis.sap import Sap

LABELS: dict[str, str] = {
    "AGE": "Age (years)",
    "MELDSCR": "MELD score at screening",
    "SEX": "Sex",
    "ETIOL": "Etiology",
    "LFTYPE": "Liver failure type",
    "HEGRBL": "Hepatic encephalopathy grade (West Haven)",
}


def _group_levels(ard: pd.DataFrame, analysis_id: str) -> tuple[str, list[str]]:
    rows = ard[(ard["analysis_id"] == analysis_id) & (ard["stat_name"] == "N")]
    if rows.empty:
        return "TRT", []
    return str(rows["group1"].iloc[0]), list(dict.fromkeys(rows["group1_level"]))


def _builder(ard: pd.DataFrame, sap: Sap, tfl_id: str, n_variable: str,
             stub: str = "") -> tuple[TableBuilder, str, list[str]]:
    tfl = sap.tfl(tfl_id)
    analysis_id = tfl.analysis_ids[0]
    by, levels = _group_levels(ard, analysis_id)
    columns = []
    for i, level in enumerate(levels):
        n = cell_from_ard(ard, analysis_id, "N", {by: level}, fmt_n, variable=n_variable).text
        columns.append(Column(f"c{i}", header_with_n(level, int(n))))
    population = sap.analysis_sets[tfl.population].label
    b = TableBuilder(tfl.number, tfl.title, population, columns, footnotes=tfl.footnotes,
                     stub_header=stub, analysis_ids=tfl.analysis_ids)
    return b, by, levels


def _n_pct_row(b: TableBuilder, ard: pd.DataFrame, analysis_id: str, by: str,
               levels: Sequence[str], variable: str, level: str, label: str,
               indent: int = 0) -> None:
    cells = {
        f"c{i}": cell_from_ard(ard, analysis_id, ["n", "pct"], {by: lv},
                               lambda n, pct: fmt_n_pct(n, None, pct=pct),
                               variable=variable, variable_level=level, allow_missing=True,
                               missing_text="0")
        for i, lv in enumerate(levels)
    }
    b.add_row(label, cells, indent=indent)


def disposition_table(ard: pd.DataFrame, sap: Sap) -> DisplayTable:
    """Table 14.1.1 Subject Disposition."""
    b, by, levels = _builder(ard, sap, "T14.1.1", "USUBJID")
    status = ard[(ard["analysis_id"] == "DISP") & (ard["variable"] == "STATUS")]
    for label in dict.fromkeys(status["variable_level"]):
        _n_pct_row(b, ard, "DISP", by, levels, "STATUS", label, label)
        if label == "Discontinued the study":
            reasons = ard[(ard["analysis_id"] == "DISP") & (ard["variable"] == "DCSREAS")]
            for reason in sorted(dict.fromkeys(reasons["variable_level"])):
                _n_pct_row(b, ard, "DISP", by, levels, "DCSREAS", reason,
                           reason.capitalize(), indent=1)
    b.add_footnote("Percentages are of enrolled subjects. Status at the data cut-off.")
    return b.build()


def analysis_sets_table(ard: pd.DataFrame, sap: Sap) -> DisplayTable:
    """Table 14.1.2 Analysis Sets."""
    b, by, levels = _builder(ard, sap, "T14.1.2", "ENRLFL")
    for code, aset in sap.analysis_sets.items():
        _n_pct_row(b, ard, "ASETS", by, levels, aset.flag, code, aset.label)
    for aset in sap.analysis_sets.values():
        b.add_footnote(f"{aset.label}: {aset.definition}")
    return b.build()


def demographics_table(ard: pd.DataFrame, sap: Sap) -> DisplayTable:
    """Table 14.1.3 Demographics and Baseline Characteristics."""
    b, by, levels = _builder(ard, sap, "T14.1.3", "USUBJID")
    demo = ard[ard["analysis_id"] == "DEMO"]
    for var in dict.fromkeys(demo["variable"]):
        if var in ("USUBJID", "BASE"):
            continue
        if demo[(demo["variable"] == var) & (demo["stat_name"] == "mean")].empty:
            b.add_row(LABELS.get(var, var))
            for level in sorted(dict.fromkeys(
                    demo.loc[demo["variable"] == var, "variable_level"])):
                _n_pct_row(b, ard, "DEMO", by, levels, var, level, level, indent=1)
        else:
            _continuous_rows(b, ard, by, levels, var, {}, LABELS.get(var, var), decimals=0)
    base = demo[demo["variable"] == "BASE"]
    params = [p for p in sap.parameters if p in set(base["group2_level"])]
    for paramcd in params:
        label = f"Baseline {sap.parameters[paramcd].label}"
        _continuous_rows(b, ard, by, levels, "BASE", {"PARAMCD": paramcd}, label,
                         decimals=sap.parameters[paramcd].decimals,
                         geometric=sap.parameters[paramcd].scale == "log")
    b.add_footnote("Baseline: last non-missing value before the start of the first session.")
    b.add_footnote("Q1, Q3: quartiles (SAS QNTLDEF=5). Geometric CV = 100 x sqrt(exp(s^2) - 1).")
    return b.build()


def _continuous_rows(b: TableBuilder, ard: pd.DataFrame, by: str, levels: Sequence[str],
                     variable: str, extra: dict[str, str], label: str, decimals: int,
                     geometric: bool = False) -> None:
    b.add_row(label)
    specs = [
        ("n", ["n"], fmt_n),
        ("Mean (SD)", ["mean", "sd"], lambda m, s: fmt_mean_sd(m, s, decimals + 1, decimals + 2)),
        ("Median (Q1, Q3)", ["median", "q1", "q3"],
         lambda m, q1, q3: fmt_median_q1q3(m, q1, q3, decimals + 1)),
        ("Min, Max", ["min", "max"], lambda lo, hi: fmt_min_max(lo, hi, decimals)),
    ]
    if geometric:
        specs.append(("Geometric mean (geometric CV %)", ["geo_mean", "geo_cv"],
                      lambda g, cv: f"{fmt_num(g, decimals + 1)} ({fmt_num(cv, 1) or 'NE'})"))
    for row_label, names, formatter in specs:
        cells = {f"c{i}": cell_from_ard(ard, "DEMO", names, {by: lv, **extra}, formatter,
                                        variable=variable)
                 for i, lv in enumerate(levels)}
        b.add_row(row_label, cells, indent=1)


def survival_table(ard: pd.DataFrame, sap: Sap) -> DisplayTable:
    """Table 14.2.8 Transplant-free survival (Kaplan-Meier) at the landmark days."""
    tfl = sap.tfl("T14.2.8")
    rows = ard[ard["analysis_id"] == "SURV-TFS"]
    n = cell_from_ard(ard, "SURV-TFS", "N", {"PARAMCD": "TFS"}, fmt_n, variable="AVAL")
    column = Column("c0", header_with_n("All treated subjects", int(n.text)))
    b = TableBuilder(tfl.number, tfl.title, sap.analysis_sets[tfl.population].label, [column],
                     footnotes=tfl.footnotes, analysis_ids=tfl.analysis_ids)
    b.add_row("Subjects with an event (death or transplant)",
              {"c0": cell_from_ard(ard, "SURV-TFS", "n_events", {"PARAMCD": "TFS"}, fmt_n,
                                   variable="AVAL")})
    pct = f"{100 * sap.conf_level:g}"
    not_estimable = []
    for day in dict.fromkeys(rows.loc[rows["group2"] == "DAY", "group2_level"]):
        at = {"PARAMCD": "TFS", "DAY": day}
        b.add_row(f"Day {day}")
        b.add_row("Subjects at risk", {"c0": cell_from_ard(ard, "SURV-TFS", "n", at, fmt_n,
                                                           variable="AVAL")}, indent=1)
        estimate = cell_from_ard(
            ard, "SURV-TFS", ["estimate", "conf_low", "conf_high"], at,
            lambda s, lo, hi: "NE" if is_missing(s)
            else f"{fmt_num(100 * s, 1)} {fmt_ci(100 * lo, 100 * hi, 1)}", variable="AVAL")
        if estimate.text == "NE":
            not_estimable.append(f"Day {day}")
        b.add_row(f"Transplant-free survival, % ({pct}% CI)", {"c0": estimate}, indent=1)
    b.add_footnote("Time from the start of the first session to death or liver transplant; "
                   "subjects without either are censored at the date last known alive, "
                   "and at Day 90.")
    b.add_footnote("Kaplan-Meier estimate; Greenwood standard error; log-transformed confidence "
                   "interval (R survfit default).")
    if not_estimable:
        b.add_footnote(f"NE: not estimable at {' and '.join(not_estimable)}: no subject was "
                       "followed up to that day by the data cut-off.")
    return b.build()
