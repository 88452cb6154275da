"""Tables 14.2.1-14.2.7: the pre/post analyses of the biomarkers, rendered from the ARD.

Every number is read from exactly one ARD row of the PP-* analyses, matched through the ARD's
index (:func:`msc_analysis.ard.index_for`, the rule of
:func:`~msc_analysis.render.table.cell_from_ard`); titles, populations and footnotes come from
the SAP's TFL list, decimals from ``sap.decimals`` (``sap.decimals.ratio`` for ratios) and the
confidence level in the labels from ``sap.conf_level``.

=========  =========  =============================================================
table      analysis   layout
=========  =========  =============================================================
14.2.1     PP-SESS    rows by parameter and statistic, one column per session
14.2.2     PP-RR      rows by statistic, one column per parameter
14.2.3     PP-FU      rows by parameter and statistic, columns Baseline + visits
14.2.4     PP-MMRM    rows by parameter, columns the follow-up visits
14.2.5     PP-MELD    as 14.2.3 for MELD, MELD-Na, MELD 3.0
14.2.6     PP-HOLM    one row per parameter of the Holm family
14.2.7     PP-LLOQ    rows by parameter and time point, primary vs sensitivity
=========  =========  =============================================================
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd

from msc_analysis.ard import index_for
from msc_analysis.render.formatting import (
    fmt_ci,
    fmt_mean_sd,
    fmt_median_q1q3,
    fmt_min_max,
    fmt_n,
    fmt_num,
    fmt_p,
    is_missing,
)
from msc_analysis.render.table import (
    Cell,
    Column,
    DisplayTable,
    TableBuilder,
    cell_from_ard,
    header_with_n,
)

__all__ = [
    "followup_table",
    "holm_table",
    "lloq_table",
    "meld_table",
    "mmrm_table",
    "prepost_tables",
    "reduction_ratio_table",
    "sessions_table",
]

BASELINE = "Baseline"

#: Text of a statistic that could not be estimated (too few subjects with values), and the
#: footnote of every table that shows it.
NE = "NE"
_NE_WORD = re.compile(rf"\b{NE}\b")
NE_NOTE = ("NE: not estimable with the data at the cut-off (too few subjects with values; "
           "the reasons are listed in data_issues.csv).")


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Col:
    """A displayed column and the ARD by-variable levels its cells read."""

    key: str
    filters: Mapping[str, object]


class _Fmt:
    """Display decimals and labels from the SAP."""

    def __init__(self, sap: Any) -> None:
        self.sap = sap
        pct = 100.0 * float(sap.conf_level)
        self.ci = f"{fmt_num(pct, 0) if pct.is_integer() else fmt_num(pct, 1)}% CI"
        self.p_dec = sap.decimals.for_stat("p_value")

    def raw(self, paramcd: str | None) -> int:
        if paramcd is None or paramcd not in self.sap.parameters:
            return 0
        return int(self.sap.parameters[paramcd].decimals)

    def d(self, stat: str, raw: int) -> int:
        return int(self.sap.decimals.for_stat(stat, raw))

    @property
    def ratio(self) -> int:
        return int(self.sap.decimals.ratio)

    def p(self, value: float) -> str:
        return fmt_p(value, self.p_dec)

    def est_ci(self, decimals: int) -> Callable[[float, float, float], str]:
        def show(est: float, low: float, high: float) -> str:
            text = fmt_num(est, decimals)
            return f"{text} {fmt_ci(low, high, decimals)}" if text else ""
        return show

    def est_ci_level(self, decimals: int) -> Callable[[float, float, float, float], str]:
        """Estimate and CI, with the achieved level inline when it is not the SAP's level
        (rank and sign intervals with few differences reach only a lower or higher level)."""
        def show(est: float, low: float, high: float, level: float) -> str:
            text = self.est_ci(decimals)(est, low, high)
            if not text or abs(level - float(self.sap.conf_level)) < 1e-9:
                return text
            return f"{text[:-1]}; {fmt_num(100.0 * level, 1)}% level)"
        return show


def _rows(ard: pd.DataFrame, analysis_id: str) -> pd.DataFrame:
    """All rows of one analysis, in ARD order."""
    return ard.iloc[index_for(ard).analysis_positions(analysis_id)]


def _has(ard: pd.DataFrame, analysis_id: str, variable: str, level: str,
         filters: Mapping[str, object], stat: str | None = None) -> bool:
    """Whether any row (of any stat name, or of ``stat``) matches."""
    return index_for(ard).has(analysis_id, stat, variable=variable, variable_level=level,
                              levels=filters)


def _cell(ard: pd.DataFrame, analysis_id: str, stats: Sequence[str],
          filters: Mapping[str, object], fmt: Callable[..., str], *, variable: str,
          level: str = "", allow_missing: bool = True, missing: str = "") -> Cell:
    """A display cell from one ARD row per statistic (``missing`` when none exists).

    Rows are matched through the ARD's index (:func:`msc_analysis.ard.index_for`, the rule of
    :func:`~msc_analysis.render.table.cell_from_ard`); a statistic that matches no row or
    several rows, in a cell that is not allowed to be missing, raises cell_from_ard's error.
    """
    index = index_for(ard)
    found = index.one_per_stat(analysis_id, stats, variable=variable, variable_level=level,
                               levels=filters)
    if found is None:
        if allow_missing and not any(index.has(analysis_id, s, variable=variable,
                                               variable_level=level, levels=filters)
                                     for s in stats):
            return Cell(missing)
        return cell_from_ard(ard, analysis_id, list(stats), filters, fmt, variable=variable,
                             variable_level=level)  # raises the ARD's error
    values = index.values(found)
    text = fmt(*values)
    if not isinstance(text, str):
        raise TypeError(f"formatter for {analysis_id}/{list(stats)} returned "
                        f"{type(text).__name__}")
    if not text and all(is_missing(v) for v in values):
        text = NE  # e.g. the mean of no value: the row is there, its statistics are not
    return Cell(text, ard, tuple(int(i) for i in found))


def _methods(sap: Any, analysis_id: str) -> frozenset[str]:
    """The method keys the SAP lists for an analysis (``descriptive+paired-t`` ...)."""
    analysis = sap.analyses.get(analysis_id)
    return frozenset(analysis.method.split("+")) if analysis is not None else frozenset()


def _build(b: TableBuilder) -> DisplayTable:
    """The table, with :data:`NE_NOTE` when a cell shows :data:`NE`."""
    table = b.build()
    if any(_NE_WORD.search(row.text(k)) for row in table.rows for k in table.column_keys):
        table = replace(table, footnotes=(*table.footnotes, NE_NOTE))
    return table


def _params(ard: pd.DataFrame, analysis_id: str, sap: Any) -> list[str]:
    rows = _rows(ard, analysis_id)
    present = set(rows.loc[rows["group1"] == "PARAMCD", "group1_level"])
    return [p for p in sap.parameters if p in present]


def _label(sap: Any, paramcd: str) -> str:
    p = sap.parameters.get(paramcd)
    return p.label if p is not None else paramcd


def _levels(ard: pd.DataFrame, analysis_id: str, group: str) -> list[str]:
    rows = _rows(ard, analysis_id)
    found: list[str] = []
    for i in (1, 2, 3):
        found.extend(rows.loc[rows[f"group{i}"] == group, f"group{i}_level"].tolist())
    return list(dict.fromkeys(found))


def _population_n(ard: pd.DataFrame, analysis_id: str) -> int | None:
    rows = _rows(ard, analysis_id)
    hit = rows.loc[(rows["stat_name"] == "N") & (rows["variable"] == "USUBJID"), "stat"]
    return int(hit.iloc[0]) if len(hit) == 1 else None


def _builder(sap: Any, analysis_id: str, columns: Sequence[Column], stub: str) -> TableBuilder:
    tfl = next(t for t in sap.tfls if t.kind == "table" and analysis_id in t.analysis_ids)
    population = sap.analysis_sets[tfl.population].label
    return TableBuilder(tfl.number, tfl.title, population, columns, footnotes=tfl.footnotes,
                        stub_header=stub, analysis_ids=tfl.analysis_ids)


def _cells(ard: pd.DataFrame, analysis_id: str, cols: Sequence[_Col], stats: Sequence[str],
           fmt: Callable[..., str], *, variable: str, variable_level: str = "",
           missing: str = "") -> dict[str, Cell]:
    return {c.key: _cell(ard, analysis_id, stats, c.filters, fmt, variable=variable,
                         level=variable_level, missing=missing)
            for c in cols}


def _describe_rows(b: TableBuilder, ard: pd.DataFrame, analysis_id: str, cols: Sequence[_Col],
                   variable: str, *, group: str, raw: int, f: _Fmt, log: bool = False,
                   keep: Sequence[str] = ("n", "mean", "median", "minmax"),
                   ratio: bool = False, indent: int = 1) -> None:
    """Rows n / Mean (SD) / Median (Q1, Q3) / Min, Max / Geometric mean (CV%)."""
    loc = f.ratio if ratio else f.d("mean", raw)
    sd = f.ratio + 1 if ratio else f.d("sd", raw)
    mm = f.ratio if ratio else f.d("min", raw)
    spec: dict[str, tuple[str, list[str], Callable[..., str]]] = {
        "n": ("n", ["n"], fmt_n),
        "mean": ("Mean (SD)", ["mean", "sd"], lambda m, s: fmt_mean_sd(m, s, loc, sd)),
        "median": ("Median (Q1, Q3)", ["median", "q1", "q3"],
                   lambda m, a, z: fmt_median_q1q3(m, a, z, loc)),
        "minmax": ("Min, Max", ["min", "max"], lambda a, z: fmt_min_max(a, z, mm)),
    }
    for key in keep:
        label, stats, fmt = spec[key]
        b.add_row(label, _cells(ard, analysis_id, cols, stats, fmt, variable=variable),
                  indent=indent, group=group)
    if log:
        gm = f.d("geo_mean", raw)
        cv = f.d("geo_cv", raw)
        b.add_row("Geometric mean (CV%)",
                  _cells(ard, analysis_id, cols, ["geo_mean", "geo_cv"],
                         lambda g, c: f"{fmt_num(g, gm)} ({fmt_num(c, cv) or 'NE'})"
                         if fmt_num(g, gm) else "", variable=variable),
                  indent=indent, group=group)


def _test_rows(b: TableBuilder, ard: pd.DataFrame, analysis_id: str, cols: Sequence[_Col],
               *, group: str, log: bool, raw: int, f: _Fmt, ratio_label: str,
               diff_label: str) -> None:
    """Rows of the paired t, signed-rank and sign tests present in the ARD."""
    all_filters = [c.filters for c in cols]

    def present(variable: str, level: str) -> bool:
        return any(_has(ard, analysis_id, variable, level, flt) for flt in all_filters)

    est = f.d("estimate", raw)
    tests = [
        ("RATIO" if log else "CHG", "paired-t", "Paired t-test",
         f"{ratio_label} ({f.ci})" if log else f"{diff_label} ({f.ci})",
         f.ratio if log else est),
        ("CHG", "signed-rank", "Wilcoxon signed-rank test",
         f"Hodges-Lehmann estimate ({f.ci})", est),
        ("CHG", "sign-test", "Sign test", f"Median difference ({f.ci})", est),
    ]
    planned = _methods(f.sap, analysis_id)
    for variable, level, title, label, decimals in tests:
        if not present(variable, level) and level not in planned:
            continue
        # a planned test without a result (too few subjects) shows NE
        b.add_row(title, group=group)
        if level == "paired-t":
            cells = _cells(ard, analysis_id, cols, ["estimate", "conf_low", "conf_high"],
                           f.est_ci(decimals), variable=variable, variable_level=level,
                           missing=NE)
        else:
            cells = _cells(ard, analysis_id, cols,
                           ["estimate", "conf_low", "conf_high", "conf_level"],
                           f.est_ci_level(decimals), variable=variable, variable_level=level,
                           missing=NE)
        b.add_row(label, cells, indent=1, group=group)
        b.add_row("p-value", _cells(ard, analysis_id, cols, ["p_value"], f.p,
                                    variable=variable, variable_level=level, missing=NE),
                  indent=1, group=group)


def _exclusion_rows(b: TableBuilder, ard: pd.DataFrame, analysis_id: str,
                    cols: Sequence[_Col], *, group: str, paramcd: str,
                    variables: Mapping[str, str], title: str) -> None:
    """One row per exclusion reason; ``variables`` maps column key -> ARD variable."""
    rows = _rows(ard, analysis_id)
    rows = rows.loc[(rows["stat_name"] == "n_excluded") & (rows["group1_level"] == paramcd)
                    & rows["variable"].isin(set(variables.values()))]
    candidates = sorted(dict.fromkeys(rows["variable_level"]))
    reasons = [r for r in candidates
               if any(_has(ard, analysis_id, variables[c.key], r, c.filters, "n_excluded")
                      for c in cols if c.key in variables)]
    if not reasons:
        return
    b.add_row(title, group=group)
    for reason in reasons:
        cells = {
            c.key: _cell(ard, analysis_id, ["n_excluded"], c.filters, fmt_n,
                         variable=variables[c.key], level=reason, missing="0")
            for c in cols if c.key in variables
        }
        b.add_row(reason[:1].upper() + reason[1:], cells, indent=1, group=group)


# --------------------------------------------------------------------------------------------
# Table 14.2.1 (PP-SESS)
# --------------------------------------------------------------------------------------------


def _session_columns(ard: pd.DataFrame, analysis_id: str,
                     n: int | None) -> tuple[list[Column], list[_Col]]:
    sessions = sorted(_levels(ard, analysis_id, "SESSNUM"), key=int)
    columns = [Column(f"s{k}", header_with_n(f"Session {k}", n)) for k in sessions]
    cols = [_Col(f"s{k}", {"SESSNUM": k}) for k in sessions]
    return columns, cols


def sessions_table(ard: pd.DataFrame, sap: Any) -> DisplayTable:
    """Table 14.2.1: biomarkers before and after each session (PP-SESS)."""
    aid = "PP-SESS"
    f = _Fmt(sap)
    columns, cols = _session_columns(ard, aid, _population_n(ard, aid))
    b = _builder(sap, aid, columns, "Parameter\nStatistic")
    for p in _params(ard, aid, sap):
        group = _label(sap, p)
        pcols = [_Col(c.key, {"PARAMCD": p, **c.filters}) for c in cols]
        raw = f.raw(p)
        log = sap.parameters[p].scale == "log"
        for variable, title in (("PRE", "Pre-session"), ("POST", "Post-session")):
            b.add_row(title, group=group)
            _describe_rows(b, ard, aid, pcols, variable, group=group, raw=raw, f=f, log=log)
        b.add_row("Change (post - pre)", group=group)
        _describe_rows(b, ard, aid, pcols, "CHG", group=group, raw=raw, f=f)
        b.add_row("Percent change", group=group)
        _describe_rows(b, ard, aid, pcols, "PCHG", group=group, raw=0, f=f,
                       keep=("mean", "median"))
        b.add_row("Reduction ratio (pre - post) / pre", group=group)
        _describe_rows(b, ard, aid, pcols, "RR", group=group, raw=0, f=f, ratio=True,
                       keep=("mean", "median", "minmax"))
        _test_rows(b, ard, aid, pcols, group=group, log=log, raw=raw, f=f,
                   ratio_label="Geometric mean ratio post/pre",
                   diff_label="Mean difference post - pre")
        _exclusion_rows(b, ard, aid, pcols, group=group, paramcd=p,
                        variables={c.key: "CHG" for c in pcols}, title="Sessions not analysed")
    b.add_footnote("n: subjects with both a pre- and a post-session value in the session.")
    _level_footnote(b, ard, aid)
    return _build(b)


def _level_footnote(b: TableBuilder, ard: pd.DataFrame, aid: str) -> None:
    """Say how rank and sign intervals show a level other than the SAP's."""
    if _rows(ard, aid).query("variable_level in ('sign-test', 'signed-rank')").empty:
        return
    b.add_footnote("Signed-rank (Hodges-Lehmann) and sign-test intervals: with few non-zero "
                   "differences the nominal level cannot be reached exactly; the level the "
                   "interval achieves is then shown in the cell (R wilcox.test and the "
                   "order-statistic interval of the median).")


