"""Safety tables 14.3.x and listings 16.2.7-16.2.8, rendered from ARD rows.

Every number is read from one ARD row, matched through the ARD's index
(:func:`msc_analysis.ard.index_for`, the rule of :func:`~msc_analysis.render.table.cell_from_ard`);
titles, populations and SAP footnotes come from the SAP's TFL list. Columns: one per group of
the ARD's header rows (``variable = "SAFFL"``, stat ``N``), labelled with the group and its N.

Ordering of SOC / PT rows: descending number of subjects (summed over the columns), then
alphabetically (case-insensitive, then exact) -- so ties are broken the same way every run.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from msc_analysis.analyses.safety_listings import group_column
from msc_analysis.analyses.safety_monitoring import BEYOND, parse_window_method
from msc_analysis.ard import ARD_COLUMNS, ArdError, index_for
from msc_analysis.render.column_text import texts_per_distinct
from msc_analysis.render.formatting import (
    fmt_ci,
    fmt_mean_sd,
    fmt_min_max,
    fmt_n,
    fmt_n_pct,
    fmt_num,
    is_missing,
)
from msc_analysis.render.table import (
    TRACE_COLUMNS,
    BodyRow,
    Column,
    DisplayTable,
    cell_from_ard,
    empty_trace,
    header_with_n,
)

__all__ = [
    "LISTING_COLUMNS",
    "LISTING_GROUP_LABELS",
    "LISTING_STUB",
    "SAFETY_TABLES",
    "ListingColumn",
    "ae_by_grade_table",
    "ae_overview_table",
    "ae_sessions_table",
    "ae_soc_pt_table",
    "exposure_table",
    "lab_grade3_table",
    "lab_shift_table",
    "lab_summary_table",
    "listing_display",
    "listing_table",
    "monitoring_boundaries_table",
    "monitoring_oc_table",
    "monitoring_table",
    "soc_pt_order",
    "vital_signs_table",
]

HEADER_VARIABLE = "SAFFL"

_RELATIONSHIP = {"AERELDEV": "the device", "AERELMSC": "the MSCs", "AERELPRC": "the procedure",
                 "AEREL": "study treatment", "ANY": "the device, the MSCs or the procedure"}
_SERIOUSNESS = {
    "AESDTH": "Results in death", "AESLIFE": "Life-threatening",
    "AESHOSP": "Requires or prolongs hospitalisation",
    "AESDISAB": "Persistent or significant disability/incapacity",
    "AESCONG": "Congenital anomaly or birth defect",
    "AESMIE": "Other medically important event", "AESCAN": "Cancer", "AESOD": "Overdose",
}
_ATPT = {"PRE": "Pre-session", "DURING": "During session", "POST": "Post-session"}
_VS_LABELS = {"SYSBP": "Systolic blood pressure (mmHg)", "DIABP": "Diastolic blood pressure "
              "(mmHg)", "PULSE": "Heart rate (beats/min)", "TEMP": "Temperature (C)"}


# The ARD of a safety run has tens of thousands of rows and a table thousands of cells. Cells
# are matched through the ARD's index (msc_analysis.ard.index_for: the rule of cell_from_ard and
# ard.lookup) and keep just the positions of their rows (_Hit); _Builder assembles the traces of
# all cells into one frame at the end. A cell whose statistics do not each match one row is an
# empty cell when allowed and no statistic matches, else cell_from_ard raises its error.


@dataclass(frozen=True, eq=False)
class _Hit:
    """A cell read through the index: its text and the ARD positions of its statistics."""

    text: str
    positions: tuple[int, ...]
    source: pd.DataFrame


def _cell(ard: pd.DataFrame, aid: str, stat_names: str | Sequence[str],
          filters: dict[str, str] | None, formatter: Callable[..., str], *,
          variable: str | None = None, variable_level: object | None = None,
          allow_missing: bool = False) -> _Hit:
    """One cell: the text and positions of one ARD row per statistic (empty when allowed and
    no row matches); :func:`cell_from_ard` raises for any other case."""
    names = (stat_names,) if isinstance(stat_names, str) else tuple(stat_names)
    level = None if variable_level is None else str(variable_level)
    index = index_for(ard)
    found = index.one_per_stat(aid, names, variable=variable, variable_level=level,
                               levels=filters)
    if found is None:
        if allow_missing and not any(index.has(aid, n, variable=variable, variable_level=level,
                                               levels=filters) for n in names):
            return _Hit("", (), ard)
        # A statistic without its one row: cell_from_ard raises the ARD's error for it.
        cell_from_ard(ard, aid, list(names), filters, formatter, variable=variable,
                      variable_level=level)
        raise ArdError(f"no single ARD row per statistic for {aid}/{names}")  # not reached
    text = formatter(*index.values(found))
    if not isinstance(text, str):
        raise TypeError(f"formatter for {aid}/{names} returned {type(text).__name__}")
    return _Hit(text, tuple(found), ard)


class _Builder:
    """:class:`~msc_analysis.render.table.TableBuilder` for cells read through the index."""

    def __init__(self, number: str, title: str, population: str, columns: Sequence[Column], *,
                 footnotes: Sequence[str] = (), stub_header: str = "",
                 analysis_ids: Sequence[str] = (), kind: str = "Table") -> None:
        self.number, self.title, self.population, self.kind = number, title, population, kind
        self.columns = tuple(columns)
        self.footnotes = list(footnotes)
        self.stub_header = stub_header
        self._ids = list(analysis_ids)
        self._keys = [c.key for c in self.columns]
        self._rows: list[BodyRow] = []
        self._hits: list[tuple[int, str, str, str, _Hit]] = []

    def add_row(self, label: str, cells: dict[str, object] | None = None, *, indent: int = 0,
                group: str = "") -> None:
        """Append a body row; cells are :class:`_Hit` or plain strings."""
        cells = dict(cells or {})
        unknown = sorted(set(cells) - set(self._keys))
        if unknown:
            raise ValueError(f"table {self.number}: row {label!r} names unknown columns {unknown}")
        row = len(self._rows)
        texts: dict[str, str] = {}
        for key in self._keys:
            if key not in cells:
                continue
            cell = cells[key]
            if isinstance(cell, _Hit):
                texts[key] = cell.text
                if cell.positions:
                    self._hits.append((row, group, label, key, cell))
            else:
                texts[key] = str(cell)
        self._rows.append(BodyRow(label, texts, indent=indent, group=group))

    def add_footnote(self, text: str) -> None:
        """Append a footnote."""
        self.footnotes.append(text)

    def build(self) -> DisplayTable:
        """The table, with the traces of every cell in row then column order."""
        parts: list[pd.DataFrame] = []
        run: list[tuple[int, str, str, str, _Hit]] = []

        def flush() -> None:
            if not run:
                return
            source = run[0][4].source
            pos = [p for *_, h in run for p in h.positions]
            frame = source.iloc[pos][list(ARD_COLUMNS)].reset_index(drop=True)
            reps = [len(h.positions) for *_, h in run]
            meta = {
                "table": [self.number] * len(pos),
                "row": np.repeat([r for r, *_ in run], reps),
                "row_group": np.repeat([g for _, g, *_ in run], reps),
                "row_label": np.repeat([lb for _, _, lb, *_ in run], reps),
                "column": np.repeat([k for *_, k, _ in run], reps),
                "cell_text": np.repeat([h.text for *_, h in run], reps),
            }
            parts.append(pd.concat([pd.DataFrame(meta), frame], axis=1))
            run.clear()

        for entry in self._hits:
            if run and run[0][4].source is not entry[4].source:
                flush()
            run.append(entry)
        flush()
        data = empty_trace()
        if parts:
            data = pd.concat(parts, ignore_index=True)[list(TRACE_COLUMNS)]
            data["row"] = data["row"].astype("int64")
            data["stat"] = data["stat"].astype(float)
            for c in TRACE_COLUMNS:
                if c not in ("row", "stat"):
                    data[c] = data[c].astype(str)
        ids = list(dict.fromkeys([*self._ids, *data["analysis_id"].tolist()]))
        return DisplayTable(number=self.number, title=self.title, population=self.population,
                            columns=self.columns, rows=tuple(self._rows),
                            footnotes=tuple(self.footnotes), analysis_ids=tuple(ids),
                            data=data.reset_index(drop=True), stub_header=self.stub_header,
                            kind=self.kind)


@dataclass(frozen=True)
class _Col:
    """One group of the table: its key prefix, label, ARD filter and population N."""

    key: str
    label: str
    filters: dict[str, str]
    n: int


def _groups(ard: pd.DataFrame, analysis_id: str) -> list[_Col]:
    rows = ard[(ard["analysis_id"] == analysis_id) & (ard["variable"] == HEADER_VARIABLE)
               & (ard["stat_name"] == "N")]
    out = []
    for i, row in enumerate(rows.itertuples(index=False)):
        filters = {row.group1: row.group1_level} if row.group1 else {}
        out.append(_Col(f"c{i}", str(row.variable_level), filters, int(row.stat)))
    if not out:
        raise ValueError(f"no {HEADER_VARIABLE} / N header rows for {analysis_id} in the ARD")
    return out


def _tfl(sap: object, tfl_id: str, default_title: str) -> tuple[str, str, str, tuple[str, ...]]:
    """(number, title, population label, footnotes) from the SAP's TFL list."""
    number = tfl_id[1:]
    try:
        tfl = sap.tfl(tfl_id)  # type: ignore[attr-defined]
    except Exception:  # a SAP without the TFL still renders
        return number, default_title, "Safety Set", ()
    sets = getattr(sap, "analysis_sets", {})
    population = sets[tfl.population].label if tfl.population in sets else tfl.population
    return tfl.number, tfl.title, population, tuple(tfl.footnotes)


def _builder(sap: object, tfl_id: str, default_title: str, columns: Sequence[Column],
             analysis_id: str, stub: str = "") -> _Builder:
    number, title, population, notes = _tfl(sap, tfl_id, default_title)
    return _Builder(number, title, population, columns, footnotes=notes, stub_header=stub,
                        analysis_ids=(analysis_id,))


def _pct_label(sap: object) -> str:
    return f"{100 * float(getattr(sap, 'conf_level', 0.95)):g}%"


def _n_pct(n: float, pct: float) -> str:
    """``"3 (33.3)"``; a count of 0 of no subjects (no percentage stored) is ``"0"``."""
    if not is_missing(n) and float(n) == 0 and is_missing(pct):
        return fmt_n(n)
    return fmt_n_pct(n, None, pct=pct)


def _n_of_total(n: float, N: float, pct: float) -> str:
    """``"3/9 (33.3)"`` with the conventions of :func:`fmt_n_pct` (``"0/9"``, ``"9/9 (100)"``)."""
    if not N:
        return f"{fmt_n(n)}/{fmt_n(N)}"
    text = fmt_n_pct(n, None, pct=pct)
    return f"{fmt_n(n)}/{fmt_n(N)}{text[len(fmt_n(n)):]}"


def _ci_pct(low: float, high: float) -> str:
    return fmt_ci(100 * low, 100 * high, 1)


# --------------------------------------------------------------------------------------------
# Adverse events
# --------------------------------------------------------------------------------------------


def _overview_label(variable: str, method_hint: str = "") -> tuple[str, int]:
    """Display label and indent of an overview row."""
    if variable == "TEAE":
        return "Any TEAE", 0
    if variable.startswith("TEAE_REL_"):
        return f"Related to {_RELATIONSHIP.get(variable[9:], variable[9:])}", 1
    if variable == "TEAE_GR3":
        return "CTCAE grade >= 3", 1
    if variable == "TEAE_SEVERE":
        return "Severe", 1
    if variable == "TEAE_SER":
        return "Serious", 1
    if variable.startswith("TEAE_SER_"):
        return _SERIOUSNESS.get(variable[9:], variable[9:]), 2
    if variable == "TEAE_INTR":
        return "Leading to interruption of a session", 1
    if variable == "TEAE_STOP":
        return "Leading to a stop of sessions", 1
    if variable == "TEAE_FATAL":
        return "Fatal", 1
    return variable, 1


def _incidence_columns(cols: Sequence[_Col], sap: object, ci: bool = True) -> list[Column]:
    out = []
    for c in cols:
        out.append(Column(f"{c.key}_n", header_with_n(c.label, c.n) + "\nn (%)"))
        if ci:
            out.append(Column(f"{c.key}_ci", f"{c.label}\n{_pct_label(sap)} CI (%)"))
        out.append(Column(f"{c.key}_e", f"{c.label}\nEvents"))
    return out


def _incidence_cells(ard: pd.DataFrame, analysis_id: str, cols: Sequence[_Col], variable: str,
                     level: str, extra: dict[str, str] | None = None,
                     ci: bool = True) -> dict[str, object]:
    cells: dict[str, object] = {}
    for c in cols:
        f = {**c.filters, **(extra or {})}
        cells[f"{c.key}_n"] = _cell(ard, analysis_id, ["n", "pct"], f, _n_pct,
                                            variable=variable, variable_level=level)
        if ci:
            cells[f"{c.key}_ci"] = _cell(ard, analysis_id, ["conf_low", "conf_high"], f,
                                                 _ci_pct, variable=variable,
                                                 variable_level=level)
        cells[f"{c.key}_e"] = _cell(ard, analysis_id, "n_events", f, fmt_n,
                                            variable=variable, variable_level=level)
    return cells


def ae_overview_table(ard: pd.DataFrame, sap: object) -> DisplayTable:
    """Table 14.3.1.1 Overview of treatment-emergent adverse events."""
    aid = "SAF-AEOV"
    cols = _groups(ard, aid)
    b = _builder(sap, "T14.3.1.1", "Overview of Treatment-Emergent Adverse Events",
                 _incidence_columns(cols, sap), aid, "Subjects with")
    rows = ard[(ard["analysis_id"] == aid) & (ard["variable"] != HEADER_VARIABLE)]
    for variable in dict.fromkeys(rows["variable"]):
        label, indent = _overview_label(variable)
        b.add_row(label, _incidence_cells(ard, aid, cols, variable, ""), indent=indent)
    b.add_footnote("n (%): subjects with at least one such TEAE; Events: number of TEAEs. "
                   "CI: Clopper-Pearson exact confidence interval of the percentage.")
    b.add_footnote("TEAE: onset on or after the start of the first session, up to the SAP's "
                   "follow-up window after the last session (TRTEMFL of the data when present).")
    b.add_footnote("Related: possibly, probably or definitely related; a missing relationship "
                   "counts as related. A TEAE without a grade is not counted as grade >= 3.")
    return b.build()


def soc_pt_order(ard: pd.DataFrame, analysis_id: str) -> list[tuple[str, list[str]]]:
    """SOCs and their PTs by descending subjects (summed over columns), then alphabetically."""
    rows = ard[(ard["analysis_id"] == analysis_id) & (ard["stat_name"] == "n")]
    soc = rows[rows["variable"] == "AEBODSYS"].groupby("variable_level")["stat"].sum()
    pts = rows[rows["variable"] == "AEDECOD"]
    soc_col = [c for c in ("group1", "group2") if (pts[c] == "AEBODSYS").any()]
    out = []
    for name in sorted(soc.index, key=lambda s: (-soc[s], s.lower(), s)):
        if soc[name] == 0:
            continue
        if soc_col:
            under = pts[pts[soc_col[0]] == "AEBODSYS"]
            under = under[under[f"{soc_col[0]}_level"] == name]
        else:
            under = pts.iloc[0:0]
        totals = under.groupby("variable_level")["stat"].sum()
        names = [p for p in sorted(totals.index, key=lambda p: (-totals[p], p.lower(), p))
                 if totals[p] > 0]
        out.append((name, names))
    return out


_SOC_PT = {
    "SAF-AESOCPT": ("T14.3.1.2", "Treatment-Emergent Adverse Events by System Organ Class and "
                                 "Preferred Term"),
    "SAF-AEREL": ("T14.3.1.4", "Related Treatment-Emergent Adverse Events"),
    "SAF-AESER": ("T14.3.1.5", "Serious Treatment-Emergent Adverse Events"),
}