# --------------------------------------------------------------------------------------------
# Table 14.2.2 (PP-RR)
# --------------------------------------------------------------------------------------------


def reduction_ratio_table(ard: pd.DataFrame, sap: Any) -> DisplayTable:
    """Table 14.2.2: per-subject mean reduction ratio across sessions (PP-RR)."""
    aid = "PP-RR"
    f = _Fmt(sap)
    params = _params(ard, aid, sap)
    columns = [Column(p, _label(sap, p)) for p in params]
    cols = [_Col(p, {"PARAMCD": p}) for p in params]
    b = _builder(sap, aid, columns, "Statistic")
    b.add_row("Subjects (n)", _cells(ard, aid, cols, ["n"], fmt_n, variable="RR"))
    b.add_row("Sessions analysed", _cells(ard, aid, cols, ["n_sessions"], fmt_n, variable="RR"))
    _describe_rows(b, ard, aid, cols, "RR", group="", raw=0, f=f, ratio=True,
                   keep=("mean", "median", "minmax"), indent=0)
    for level, label, p_label in (
            ("t-test", f"Mean ({f.ci}), one-sample t-test", "p-value (t-test)"),
            ("signed-rank", f"Hodges-Lehmann estimate ({f.ci})",
             "p-value (Wilcoxon signed-rank)")):
        planned = level in _methods(sap, aid) or (level == "t-test" and "paired-t"
                                                   in _methods(sap, aid))
        if not planned and not any(_has(ard, aid, "RR", level, c.filters) for c in cols):
            continue
        b.add_row(label, _cells(ard, aid, cols, ["estimate", "conf_low", "conf_high"],
                                f.est_ci(f.ratio), variable="RR", variable_level=level,
                                missing=NE))
        b.add_row(p_label, _cells(ard, aid, cols, ["p_value"], f.p, variable="RR",
                                  variable_level=level, missing=NE), indent=1)
    rows = _rows(ard, aid)
    reasons = sorted(dict.fromkeys(rows.loc[rows["stat_name"] == "n_excluded",
                                            "variable_level"]))
    if reasons:
        b.add_row("Subjects not analysed")
        for reason in reasons:
            b.add_row(reason[:1].upper() + reason[1:],
                      _cells(ard, aid, cols, ["n_excluded"], fmt_n, variable="RR",
                             variable_level=reason, missing="0"), indent=1)
    b.add_footnote("Tests of H0: no reduction (reduction ratio 0), on one mean ratio per "
                   "subject.")
    return _build(b)