def ae_soc_pt_table(ard: pd.DataFrame, sap: object,
                    analysis_id: str = "SAF-AESOCPT") -> DisplayTable:
    """Tables 14.3.1.2 (all TEAEs), 14.3.1.4 (related) and 14.3.1.5 (serious) by SOC and PT."""
    tfl_id, title = _SOC_PT[analysis_id]
    cols = _groups(ard, analysis_id)
    b = _builder(sap, tfl_id, title, _incidence_columns(cols, sap), analysis_id,
                 "System organ class\n  Preferred term")
    b.add_row("Subjects with at least one event",
              _incidence_cells(ard, analysis_id, cols, "TRTEMFL", "Y"))
    for soc, pts in soc_pt_order(ard, analysis_id):
        b.add_row(soc, _incidence_cells(ard, analysis_id, cols, "AEBODSYS", soc))
        for pt in pts:
            b.add_row(pt, _incidence_cells(ard, analysis_id, cols, "AEDECOD", pt,
                                           {"AEBODSYS": soc}), indent=1)
    b.add_footnote("A subject is counted once per SOC and once per PT; Events counts every "
                   "occurrence. Sorted by descending number of subjects, then alphabetically.")
    b.add_footnote("CI: Clopper-Pearson exact confidence interval of the percentage.")
    return b.build()


def ae_by_grade_table(ard: pd.DataFrame, sap: object) -> DisplayTable:
    """Table 14.3.1.3 TEAEs by SOC, PT and maximum grade."""
    aid = "SAF-AEGRADE"
    cols = _groups(ard, aid)
    rows = ard[(ard["analysis_id"] == aid) & (ard["stat_name"] == "n")]
    grades = _level_of(rows, "MAXGRADE")
    levels = list(dict.fromkeys(grades.dropna()))
    severity = len(rows) and rows["method"].iloc[0].startswith("maximum severity")
    names = {"1": "Mild", "2": "Moderate", "3": "Severe"} if severity else {}
    columns = [Column(f"{c.key}_{lv}", (header_with_n(c.label, c.n) if i == 0 else c.label)
                      + f"\n{names.get(lv, 'Grade ' + lv if lv not in ('Any', 'Missing') else lv)}")
               for c in cols for i, lv in enumerate(levels)]
    b = _builder(sap, "T14.3.1.3", "Treatment-Emergent Adverse Events by System Organ Class, "
                 "Preferred Term and Maximum CTCAE Grade", columns, aid,
                 "System organ class\n  Preferred term")

    def cells(variable: str, level: str, extra: dict[str, str]) -> dict[str, object]:
        return {f"{c.key}_{lv}": _cell(ard, aid, ["n", "pct"],
                                                {**c.filters, **extra, "MAXGRADE": lv}, _n_pct,
                                                variable=variable, variable_level=level)
                for c in cols for lv in levels}

    b.add_row("Subjects with at least one TEAE", cells("TRTEMFL", "Y", {}))
    order = soc_pt_order(rows.loc[grades == "Any"], aid)
    for soc, pts in order:
        b.add_row(soc, cells("AEBODSYS", soc, {}))
        for pt in pts:
            b.add_row(pt, cells("AEDECOD", pt, {"AEBODSYS": soc}), indent=1)
    b.add_footnote("Each subject is counted once per row, at the maximum grade of the row's "
                   "events; Missing: no event of the row has a grade. Any: all grades.")
    if severity:
        b.add_footnote("The data carry no CTCAE grade: the maximum severity (AESEV) is shown.")
    return b.build()


def _level_of(rows: pd.DataFrame, name: str) -> pd.Series:
    """Level of by-variable ``name`` on each row, wherever it sits (NaN when absent)."""
    out = pd.Series(index=rows.index, dtype=object)
    for i in (1, 2, 3):
        hit = rows[f"group{i}"] == name
        out[hit] = rows.loc[hit, f"group{i}_level"]
    return out


def ae_sessions_table(ard: pd.DataFrame, sap: object) -> DisplayTable:
    """Table 14.3.1.6 AEs during or within 24 h after a session, by session."""
    aid = "SAF-AESESS"
    cols = _groups(ard, aid)
    pct = _pct_label(sap)
    columns = []
    for c in cols:
        columns += [Column(f"{c.key}_s", header_with_n(c.label, c.n) + "\nSessions"),
                    Column(f"{c.key}_n", f"{c.label}\nSubjects with AE, n/N (%)"),
                    Column(f"{c.key}_e", f"{c.label}\nEvents"),
                    Column(f"{c.key}_r", f"{c.label}\nEvents per 100 sessions ({pct} CI)")]
    b = _builder(sap, "T14.3.1.6", "Adverse Events During or Within 24 Hours After a Session, "
                 "by Session", columns, aid, "Session")
    rows = ard[(ard["analysis_id"] == aid) & (ard["variable"] == "AE_SESSION")]
    sess_col = next((c for c in ("group1", "group2") if (rows[c] == "SESSNUM").any()), "group1")
    for k in dict.fromkeys(rows[f"{sess_col}_level"]):
        cells: dict[str, object] = {}
        for c in cols:
            f = {**c.filters, "SESSNUM": k}
            cells[f"{c.key}_s"] = _cell(ard, aid, "n_sessions", f, fmt_n,
                                                variable="AE_SESSION", variable_level="")
            cells[f"{c.key}_n"] = _cell(
                ard, aid, ["n", "N", "pct"], f,
                _n_of_total,
                variable="AE_SESSION", variable_level="")
            cells[f"{c.key}_e"] = _cell(ard, aid, "n_events", f, fmt_n,
                                                variable="AE_SESSION", variable_level="")
            cells[f"{c.key}_r"] = _cell(
                ard, aid, ["rate", "conf_low", "conf_high"], f,
                lambda r, lo, hi: f"{fmt_num(r, 1)} {fmt_ci(lo, hi, 1)}",
                variable="AE_SESSION", variable_level="", allow_missing=True)
        b.add_row("All sessions" if k == "All" else f"Session {k}", cells)
    hours = getattr(sap, "session_ae_window_hours", 24)
    b.add_footnote(f"AEs with onset during a session or within {hours:g} h after its end; with "
                   "only an onset date, AEs starting on the day of a session or on the next "
                   "calendar day are counted. An AE counts for the first session it matches.")
    b.add_footnote("Rate: events per 100 sessions started; exact Poisson confidence interval "
                   "(R poisson.test).")
    return b.build()


# --------------------------------------------------------------------------------------------
# Laboratory
# --------------------------------------------------------------------------------------------


def _param_label(sap: object, code: str) -> str:
    params = getattr(sap, "parameters", {})
    return params[code].label if code in params else code


def _param_decimals(sap: object, code: str, default: int = 1) -> int:
    params = getattr(sap, "parameters", {})
    return int(params[code].decimals) if code in params else default


def lab_summary_table(ard: pd.DataFrame, sap: object) -> DisplayTable:
    """Table 14.3.4.1 Laboratory values (and change from baseline) by visit."""
    aid = "SAF-LBSUM"
    cols = _groups(ard, aid)
    columns = []
    for c in cols:
        columns += [Column(f"{c.key}_n", header_with_n(c.label, c.n) + "\nn"),
                    Column(f"{c.key}_m", f"{c.label}\nMean (SD)"),
                    Column(f"{c.key}_r", f"{c.label}\nMedian (min, max)"),
                    Column(f"{c.key}_c", f"{c.label}\nChange: mean (SD)")]
    b = _builder(sap, "T14.3.4.1", "Laboratory Values by Visit", columns, aid, "Visit")
    rows = ard[(ard["analysis_id"] == aid) & (ard["variable"] == "AVAL")
               & (ard["stat_name"] == "n")]
    pcol = next((c for c in ("group1", "group2") if (rows[c] == "PARAMCD").any()), "group1")
    vcol = f"group{int(pcol[-1]) + 1}"
    chg = ard[(ard["analysis_id"] == aid) & (ard["variable"] == "CHG")]
    has_chg = set(zip(chg[f"{pcol}_level"], chg[f"{vcol}_level"], strict=True))
    for code in dict.fromkeys(rows[f"{pcol}_level"]):
        d = _param_decimals(sap, code)
        label = _param_label(sap, code)
        for visit in dict.fromkeys(rows.loc[rows[f"{pcol}_level"] == code, f"{vcol}_level"]):
            cells: dict[str, object] = {}
            for c in cols:
                f = {**c.filters, "PARAMCD": code, "AVISIT": visit}
                cells[f"{c.key}_n"] = _cell(ard, aid, "n", f, fmt_n, variable="AVAL",
                                            variable_level="")
                cells[f"{c.key}_m"] = _cell(
                    ard, aid, ["mean", "sd"], f, lambda m, s, d=d: fmt_mean_sd(m, s, d + 1, d + 2),
                    variable="AVAL", variable_level="")
                cells[f"{c.key}_r"] = _cell(
                    ard, aid, ["median", "min", "max"], f,
                    lambda m, lo, hi, d=d: "" if math.isnan(m) else
                    f"{fmt_num(m, d + 1)} ({fmt_min_max(lo, hi, d)})", variable="AVAL",
                    variable_level="")
                if (code, visit) in has_chg:
                    cells[f"{c.key}_c"] = _cell(
                        ard, aid, ["mean", "sd"], f,
                        lambda m, s, d=d: fmt_mean_sd(m, s, d + 1, d + 2), variable="CHG",
                        variable_level="",
                        allow_missing=True)
            b.add_row(visit, cells, group=label)
    b.add_footnote("Change: value minus baseline, at post-baseline visits. Baseline: the "
                   "data's BASE when present, else the last value before the first session.")
    b.add_footnote("Records without an analysis visit (unscheduled) are not summarised; they "
                   "are counted in data_issues.csv.")
    return b.build()