# --------------------------------------------------------------------------------------------
# Tables 14.2.3 (PP-FU) and 14.2.5 (PP-MELD)
# --------------------------------------------------------------------------------------------


def _visit_names(ard: pd.DataFrame, analysis_id: str, sap: Any) -> list[str]:
    present = set(_levels(ard, analysis_id, "AVISIT"))
    names = [BASELINE] if BASELINE in present else []
    names += [v.name for v in sap.visits if v.name in present and v.name != BASELINE]
    return names


def _over_time(ard: pd.DataFrame, sap: Any, aid: str, log_of: Callable[[str], bool]
               ) -> TableBuilder:
    f = _Fmt(sap)
    n = _population_n(ard, aid)
    visits = _visit_names(ard, aid, sap)
    keys = {v: f"v{i}" for i, v in enumerate(visits)}
    columns = [Column(keys[v], header_with_n(v, n)) for v in visits]
    b = _builder(sap, aid, columns, "Parameter\nStatistic")
    for p in _params(ard, aid, sap):
        group = _label(sap, p)
        raw, log = f.raw(p), log_of(p)
        all_cols = [_Col(keys[v], {"PARAMCD": p, "AVISIT": v}) for v in visits]
        post = [c for c, v in zip(all_cols, visits, strict=True) if v != BASELINE]
        b.add_row("Value", group=group)
        _describe_rows(b, ard, aid, all_cols, "AVAL", group=group, raw=raw, f=f, log=log)
        b.add_row("Change from baseline", group=group)
        _describe_rows(b, ard, aid, post, "CHG", group=group, raw=raw, f=f)
        b.add_row("Percent change from baseline", group=group)
        _describe_rows(b, ard, aid, post, "PCHG", group=group, raw=0, f=f,
                       keep=("mean", "median"))
        _test_rows(b, ard, aid, post, group=group, log=log, raw=raw, f=f,
                   ratio_label="Geometric mean ratio visit/baseline",
                   diff_label="Mean change")
        variables = {c.key: ("AVAL" if v == BASELINE else "CHG")
                     for c, v in zip(all_cols, visits, strict=True)}
        _exclusion_rows(b, ard, aid, all_cols, group=group, paramcd=p, variables=variables,
                        title="Subjects not analysed")
        _exclusion_rows(b, ard, aid, post, group=group, paramcd=p,
                        variables={c.key: "AVAL" for c in post}, title="Samples not analysed")
    return b