_GRADES = ("0", "1", "2", "3", "4")


def lab_shift_table(ard: pd.DataFrame, sap: object) -> DisplayTable:
    """Table 14.3.4.2 Baseline grade by worst post-baseline grade."""
    aid = "SAF-LBSHIFT"
    cols = _groups(ard, aid)
    columns = []
    for c in cols:
        for i, w in enumerate((*_GRADES, "Any")):
            head = header_with_n(c.label, c.n) if i == 0 else c.label
            columns.append(Column(f"{c.key}_{w}", f"{head}\nWorst post-baseline: "
                                                  f"{'Grade ' + w if w != 'Any' else 'Total'}"))
    b = _builder(sap, "T14.3.4.2", "Shift from Baseline CTCAE Grade to Worst Post-Baseline "
                 "Grade", columns, aid, "Baseline grade")
    nrows = ard[(ard["analysis_id"] == aid) & (ard["variable"] == "USUBJID")]
    pcol = next((c for c in ("group1", "group2") if (nrows[c] == "PARAMCD").any()), "group1")
    for code in dict.fromkeys(nrows[f"{pcol}_level"]):
        label = _param_label(sap, code)
        b.add_row("Subjects with baseline and post-baseline grades, N", {
            f"{c.key}_Any": _cell(ard, aid, "N", {**c.filters, "PARAMCD": code}, fmt_n,
                                          variable="USUBJID", variable_level="") for c in cols},
                  group=label)
        if not (nrows.loc[nrows[f"{pcol}_level"] == code, "stat"].astype(float) > 0).any():
            b.add_row("Not estimable: no subject with a baseline and a post-baseline grade",
                      group=label)
            continue
        for bg in (*_GRADES, "Missing"):
            cells = {f"{c.key}_{w}": _cell(
                ard, aid, ["n", "pct"], {**c.filters, "PARAMCD": code, "BGRADE": bg}, _n_pct,
                variable="WGRADE", variable_level=w) for c in cols for w in (*_GRADES, "Any")}
            b.add_row(f"Grade {bg}" if bg != "Missing" else "Missing", cells, group=label)
    b.add_footnote("Baseline and worst post-baseline grades are both graded against the normal "
                   "range and CTCAE's absolute cut-offs (never as multiples of baseline), so "
                   "that both are on one scale; grade 0: within the normal range.")
    b.add_footnote("Percentages of the subjects with baseline and post-baseline grades.")
    return b.build()


def lab_grade3_table(ard: pd.DataFrame, sap: object) -> DisplayTable:
    """Table 14.3.4.3 Subjects with laboratory values of CTCAE grade >= 3."""
    aid = "SAF-LBG3"
    cols = _groups(ard, aid)
    pct = _pct_label(sap)
    columns = []
    for c in cols:
        columns += [Column(f"{c.key}_n", header_with_n(c.label, c.n) + "\nGrade >= 3, n/N (%)"),
                    Column(f"{c.key}_ci", f"{c.label}\n{pct} CI (%)"),
                    Column(f"{c.key}_w", f"{c.label}\nWorse than baseline, n (%)")]
    b = _builder(sap, "T14.3.4.3", "Subjects with Laboratory Values of CTCAE Grade 3 or "
                 "Higher", columns, aid, "Parameter")
    rows = ard[(ard["analysis_id"] == aid) & (ard["variable"] == "USUBJID")]
    codes = list(dict.fromkeys(_level_of(rows, "PARAMCD").dropna()))
    not_estimable = False
    for code in [*codes, None]:
        cells: dict[str, object] = {}
        prefix = "ANY_" if code is None else ""
        for c in cols:
            f = dict(c.filters) if code is None else {**c.filters, "PARAMCD": code}
            cells[f"{c.key}_n"] = _cell(ard, aid, ["n", "N", "pct"], f, _n_of_total,
                                        variable="ATOXGRN", variable_level=f"{prefix}GE3")
            ci = _cell(ard, aid, ["conf_low", "conf_high"], f, _ci_pct, variable="ATOXGRN",
                       variable_level=f"{prefix}GE3", allow_missing=True)
            # no interval without a subject with a graded value (N = 0)
            cells[f"{c.key}_ci"] = ci if ci.positions else "NE"
            not_estimable = not_estimable or not ci.positions
            cells[f"{c.key}_w"] = _cell(ard, aid, ["n", "pct"], f, _n_pct, variable="ATOXGRN",
                                        variable_level=f"{prefix}GE3_WORSE")
        label = "Any parameter" if code is None else _param_label(sap, code)
        b.add_row(label, cells)
    b.add_footnote("Post-baseline values graded by CTCAE v5.0 on the SAP's basis: bilirubin, ALT "
                   "and AST as multiples of an abnormal baseline (CTCAE's abnormal-baseline "
                   "rule); INR, platelets, haemoglobin, fibrinogen and calcium against the normal "
                   "range and absolute cut-offs; creatinine against the ULN or baseline.")
    b.add_footnote("N: subjects with at least one graded post-baseline value. Worse than "
                   "baseline: grade >= 3 and above the grade of the baseline value. Calcium is "
                   "graded as measured (not corrected for albumin); INR on its absolute "
                   "cut-offs.")
    if not_estimable:
        b.add_footnote("NE: not estimable: no subject with a graded post-baseline value by the "
                       "data cut-off (N = 0).")
    return b.build()


# --------------------------------------------------------------------------------------------
# Exposure and vital signs
# --------------------------------------------------------------------------------------------


def _value_cells(ard: pd.DataFrame, aid: str, cols: Sequence[_Col], variable: str,
                 stat_names: Sequence[str], formatter: Callable[..., str],
                 extra: dict[str, str] | None = None, level: str | None = None,
                 allow_missing: bool = False) -> dict[str, object]:
    return {c.key: _cell(ard, aid, list(stat_names), {**c.filters, **(extra or {})},
                                 formatter, variable=variable, variable_level=level,
                                 allow_missing=allow_missing) for c in cols}


def _continuous(b: _Builder, ard: pd.DataFrame, aid: str, cols: Sequence[_Col],
                variable: str, label: str, decimals: int, extra: dict[str, str] | None = None,
                level: str | None = None, group: str = "") -> None:
    b.add_row(label, group=group)
    specs = [("n", ["n"], fmt_n),
             ("Mean (SD)", ["mean", "sd"], lambda m, s: fmt_mean_sd(m, s, decimals + 1,
                                                                   decimals + 2)),
             ("Median", ["median"], lambda m: fmt_num(m, decimals + 1)),
             ("Min, max", ["min", "max"], lambda lo, hi: fmt_min_max(lo, hi, decimals))]
    for row_label, names, formatter in specs:
        b.add_row(row_label, _value_cells(ard, aid, cols, variable, names, formatter, extra,
                                          level), indent=1, group=group)


def exposure_table(ard: pd.DataFrame, sap: object) -> DisplayTable:
    """Table 14.3.5.1 Extent of exposure."""
    aid = "SAF-EXPO"
    cols = _groups(ard, aid)
    columns = [Column(c.key, header_with_n(c.label, c.n)) for c in cols]
    b = _builder(sap, "T14.3.5.1", "Extent of Exposure", columns, aid)
    rows = ard[ard["analysis_id"] == aid]
    _continuous(b, ard, aid, cols, "NSESS", "Sessions per subject", 0, level="")
    for k in dict.fromkeys(rows.loc[(rows["variable"] == "NSESS")
                                    & (rows["variable_level"] != ""), "variable_level"]):
        b.add_row(f"{k} session(s), n (%)", _value_cells(ard, aid, cols, "NSESS", ["n", "pct"],
                                                        _n_pct, level=k), indent=1)
    for var, label, d in (("EXDUR", "Session duration (min)", 0),
                          ("PLVOL", "Plasma volume processed (mL)", 0),
                          ("MSCDOSE", "MSC dose (10^9 cells)", 2)):
        _continuous(b, ard, aid, cols, var, label, d, level="")
    b.add_row("Sessions started", _value_cells(ard, aid, cols, "SESSIONS", ["n_sessions"],
                                               fmt_n))
    for var, label in (("ANTICOAG", "Anticoagulant, sessions n (%)"),
                       ("SESSSTAT", "Session status, sessions n (%)")):
        levels = list(dict.fromkeys(rows.loc[rows["variable"] == var, "variable_level"]))
        if not levels:
            continue
        b.add_row(label)
        for lv in levels:
            b.add_row(lv.capitalize(), _value_cells(ard, aid, cols, var, ["n_sessions", "pct"],
                                                    _n_pct, level=lv), indent=1)
    reasons = list(dict.fromkeys(rows.loc[rows["variable"] == "INTRREAS", "variable_level"]))
    if reasons:
        b.add_row("Reason session interrupted or stopped, sessions n")
        for r in sorted(reasons):
            b.add_row(r.capitalize(), _value_cells(ard, aid, cols, "INTRREAS", ["n_sessions"],
                                                   fmt_n, level=r, allow_missing=True),
                      indent=1)
    b.add_footnote("Duration, plasma volume and MSC dose are summarised over sessions; "
                   "percentages of anticoagulant and status are of sessions started.")
    return b.build()


def vital_signs_table(ard: pd.DataFrame, sap: object) -> DisplayTable:
    """Table 14.3.6.1 Vital signs around sessions, with hypotension and fever."""
    aid = "SAF-VS"
    cols = _groups(ard, aid)
    columns = [Column(c.key, header_with_n(c.label, c.n)) for c in cols]
    b = _builder(sap, "T14.3.6.1", "Vital Signs Around Sessions", columns, aid, "Session")
    rows = ard[(ard["analysis_id"] == aid) & (ard["variable"] == "AVAL")
               & (ard["stat_name"] == "n")]
    flags = ard[(ard["analysis_id"] == aid) & (ard["variable"] == "HYPOTENSION")
                & (ard["stat_name"] == "n")]
    scol = next((c for c in ("group1", "group2") if (flags[c] == "SESSNUM").any()), "group1")
    pcol = f"group{int(scol[-1]) + 1}"
    for k in dict.fromkeys(flags[f"{scol}_level"]):
        group = "All sessions" if k == "All" else f"Session {k}"
        at = rows[rows[f"{scol}_level"] == k]
        for code in dict.fromkeys(at[f"{pcol}_level"]):
            d = 1 if code == "TEMP" else 0
            for tp in dict.fromkeys(at.loc[at[f"{pcol}_level"] == code, "variable_level"]):
                extra = {"SESSNUM": k, "PARAMCD": code}
                b.add_row(f"{_VS_LABELS.get(code, code)}, {_ATPT.get(tp, tp).lower()}",
                          group=group)
                b.add_row("n", _value_cells(ard, aid, cols, "AVAL", ["n"], fmt_n, extra, tp),
                          indent=1, group=group)
                b.add_row("Mean (SD)", _value_cells(
                    ard, aid, cols, "AVAL", ["mean", "sd"],
                    lambda m, s, d=d: fmt_mean_sd(m, s, d + 1, d + 2), extra, tp),
                    indent=1, group=group)
                b.add_row("Min, max", _value_cells(
                    ard, aid, cols, "AVAL", ["min", "max"],
                    lambda lo, hi, d=d: fmt_min_max(lo, hi, d), extra, tp), indent=1,
                    group=group)
        for var, label in (("HYPOTENSION", "Subjects with hypotension, n/N (%)"),
                           ("FEVER", "Subjects with fever, n/N (%)")):
            b.add_row(label, _value_cells(
                ard, aid, cols, var, ["n", "N", "pct"],
                _n_of_total,
                {"SESSNUM": k}, "Y"), group=group)
            if k == "All":
                for lv, text in (("EVALUABLE", "evaluable"), ("Y", "with the finding")):
                    b.add_row(f"{label.split(',')[0].replace('Subjects with ', '').capitalize()}"
                              f": sessions {text}",
                              _value_cells(ard, aid, cols, var, ["n_sessions"], fmt_n,
                                           {"SESSNUM": k}, lv), indent=1, group=group)
    vit = getattr(sap, "vitals", None)
    b.add_footnote(
        f"Hypotension: systolic pressure < {getattr(vit, 'hypotension_sbp', 90):g} mmHg during "
        f"or after the session, or a fall of >= {getattr(vit, 'sbp_drop', 20):g} mmHg from the "
        f"pre-session value; fever: temperature >= {getattr(vit, 'fever_temp', 38):g} C during "
        "or after the session. N: subjects with an evaluable session.")
    return b.build()


# --------------------------------------------------------------------------------------------
# Monitoring
# --------------------------------------------------------------------------------------------


PROVISIONAL = "(provisional)"