def followup_table(ard: pd.DataFrame, sap: Any) -> DisplayTable:
    """Table 14.2.3: change from baseline to Days 7, 14 and 28 (PP-FU)."""
    b = _over_time(ard, sap, "PP-FU", lambda p: sap.parameters[p].scale == "log")
    b.add_footnote("Baseline: last non-missing value on or before the start of the first "
                   "session. Visit value: the sample in the visit window closest to the target "
                   "day (the earlier one on ties).")
    _level_footnote(b, ard, "PP-FU")
    return _build(b)


def meld_table(ard: pd.DataFrame, sap: Any) -> DisplayTable:
    """Table 14.2.5: MELD, MELD-Na and MELD 3.0 over time (PP-MELD)."""
    b = _over_time(ard, sap, "PP-MELD", lambda p: False)
    b.add_footnote("Scores from the baseline values and the values analysed at each visit "
                   "(OPTN rounding, bounded to 6-40; no dialysis information collected).")
    return _build(b)


# --------------------------------------------------------------------------------------------
# Table 14.2.4 (PP-MMRM)
# --------------------------------------------------------------------------------------------


def mmrm_table(ard: pd.DataFrame, sap: Any) -> DisplayTable:
    """Table 14.2.4: MMRM least-squares mean change from baseline by visit (PP-MMRM)."""
    aid = "PP-MMRM"
    f = _Fmt(sap)
    n = _population_n(ard, aid)
    visits = [v for v in _visit_names(ard, aid, sap) if v != BASELINE]
    keys = {v: f"v{i}" for i, v in enumerate(visits)}
    columns = [Column(keys[v], header_with_n(v, n)) for v in visits]
    b = _builder(sap, aid, columns, "Parameter\nStatistic")
    rows = _rows(ard, aid)
    for p in _params(ard, aid, sap):
        group = _label(sap, p)
        log = sap.parameters[p].scale == "log"
        raw = f.raw(p)
        cols = [_Col(keys[v], {"PARAMCD": p, "AVISIT": v}) for v in visits]
        b.add_row("Subjects with a value (n)",
                  _cells(ard, aid, cols, ["n"], fmt_n, variable="CHG"), group=group)
        variable = "RATIO" if log else "CHG"
        dec = f.ratio if log else f.d("estimate", raw)
        label = (f"LS geometric mean ratio to baseline ({f.ci})" if log
                 else f"LS mean change ({f.ci})")
        b.add_row(label, _cells(ard, aid, cols, ["estimate", "conf_low", "conf_high"],
                                f.est_ci(dec), variable=variable, variable_level="mmrm",
                                missing=NE), group=group)
        if not log:
            se_dec = f.d("se", raw)
            b.add_row("SE", _cells(ard, aid, cols, ["se"], lambda s, d=se_dec: fmt_num(s, d),
                                   variable="CHG", variable_level="mmrm", missing=NE),
                      indent=1, group=group)
        b.add_row("p-value", _cells(ard, aid, cols, ["p_value"], f.p, variable=variable,
                                    variable_level="mmrm", missing=NE), indent=1, group=group)
        _exclusion_rows(b, ard, aid, cols, group=group, paramcd=p,
                        variables={c.key: "CHG" for c in cols}, title="Subjects not analysed")
        model = rows.loc[(rows["group1_level"] == p) & (rows["variable"] == "MODEL"), "method"]
        if len(model):
            b.add_footnote(f"{p}: {model.iloc[0]}.")
    return _build(b)