def monitoring_table(ard: pd.DataFrame, sap: object,
                     events: pd.DataFrame | None = None) -> DisplayTable:
    """Table 14.3.7.1 Bayesian safety monitoring after each subject.

    One row per evaluated subject, in evaluation order (SAP section 9). The decision reads
    ``continue`` until the stopping boundary is first crossed; that row reads ``STOP:
    boundary crossed`` and, stopping being absorbing, every later row ``STOP: boundary
    crossed at subject k`` (ARD ``decision``, ``stopped_at`` and ``n``). Each row names the
    subject's DLT-like events (cell traced to ``n_events_subject``), one line per event of
    ``events`` (the derived frame :func:`msc_analysis.analyses.safety_monitoring.dlt_events`:
    term and why it qualified), or their number when ``events`` is None; the number of
    events of each subject must agree with the ARD. Subjects evaluated after the rule's
    ``max_subjects`` (ARD variable ``DLT_BEYOND``) follow, under a line giving their number
    and their DLT-like events, each row with its events and ``outside the rule``.

    A subject whose monitoring window was still open at the data cut-off (``window_closed`` =
    0) is shown as ``"<subject> (provisional)"``, that cell traced to the ``window_closed``
    row, and a footnote gives the cut-off and the date each open window closes (from that
    row's ``method``); other subjects' cells are the plain identifier (SAP section 9.1).
    """
    aid = "SAF-MON"
    cols = _groups(ard, aid)
    rows = ard[(ard["analysis_id"] == aid) & (ard["variable"] == "DLT")
               & (ard["stat_name"] == "n")]
    beyond = ard[(ard["analysis_id"] == aid) & (ard["variable"] == BEYOND)
                 & (ard["stat_name"] == "n_events_subject")]
    seq_col = next((c for c in ("group1", "group2") if (rows[c] == "SUBJSEQ").any()
                    or (beyond[c] == "SUBJSEQ").any()), "group1")
    pct = _pct_label(sap)
    mon = getattr(sap, "monitoring", None)
    max_subjects = getattr(mon, "max_subjects", None)
    outside = ("outside the rule" if max_subjects is None
               else f"outside the rule (max_subjects = {max_subjects})")
    columns = [Column("subject", "Subject", align="left"),
               Column("events", "DLT-like events counted", align="left"),
               Column("x", "Subjects with event / evaluated"),
               Column("mean", "Posterior mean"),
               Column("cri", f"{pct} credible interval"),
               Column("prob", "P(rate > threshold)"),
               Column("bnd", "Stopping boundary (events)"),
               Column("dec", "Decision")]
    b = _builder(sap, "T14.3.7.1", "Bayesian Safety Monitoring After Each Subject", columns,
                 aid, "Order")
    provisional: list[tuple[str, str, str]] = []  # (subject, window end, cut-off)
    stopped = False
    for c in cols:
        at, past = rows, beyond
        if c.filters:
            name, level = next(iter(c.filters.items()))
            at = rows[(rows["group1"] == name) & (rows["group1_level"] == level)]
            past = beyond[(beyond["group1"] == name) & (beyond["group1_level"] == level)]
        group = c.label if len(cols) > 1 else ""
        for seq, subj in zip(at[f"{seq_col}_level"], at["variable_level"], strict=True):
            f = {**c.filters, "SUBJSEQ": seq}
            kw = {"variable": "DLT", "variable_level": subj}
            dec = _cell(ard, aid, ["decision", "stopped_at", "n"], f, _monitoring_decision,
                        **kw)
            stopped = stopped or dec.text.startswith("STOP")
            b.add_row(seq, {
                "subject": _monitoring_subject(ard, aid, f, str(subj), provisional),
                "events": _monitoring_events(ard, aid, f, "DLT", str(subj), events),
                "x": _cell(ard, aid, ["n_events", "n"], f,
                                   lambda x, n: f"{fmt_n(x)}/{fmt_n(n)}", **kw),
                "mean": _cell(ard, aid, "post_mean", f, lambda m: fmt_num(m, 3), **kw),
                "cri": _cell(ard, aid, ["conf_low", "conf_high"], f,
                                     lambda lo, hi: fmt_ci(lo, hi, 3), **kw),
                "prob": _cell(ard, aid, "post_prob", f, lambda p: fmt_num(p, 3), **kw),
                "bnd": _cell(ard, aid, "boundary", f,
                                     lambda x: "none" if math.isnan(x) else fmt_n(x), **kw),
                "dec": dec,
            }, group=group)
        if past.empty:
            continue
        kw = {"variable": BEYOND, "variable_level": ""}
        b.add_row("Outside the rule", {
            "subject": _cell(ard, aid, "n", c.filters,
                             lambda n: f"{fmt_n(n)} further subject{'' if n == 1 else 's'}",
                             **kw),
            "events": _cell(ard, aid, "n_events", c.filters,
                            lambda m: f"{fmt_n(m)} DLT-like event{'' if m == 1 else 's'}",
                            **kw),
            "dec": "not covered by the rule: for review by the Safety Review Committee",
        }, group=group)
        for seq, subj in zip(past[f"{seq_col}_level"], past["variable_level"], strict=True):
            f = {**c.filters, "SUBJSEQ": seq}
            b.add_row(seq, {
                "subject": str(subj),
                "events": _monitoring_events(ard, aid, f, BEYOND, str(subj), events),
                "dec": outside,
            }, group=group)
    if mon is not None:
        b.add_footnote(f"Event: {mon.event}.")
        b.add_footnote(f"Prior Beta({mon.prior_a:g}, {mon.prior_b:g}); stop when P(rate > "
                       f"{mon.threshold:g} | data) > {mon.prob_cutoff:g}, from "
                       f"{mon.min_subjects} evaluated subjects on. Subjects in the order of "
                       "their first session.")
    b.add_footnote("DLT-like events counted: each adverse event of the subject that counts "
                   "for the rule, with why it qualified (serious or grade, the relationship "
                   "assessments that make it related, onset in the subject's window).")
    if stopped:
        b.add_footnote("STOP: the stopping boundary was crossed at this subject. Stopping is "
                       "final: every later row gives the subject at which it was crossed; the "
                       "later rows' posterior values are shown for information.")
    if not beyond.empty:
        b.add_footnote(f"Outside the rule: subjects evaluated after the rule's first "
                       f"{max_subjects if max_subjects is not None else 'max_subjects'} "
                       "subjects do not enter the rule's counts, posterior or decision; their "
                       "DLT-like events are shown for the Safety Review Committee to review.")
    if provisional:
        days = getattr(mon, "window_days", None)
        window = (f"{days:g}-day monitoring window (first session to {days:g} days after the "
                  "last session)" if days is not None else "monitoring window")
        closes = "; ".join(f"{subj} on {end}" for subj, end, _ in provisional)
        b.add_footnote(f"{PROVISIONAL}: at the data cut-off {provisional[0][2]} the subject's "
                       f"{window} was still open, without a DLT-like event so far; the subject "
                       "counts as evaluated without the event and the row is provisional until "
                       f"the window closes ({closes}).")
    return b.build()


def _monitoring_decision(decision: float, stopped_at: float, n: float) -> str:
    """The decision cell of Table 14.3.7.1: ``continue`` before the boundary is crossed,
    ``STOP: boundary crossed`` at the crossing, then ``STOP: boundary crossed at subject k``."""
    if math.isnan(stopped_at):
        return "STOP" if decision == 1 else "continue"
    if stopped_at == n:
        return "STOP: boundary crossed"
    return f"STOP: boundary crossed at subject {fmt_n(stopped_at)}"


def _monitoring_events(ard: pd.DataFrame, aid: str, filters: dict[str, str], variable: str,
                       subj: str, events: pd.DataFrame | None) -> _Hit:
    """The events cell of Table 14.3.7.1, traced to the subject's ``n_events_subject`` row:
    ``none``, or one line per DLT-like event of ``events`` (term: why it qualified), or, when
    ``events`` is None, their number. Raises :class:`ArdError` when ``events`` holds another
    number of events for the subject than the ARD."""
    def text(k: float) -> str:
        if k == 0 and (events is None or not (events["USUBJID"] == subj).any()):
            return "none"
        if events is None:
            return f"{fmt_n(k)} DLT-like event{'' if k == 1 else 's'}"
        own = events[events["USUBJID"] == subj]
        if len(own) != k:
            raise ArdError(f"{aid}: the derived DLT-like events of subject {subj} ({len(own)}) "
                           f"disagree with the ARD's n_events_subject ({fmt_n(k)})")
        lines = [f"{_event_term(e)}: {e.REASON}" for e in own.itertuples(index=False)]
        if len(lines) > 1:
            lines = [f"({i}) {line}" for i, line in enumerate(lines, start=1)]
        return "\n".join(lines)

    return _cell(ard, aid, "n_events_subject", filters, text, variable=variable,
                 variable_level=subj)


def _event_term(event: object) -> str:
    """An event's preferred term, with its reported term when that differs (``"Device related
    infection (reported: Catheter-related infection)"``); the one present when only one is."""
    terms = [str(v).strip() if isinstance(v := getattr(event, name, ""), str) else ""
             for name in ("AEDECOD", "AETERM")]
    decod, term = terms
    if decod and term and decod.casefold() != term.casefold():
        return f"{decod} (reported: {term})"
    return decod or term or "(no term)"


def _monitoring_subject(ard: pd.DataFrame, aid: str, filters: dict[str, str], subj: str,
                        provisional: list[tuple[str, str, str]]) -> str | _Hit:
    """The subject cell of Table 14.3.7.1: the identifier, or, when the ``window_closed`` row
    says the window was open at the cut-off, the marked identifier traced to that row (its
    window end and cut-off appended to ``provisional``)."""
    hit = _cell(ard, aid, "window_closed", filters,
                lambda w: f"{subj} {PROVISIONAL}" if w == 0 else subj, variable="DLT",
                variable_level=subj, allow_missing=True)
    if not hit.positions or hit.text == subj:
        return subj
    dates = parse_window_method(str(ard["method"].iloc[hit.positions[0]]))
    end, cutoff = (dates[1], dates[2]) if dates else ("unknown", "unknown")
    provisional.append((subj, end, cutoff))
    return hit


def monitoring_boundaries_table(ard: pd.DataFrame, sap: object) -> DisplayTable:
    """Table 14.3.7.2 Stopping boundaries for n = 1 .. max_subjects."""
    aid = "SAF-MONBND"
    columns = [Column("bnd", "Stop if events >="), Column("prob", "P(rate > threshold) at "
                                                                  "the boundary")]
    b = _builder(sap, "T14.3.7.2", "Stopping Boundaries of the Bayesian Safety Monitoring Rule",
                 columns, aid, "Subjects evaluated")
    rows = ard[(ard["analysis_id"] == aid) & (ard["stat_name"] == "boundary")]
    for n in rows["group1_level"]:
        f = {"NEVAL": n}
        b.add_row(n, {
            "bnd": _cell(ard, aid, "boundary", f,
                                 lambda x: "no stopping" if math.isnan(x) else fmt_n(x),
                                 variable="DLT", variable_level=""),
            "prob": _cell(ard, aid, "post_prob", f, lambda p: fmt_num(p, 3),
                                  variable="DLT", variable_level=""),
        })
    b.add_footnote("Smallest number of subjects with the event that stops the trial after n "
                   "subjects have been evaluated.")
    return b.build()


def monitoring_oc_table(ard: pd.DataFrame, sap: object) -> DisplayTable:
    """Table 14.3.7.3 Operating characteristics of the monitoring rule."""
    aid = "SAF-MONOC"
    columns = [Column("ps", "P(stop), simulated (MCSE)"), Column("pe", "P(stop), exact"),
               Column("ns", "Expected N treated, simulated (MCSE)"),
               Column("ne", "Expected N treated, exact")]
    b = _builder(sap, "T14.3.7.3", "Operating Characteristics of the Bayesian Safety "
                 "Monitoring Rule", columns, aid, "True event rate")
    rows = ard[(ard["analysis_id"] == aid) & (ard["stat_name"] == "prob_stop")]
    for rate in rows["group1_level"]:
        f = {"TRUE_RATE": rate}
        b.add_row(rate, {
            "ps": _cell(ard, aid, ["prob_stop", "mcse"], f,
                                lambda p, m: f"{fmt_num(p, 3)} ({fmt_num(m, 4)})",
                                variable="STOP", variable_level=""),
            "pe": _cell(ard, aid, "estimate", f, lambda p: fmt_num(p, 3),
                                variable="STOP_EXACT", variable_level=""),
            "ns": _cell(ard, aid, ["expected_n", "mcse"], f,
                                lambda p, m: f"{fmt_num(p, 2)} ({fmt_num(m, 3)})",
                                variable="N_TREATED", variable_level=""),
            "ne": _cell(ard, aid, "estimate", f, lambda p: fmt_num(p, 2),
                                variable="N_TREATED_EXACT", variable_level=""),
        })
    mon = getattr(sap, "monitoring", None)
    if mon is not None:
        b.add_footnote(f"{int(mon.n_sim)} simulated trials of {int(mon.max_subjects)} subjects "
                       f"per rate (seed {int(mon.seed)}); MCSE: Monte Carlo standard error. "
                       "Exact values by recursion over the number of events.")
    return b.build()


# --------------------------------------------------------------------------------------------
# Listings
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListingColumn:
    """How a listing shows some of its record variables in one displayed column.

    Presentation only: the listing's CSV keeps every variable as its own column.

    Parameters
    ----------
    variables : tuple of str
        The record variables shown, in order (those absent from a listing are skipped).
    header : str
        Column header (``"\\n"`` separates lines).
    join : {"lines", "first", "space", "range", "paren"}
        How the texts of the variables make the cell: ``"lines"`` one value per line (trailing
        empty lines dropped, so an ongoing AE's missing end date adds no line), ``"first"`` the
        first non-empty text (``ADTM``, else ``ADT``), ``"space"`` the non-empty texts joined by
        a space (``"1.71 mmol/L"``), ``"range"`` a normal range ``"LLN-ULN"`` (``"<= ULN"`` /
        ``">= LLN"`` when one limit is missing), ``"paren"`` ``"a (b)"`` (a grade with the
        baseline grade in parentheses).
    align : {"left", "center", "right"}
        Alignment of the cells.
    note : str
        Footnote explaining the column, added to the listing when the column is shown.
    """

    variables: tuple[str, ...]
    header: str
    join: str = "lines"
    align: str = "left"
    note: str = ""

    def __post_init__(self) -> None:
        if not self.variables:
            raise ValueError(f"listing column {self.header!r} shows no variable")
        if self.join not in ("lines", "first", "space", "range", "paren"):
            raise ValueError(f"listing column {self.header!r}: unknown join {self.join!r}")


#: Variable shown as the row label of every listing, and the stub header.
LISTING_STUB: tuple[str, str] = ("USUBJID", "Subject")

#: The displayed columns of the listings, by the variables they show (a variable not named
#: here is shown in a column of its own, headed by its name).
LISTING_COLUMNS: tuple[ListingColumn, ...] = (
    # adverse events (L16.2.7.1, L16.2.7.3)
    ListingColumn(("AESEQ",), "AE\nNo.", align="center"),
    ListingColumn(("AEBODSYS", "AEDECOD", "AETERM"),
                  "System organ class/\nPreferred term/\nReported term"),
    ListingColumn(("ASTDT", "AENDT"), "Start/\nEnd"),
    ListingColumn(("AGRADEN",), "Grade", align="center"),
    ListingColumn(("SERCRIT",), "Serious\ncriteria"),
    ListingColumn(("RELATION",), "Relationship"),
    ListingColumn(("AEACN", "AEOUT"), "Action taken/\nOutcome"),
    ListingColumn(("TRTEMFL",), "TEAE", align="center",
                  note="TEAE: treatment-emergent adverse event (Y = yes)."),
    # deaths (L16.2.7.2)
    ListingColumn(("DTHDT",), "Date of\ndeath"),
    ListingColumn(("DTHDY",), "Study\nday", align="center",
                  note="Study day: day of death relative to the first session (day 1 = the "
                       "day of the first session)."),
    ListingColumn(("FATAL_AE",), "Fatal AE(s)"),
    # laboratory values (L16.2.8.1)
    ListingColumn(("PARAMCD",), "Parameter"),
    ListingColumn(("AVISIT", "ATPT"), "Visit/\nTime point"),
    ListingColumn(("ADTM", "ADT"), "Date/time", join="first"),
    ListingColumn(("AVAL", "AVALU"), "Value", join="space"),
    ListingColumn(("LLN", "ULN"), "Normal\nrange", join="range"),
    ListingColumn(("BASE",), "Baseline"),
    ListingColumn(("ATOXTERM",), "CTCAE term"),
    ListingColumn(("ATOXGRN", "BTOXGRN"), "Grade\n(baseline)", join="paren", align="center",
                  note="Grade (baseline): CTCAE grade on the SAP's grading basis of the "
                       "parameter, and in parentheses the grade of the baseline value."),
    ListingColumn(("ATOXGRNR",), "Range\ngrade", align="center",
                  note="Range grade: CTCAE grade against the normal range and absolute "
                       "cut-offs only (never relative to baseline)."),
)

#: Label of a listing's group column in its group headings ("Group: MSC-ALSS").
LISTING_GROUP_LABELS: dict[str, str] = {
    "Group": "Group", "TRTA": "Treatment", "TRT01A": "Treatment", "TRTP": "Planned treatment",
    "TRT01P": "Planned treatment", "ARM": "Arm", "ACTARM": "Actual arm",
}

#: Display texts of values of some variables (presentation only).
_SERIOUS_SHORT = {
    "AESDTH": "Death", "AESLIFE": "Life-threatening", "AESHOSP": "Hospitalisation",
    "AESDISAB": "Disability", "AESCONG": "Congenital anomaly",
    "AESMIE": "Medically important", "AESCAN": "Cancer", "AESOD": "Overdose",
}
_RELATION_SHORT = {"AERELDEV": "Device", "AERELMSC": "MSCs", "AERELPRC": "Procedure",
                   "AEREL": "Treatment"}


def _criteria_text(text: str) -> str:
    """``"AESDTH; AESLIFE"`` -> ``"Death\\nLife-threatening"`` (unknown codes as they are)."""
    return "\n".join(_SERIOUS_SHORT.get(c, c) for c in text.split("; ") if c)


def _relation_text(text: str) -> str:
    """``"AERELDEV: NOT RELATED; AERELMSC: missing"`` -> ``"Device: NOT RELATED\\nMSCs:
    missing"``: one relationship a line, the variable by its short name."""
    lines = []
    for part in (p for p in text.split("; ") if p):
        name, sep, value = part.partition(": ")
        lines.append(f"{_RELATION_SHORT.get(name, name)}{sep}{value}")
    return "\n".join(lines)


def _atpt_text(text: str) -> str:
    return _ATPT.get(text, text)


_VALUE_TEXT: dict[str, Callable[[str], str]] = {
    "SERCRIT": _criteria_text, "RELATION": _relation_text, "ATPT": _atpt_text,
}


def _cell_text(value: object) -> str:
    if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%dT%H:%M") if (value.hour or value.minute) else \
            value.strftime("%Y-%m-%d")
    if isinstance(value, float):
        # whole numbers without decimals; others to 15 significant digits, every digit a
        # decimal written into a double keeps, without the noise of arithmetic (a unit
        # conversion's 99.17999999999999 reads 99.18; the CSV keeps the double exactly)
        return fmt_num(value, 0) if math.isfinite(value) and value == int(value) else \
            f"{value:.15g}"
    if pd.api.types.is_scalar(value) and pd.isna(value):
        return ""
    return str(value)