# --------------------------------------------------------------------------------------------
# Table 14.2.6 (PP-HOLM)
# --------------------------------------------------------------------------------------------


def holm_table(ard: pd.DataFrame, sap: Any) -> DisplayTable:
    """Table 14.2.6: Holm-adjusted p-values across the biomarkers at the key visit."""
    aid = "PP-HOLM"
    f = _Fmt(sap)
    columns = [Column("n", "n"), Column("est", f"Estimate ({f.ci})"),
               Column("p", "p-value"), Column("padj", "Holm-adjusted\np-value")]
    b = _builder(sap, aid, columns, f"Parameter\n({sap.key_visit})")
    rows = _rows(ard, aid)
    for p in _params(ard, aid, sap):
        mine = rows.loc[(rows["group1_level"] == p) & (rows["stat_name"] == "p_value_adj")]
        flt = {"PARAMCD": p, "AVISIT": sap.key_visit}
        if mine.empty:  # not estimable: the count of subjects, when the ARD has it
            n = rows.loc[(rows["group1_level"] == p) & (rows["stat_name"] == "n")]
            count = (_cell(ard, aid, ["n"], flt, fmt_n, variable=str(n["variable"].iloc[0]),
                           level=str(n["variable_level"].iloc[0])) if len(n) == 1 else "")
            b.add_row(_label(sap, p), {"n": count, "est": NE, "p": NE, "padj": NE})
            continue
        variable, level = str(mine["variable"].iloc[0]), str(mine["variable_level"].iloc[0])
        dec = f.ratio if variable == "RATIO" else f.d("estimate", f.raw(p))
        one = {"variable": variable, "level": level, "allow_missing": False}
        b.add_row(_label(sap, p), {
            "n": _cell(ard, aid, ["n"], flt, fmt_n, **one),
            "est": _cell(ard, aid, ["estimate", "conf_low", "conf_high"], flt, f.est_ci(dec),
                         **one),
            "p": _cell(ard, aid, ["p_value"], flt, f.p, **one),
            "padj": _cell(ard, aid, ["p_value_adj"], flt, f.p, **one),
        })
    methods = rows.loc[rows["stat_name"] == "p_value_adj", "method"]
    if len(methods):
        b.add_footnote(f"{methods.iloc[0]}. Estimate: geometric mean ratio visit/baseline "
                       "(log-scale parameters) or mean change.")
    return _build(b)