def _column_texts(values: pd.Series, how: Callable[[str], str] | None = None) -> list[str]:
    """:func:`_cell_text` of every value of a column (then ``how`` of it, if given), computed
    once per distinct value (:func:`~msc_analysis.render.column_text.texts_per_distinct`)."""
    def show(value: object) -> str:
        text = _cell_text(value)
        return how(text) if how is not None and text else text

    return texts_per_distinct(values, show)


def _join_lines(*texts: str) -> str:
    parts = list(texts)
    while parts and not parts[-1]:
        parts.pop()
    return "\n".join(parts)


def _join_range(low: str, high: str) -> str:
    if low and high:
        return f"{low}-{high}"
    return f"<= {high}" if high else (f">= {low}" if low else "")


def _join_paren(main: str, other: str = "") -> str:
    return " ".join(t for t in (main, f"({other})" if other else "") if t)


_JOINS: dict[str, Callable[..., str]] = {
    "lines": _join_lines,
    "first": lambda *texts: next((t for t in texts if t), ""),
    "space": lambda *texts: " ".join(t for t in texts if t),
    "range": _join_range,
    "paren": _join_paren,
}


def listing_display(variables: Sequence[str],
                    specs: Sequence[ListingColumn] = LISTING_COLUMNS
                    ) -> list[ListingColumn]:
    """The displayed columns of a listing with record ``variables`` (stub and group excluded),
    in the order of their first variable: each :data:`LISTING_COLUMNS` entry with at least one
    of the variables (keeping only those present), and a column headed by its name for each
    variable no entry names."""
    owner = {v: spec for spec in specs for v in spec.variables}
    shown: list[ListingColumn] = []
    used: set[int] = set()
    for name in variables:
        spec = owner.get(name)
        if spec is None:
            shown.append(ListingColumn((name,), name))
        elif id(spec) not in used:
            used.add(id(spec))
            present = tuple(v for v in spec.variables if v in variables)
            shown.append(ListingColumn(present, spec.header, spec.join, spec.align, spec.note))
    return shown


def listing_table(frame: pd.DataFrame, number: str, title: str,
                  population: str = "Safety Set", footnotes: Sequence[str] = (),
                  *, group: str | None = None) -> DisplayTable:
    """A listing (no statistics): one body row per record, as clinical listings are laid out.

    The subject (``USUBJID``, :data:`LISTING_STUB`) is the row label; the records of each
    group (column ``group``, e.g. ``"Group"`` or ``"TRTA"``; see
    :func:`msc_analysis.analyses.safety_listings.group_column`) sit under a heading
    ``"<label>: <level>"`` (:data:`LISTING_GROUP_LABELS`); the other variables are shown with
    readable headers, related ones stacked in one column (:data:`LISTING_COLUMNS`,
    :func:`listing_display`), footnoted where a header needs explaining. Values: missing as
    ``""``, dates ISO (``YYYY-MM-DD``, ``YYYY-MM-DDTHH:MM`` with a time), whole numbers
    without decimals, other numbers to 15 significant digits (all a decimal value written
    into a double keeps; the CSV has the full double); seriousness criteria, relationships
    and time points by short names.

    The records themselves (every variable its own column, values unformatted) go with the
    table as :attr:`DisplayTable.records`, written as its CSV; ``data`` stays an empty trace.
    """
    names = [str(c) for c in frame.columns]
    stub, stub_header = LISTING_STUB
    texts = {name: _column_texts(frame.iloc[:, i], _VALUE_TEXT.get(name))
             for i, name in enumerate(names)}
    n = len(frame)
    shown = listing_display([c for c in names if c not in (stub, group)])
    columns = [Column(f"c{i}", spec.header, align=spec.align) for i, spec in enumerate(shown)]
    cells = [[_JOINS[spec.join](*parts) for parts in zip(*(texts[v] for v in spec.variables),
                                                         strict=True)]
             for spec in shown]
    labels = texts[stub] if stub in texts else [""] * n
    if group is not None and group in texts:
        head = LISTING_GROUP_LABELS.get(group, group)
        groups = [f"{head}: {g or 'missing'}" for g in texts[group]]
    else:
        groups = [""] * n
    keys = [c.key for c in columns]
    rows = tuple(BodyRow(label=labels[r], cells=dict(zip(keys, (c[r] for c in cells),
                                                         strict=True)), group=groups[r])
                 for r in range(n))
    notes = list(footnotes)
    if frame.empty:
        notes.insert(0, "No records.")
    notes.extend(spec.note for spec in shown if spec.note)
    return DisplayTable(number, title, population, tuple(columns), rows,
                        footnotes=tuple(notes), data=empty_trace(), stub_header=stub_header,
                        kind="Listing", records=frame)


#: Analysis id -> (TFL id, builder) of every safety table: builder(ard, sap), or
#: builder(ard, sap, derived) for an analysis with a derived frame (SafetyResults.derived).
SAFETY_TABLES: dict[str, tuple[str, Callable[..., DisplayTable]]] = {
    "SAF-AEOV": ("T14.3.1.1", ae_overview_table),
    "SAF-AESOCPT": ("T14.3.1.2", lambda a, s: ae_soc_pt_table(a, s, "SAF-AESOCPT")),
    "SAF-AEGRADE": ("T14.3.1.3", ae_by_grade_table),
    "SAF-AEREL": ("T14.3.1.4", lambda a, s: ae_soc_pt_table(a, s, "SAF-AEREL")),
    "SAF-AESER": ("T14.3.1.5", lambda a, s: ae_soc_pt_table(a, s, "SAF-AESER")),
    "SAF-AESESS": ("T14.3.1.6", ae_sessions_table),
    "SAF-LBSUM": ("T14.3.4.1", lab_summary_table),
    "SAF-LBSHIFT": ("T14.3.4.2", lab_shift_table),
    "SAF-LBG3": ("T14.3.4.3", lab_grade3_table),
    "SAF-EXPO": ("T14.3.5.1", exposure_table),
    "SAF-VS": ("T14.3.6.1", vital_signs_table),
    "SAF-MON": ("T14.3.7.1", monitoring_table),
    "SAF-MONBND": ("T14.3.7.2", monitoring_boundaries_table),
    "SAF-MONOC": ("T14.3.7.3", monitoring_oc_table),
}


_LISTING_TITLES = {
    "16.2.7.1": "Serious Adverse Events",
    "16.2.7.2": "Deaths",
    "16.2.7.3": "Adverse Events Leading to Stopping of Sessions",
    "16.2.8.1": "Laboratory Values of CTCAE Grade 3 or Higher",
}


def safety_displays(results: object, sap: object) -> dict[str, DisplayTable]:
    """Every table and listing of a safety run (``SafetyResults``), keyed by file stem.

    Tables come from the ARD of each analysis run (:data:`SAFETY_TABLES`; a builder also gets
    the analysis's derived frame, ``results.derived``, when it has one); listings from the
    listing frames. The stem is the number with dots as underscores, ``t14_3_1_1`` /
    ``l16_2_7_1``.
    """
    ard = results.ard  # type: ignore[attr-defined]
    out: dict[str, DisplayTable] = {}
    derived = getattr(results, "derived", {})
    for aid in results.results:  # type: ignore[attr-defined]
        _, build = SAFETY_TABLES[aid]
        # an analysis with a derived frame (SAF-MON: the DLT-like events) hands it to its table
        table = build(ard, sap, derived[aid]) if aid in derived else build(ard, sap)
        out[f"t{table.number.replace('.', '_')}"] = table
    for number, frame in results.listings.items():  # type: ignore[attr-defined]
        _, title, population, notes = _tfl(sap, f"L{number}", _LISTING_TITLES.get(number,
                                                                                    number))
        table = listing_table(frame, number, title, population, notes,
                              group=group_column(results.data.by))  # type: ignore[attr-defined]
        out[f"l{number.replace('.', '_')}"] = table
    return out


def write_safety_outputs(results: object, sap: object, out_dir: object) -> list[object]:
    """Write ``tables/<stem>.{csv,html,rtf}`` for every display and ``ard.csv`` to ``out_dir``.

    Returns the paths written.
    """
    from pathlib import Path

    from msc_analysis import ard as ard_mod
    from msc_analysis.render.writers import write_table

    root = Path(str(out_dir))
    written: list[object] = []
    for stem, table in safety_displays(results, sap).items():
        written.extend(write_table(table, root / "tables", stem).values())
    ard_mod.write(results.ard, root / "ard.csv")  # type: ignore[attr-defined]
    written.append(root / "ard.csv")
    return written