# --------------------------------------------------------------------------------------------
# Table 14.2.7 (PP-LLOQ)
# --------------------------------------------------------------------------------------------


def lloq_table(ard: pd.DataFrame, sap: Any) -> DisplayTable:
    """Table 14.2.7: sensitivity analysis with values below the LLOQ set to the LLOQ.

    Each time point shows the primary result (values below the LLOQ at LLOQ/2; PP-SESS and
    PP-FU rows) next to the sensitivity result (PP-LLOQ rows).
    """
    aid = "PP-LLOQ"
    f = _Fmt(sap)
    columns = [Column("pe", f"Primary\nEstimate ({f.ci})"), Column("pp", "Primary\np-value"),
               Column("se", f"Sensitivity\nEstimate ({f.ci})"),
               Column("sp", "Sensitivity\np-value")]
    b = _builder(sap, aid, columns, "Parameter\nTime point / test")
    sessions = sorted(_levels(ard, aid, "SESSNUM"), key=int)
    visits = [v for v in _visit_names(ard, aid, sap) if v != BASELINE]
    points = [("SESSNUM", k, f"Session {k}", "PP-SESS") for k in sessions] + \
             [("AVISIT", v, v, "PP-FU") for v in visits]
    est = ["estimate", "conf_low", "conf_high"]
    for p in _params(ard, aid, sap):
        group = _label(sap, p)
        log = sap.parameters[p].scale == "log"
        b.add_row("Values below the LLOQ (n)",
                  {"se": _cell(ard, aid, ["n"], {"PARAMCD": p}, fmt_n, variable="BLQFL",
                               level="Y", allow_missing=False)}, group=group)
        tests = (("RATIO" if log else "CHG", "paired-t",
                  "geometric mean ratio" if log else "mean difference"),
                 ("CHG", "signed-rank", "Hodges-Lehmann estimate"))
        for by, level, label, primary in points:
            flt = {"PARAMCD": p, by: level}
            for variable, test, name in tests:
                if not _has(ard, aid, variable, test, flt):
                    continue
                dec = f.ratio if variable == "RATIO" else f.d("estimate", f.raw(p))
                cells: dict[str, Cell] = {}
                for key_e, key_p, source in (("pe", "pp", primary), ("se", "sp", aid)):
                    cells[key_e] = _cell(ard, source, est, flt, f.est_ci(dec),
                                         variable=variable, level=test)
                    cells[key_p] = _cell(ard, source, ["p_value"], flt, f.p,
                                         variable=variable, level=test)
                b.add_row(f"{label}: {name}", cells, indent=1, group=group)
    b.add_footnote("Primary: values below the LLOQ analysed as LLOQ/2 (Tables 14.2.1 and "
                   "14.2.3); sensitivity: analysed as the LLOQ.")
    return _build(b)


# --------------------------------------------------------------------------------------------
# All of them
# --------------------------------------------------------------------------------------------

_BUILDERS: dict[str, Callable[[pd.DataFrame, Any], DisplayTable]] = {
    "PP-SESS": sessions_table,
    "PP-RR": reduction_ratio_table,
    "PP-FU": followup_table,
    "PP-MMRM": mmrm_table,
    "PP-MELD": meld_table,
    "PP-HOLM": holm_table,
    "PP-LLOQ": lloq_table,
}


def prepost_tables(ard: pd.DataFrame, sap: Any) -> list[DisplayTable]:
    """The SAP's section 14.2 tables of the pre/post analyses, in TFL order.

    A table is built when the SAP lists it (a TFL of kind ``table`` whose analysis id is a
    PP-* id) and the ARD holds rows of that analysis. Only PP-* rows are read.
    """
    pp = ard.loc[ard["analysis_id"].isin(list(_BUILDERS))]
    present = set(pp["analysis_id"])
    tables = []
    for tfl in sap.tfls:
        if tfl.kind != "table":
            continue
        ids = [a for a in tfl.analysis_ids if a in _BUILDERS]
        if ids and ids[0] in present:
            tables.append(_BUILDERS[ids[0]](pp, sap))
    return tables
