"""Laboratory safety analyses: SAF-LBSUM, SAF-LBSHIFT, SAF-LBG3.

- SAF-LBSUM: n, mean, SD, median, quartiles, min, max of the value (``variable = "AVAL"``) and
  of the change from baseline (``variable = "CHG"``, post-baseline visits only) per group,
  parameter (by-variable ``PARAMCD``) and visit (``AVISIT``; session samples as ``"Session 1
  Pre"`` / ``"Session 1 Post"``), rows emitted in visit order (``AVISITN``, with session samples
  between baseline and the first later visit, pre before post). Records without a visit
  (unscheduled) are not summarised and are counted in the data issues.
- SAF-LBSHIFT: subjects by baseline grade (by-variable ``BGRADE``) and worst post-baseline grade
  (``variable = "WGRADE"``, level ``0``-``4`` or ``Missing``), both against the normal range and
  absolute cut-offs (``ATOXGRNR``) so they share one scale; ``N`` = subjects with a baseline
  record and at least one graded post-baseline value.
- SAF-LBG3: subjects with a post-baseline value of grade >= 3 on the SAP's grade basis
  (``ATOXGRN``: CTCAE's abnormal-baseline rule for TBil, ALT, AST), ``variable_level = "GE3"``;
  and those whose grade >= 3 is also worse than the grade of their baseline value on that basis
  (``"GE3_WORSE"``); with Clopper-Pearson CIs. Any graded parameter: the same rows without the
  ``PARAMCD`` by-variable, levels ``ANY_GE3`` / ``ANY_GE3_WORSE`` (so that every ``PARAMCD``
  of the ARD is a parameter the SAP lists).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from msc_analysis import stats
from msc_analysis.analyses.safety_data import GROUP, SafetyData, add_header, as_safety_data
from msc_analysis.ard import ArdBuilder, to_frame
from msc_analysis.derive.lab_grades import worst_post_baseline
from msc_analysis.io.issues import DataIssues

__all__ = ["lab_grade3", "lab_parameters", "lab_shift", "lab_summary", "visit_label"]

_DESCRIBE = ("n", "mean", "sd", "median", "q1", "q3", "min", "max")
_ATPT_ORDER = {"PRE": 0, "DURING": 1, "POST": 2}
GRADE_CATS = ("0", "1", "2", "3", "4", "Missing")
CP_METHOD = "Clopper-Pearson exact CI"


def lab_parameters(data: SafetyData, analysis_id: str, graded_only: bool = False) -> list[str]:
    """Parameters of ``analysis_id`` present in the data, in the SAP's order.

    The SAP's list (``[analyses.<id>].parameters``) restricted to the data; codes the SAP does
    not know at all (another study's data, such as the CDISC pilot's ``BILI``) are added in
    alphabetical order. Codes starting with ``_`` (the CDISC pilot's derived "change relative
    to the normal range" records) are never summarised.
    """
    if data.lab is None:
        return []
    lab = data.lab
    codes = lab["PARAMCD"].astype(str)
    present = [c for c in codes.unique() if not c.startswith("_")]
    if graded_only:
        graded = set(codes.loc[(lab["ATOXTERM"] != "").to_numpy(dtype=bool)].unique())
        present = [c for c in present if c in graded]
    known = getattr(data.sap, "parameters", {})
    analysis = getattr(data.sap, "analyses", {}).get(analysis_id)
    listed = list(getattr(analysis, "parameters", ()) or ())
    chosen = [c for c in listed if c in present]
    extra = sorted(c for c in present if c not in known)
    return chosen + [c for c in extra if c not in chosen]


def visit_label(avisit: str, atpt: str) -> str:
    """``"Day 7"``; ``"Session 1 Pre"`` for a session sample with ``ATPT = "PRE"``."""
    atpt = atpt.strip()
    return f"{avisit} {atpt.title()}" if atpt else avisit


def _visit_labels(avisit: pd.Series, atpt: pd.Series) -> list[str]:
    """:func:`visit_label` of each record, computed once per distinct (visit, time point)."""
    v_codes, v_values = pd.factorize(avisit, use_na_sentinel=False)
    t_codes, t_values = pd.factorize(atpt, use_na_sentinel=False)
    pair = v_codes.astype(np.int64) * max(len(t_values), 1) + t_codes
    _, first, inverse = np.unique(pair, return_index=True, return_inverse=True)
    labels = np.array([visit_label(v_values[v_codes[i]], t_values[t_codes[i]]) for i in first],
                      dtype=object)
    return labels[inverse.reshape(-1)].tolist()


def _visit_table(lab: pd.DataFrame) -> pd.DataFrame:
    """Visit label and display-order keys of each record.

    Visits are ordered by ``AVISITN``; session samples (records with a ``SESSNUM``) are placed
    between the baseline visit (``AVISITN`` 0) and the first later visit, by session number and
    time point (pre, during, post), whatever their ``AVISITN``.
    """
    atpt = lab["ATPT"].astype(str) if "ATPT" in lab.columns else pd.Series("", index=lab.index)
    avisitn = (pd.to_numeric(lab["AVISITN"], errors="coerce") if "AVISITN" in lab.columns
               else pd.Series(float("nan"), index=lab.index))
    sess = (pd.to_numeric(lab["SESSNUM"], errors="coerce") if "SESSNUM" in lab.columns
            else pd.Series(float("nan"), index=lab.index))
    vis = pd.DataFrame({
        "AVISIT": lab["AVISIT"].astype(str).str.strip(),
        "ATPT": atpt.str.strip().str.upper(),
        "AVISITN": avisitn.where(sess.isna(), 0.5),
        "SESSN": sess.fillna(0.0),
    }, index=lab.index)
    vis["LABEL"] = _visit_labels(vis["AVISIT"], vis["ATPT"])
    vis["ATPTN"] = _map_distinct(vis["ATPT"], _ATPT_ORDER).fillna(-1)
    return vis


def _map_distinct(values: pd.Series, mapping: dict[str, int]) -> pd.Series:
    """``values.map(mapping)``, looked up once per distinct value (the result's dtype is
    inferred from the same mapped values)."""
    codes, distinct = pd.factorize(values, use_na_sentinel=False)
    mapped = pd.Series(distinct).map(mapping)
    return pd.Series(mapped.to_numpy()[codes], index=values.index, dtype=mapped.dtype)


def lab_summary(study: object, sap: object = None, issues: DataIssues | None = None,
                by: str | None = None) -> pd.DataFrame:
    """SAF-LBSUM: descriptive statistics of value and change by parameter and visit."""
    data = as_safety_data(study, sap, issues, by)
    if data.lab is None:
        return to_frame([])
    b = ArdBuilder("SAF-LBSUM")
    add_header(b, data)
    params = lab_parameters(data, "SAF-LBSUM")
    cols = [c for c in ("USUBJID", GROUP, "PARAMCD", "AVISIT", "ATPT", "AVISITN", "SESSNUM",
                        "AVAL", "CHG") if c in data.lab.columns]
    lab = data.lab.loc[data.lab["PARAMCD"].isin(params), cols]
    vis = _visit_table(lab)
    lab = lab.assign(_LABEL=vis["LABEL"], _AVISITN=vis["AVISITN"], _SESSN=vis["SESSN"],
                     _ATPTN=vis["ATPTN"])
    unscheduled = (vis["AVISIT"] == "").to_numpy()
    for code, count in lab.loc[unscheduled, "PARAMCD"].value_counts().sort_index().items():
        data.issues.add(source="SAF-LBSUM", file="adlb", variable="AVISIT", rule="no-visit",
                        severity="excluded",
                        message=f"{code}: {int(count)} record(s) without an analysis visit "
                                "(unscheduled) not summarised by visit")
    lab = lab.loc[~unscheduled]
    # Each cell's records by position (in record order), read from the value columns: the
    # same values as the cell's frame, without materialising one frame per cell.
    cells = lab.groupby(["PARAMCD", "_LABEL", GROUP], sort=False).indices
    columns = {v: lab[v].to_numpy(dtype=float) for v in ("AVAL", "CHG") if v in lab.columns}
    none = np.array([], dtype=np.intp)
    for code in params:
        keys = ["_AVISITN", "_SESSN", "_ATPTN"]
        order = (lab.loc[(lab["PARAMCD"] == code).to_numpy(), ["_LABEL", *keys]]
                 .groupby("_LABEL")[keys].min()
                 .sort_values(keys, na_position="last", kind="stable"))
        for label in order.index:
            for level, groups, _ in data.each_group():
                at = cells.get((code, label, level), none)
                g = {**groups, "PARAMCD": code, "AVISIT": label}
                for variable in ("AVAL", "CHG"):
                    summary = stats.describe(columns[variable][at])
                    if variable == "CHG" and summary["n"] == 0:
                        continue
                    for name in _DESCRIBE:
                        b.add(variable, name, summary[name], groups=g)
    return b.frame()


def lab_shift(study: object, sap: object = None, issues: DataIssues | None = None,
              by: str | None = None) -> pd.DataFrame:
    """SAF-LBSHIFT: baseline grade by worst post-baseline grade (normal-range basis)."""
    data = as_safety_data(study, sap, issues, by)
    if data.lab is None:
        return to_frame([])
    params = lab_parameters(data, "SAF-LBSHIFT", graded_only=True)
    worst = worst_post_baseline(data.lab, "ATOXGRNR")
    worst = worst.merge(data.adsl[["USUBJID", GROUP]], on="USUBJID", how="left")
    b = ArdBuilder("SAF-LBSHIFT")
    add_header(b, data)
    method = "grades against the normal range and absolute cut-offs (CTCAE v5.0)"
    for code in params:
        wp = worst.loc[worst["PARAMCD"] == code]
        nopost = wp.loc[wp["WGRADE"].isna()]
        for subj in nopost["USUBJID"]:
            data.issues.add(source="SAF-LBSHIFT", file="adlb", usubjid=str(subj),
                            variable="AVAL", rule="no-post-baseline", severity="excluded",
                            message=f"{code}: no graded post-baseline value; subject not in the "
                                    "shift table")
        wp = wp.loc[wp["WGRADE"].notna()].copy()
        wp["B"] = wp["BGRADE"].map(lambda v: "Missing" if pd.isna(v) else str(int(v)))
        wp["W"] = wp["WGRADE"].map(lambda v: str(int(v)))
        for level, groups, _ in data.each_group():
            rows = wp.loc[wp[GROUP] == level]
            N = int(rows["USUBJID"].nunique())
            g0 = {**groups, "PARAMCD": code}
            b.add("USUBJID", "N", N, groups=g0, method=method)
            counts = rows.groupby(["B", "W"]).size()
            for bcat in GRADE_CATS:
                for wcat in (*GRADE_CATS[:-1], "Any"):
                    if wcat == "Any":
                        n = int((rows["B"] == bcat).sum())
                    else:
                        n = int(counts.get((bcat, wcat), 0))
                    g = {**g0, "BGRADE": bcat}
                    b.add("WGRADE", "n", n, variable_level=wcat, groups=g, method=method)
                    b.add("WGRADE", "pct", 100.0 * n / N if N else None, variable_level=wcat,
                          groups=g, method=method)
    return b.frame()


def lab_grade3(study: object, sap: object = None, issues: DataIssues | None = None,
               by: str | None = None) -> pd.DataFrame:
    """SAF-LBG3: subjects with post-baseline values of CTCAE grade >= 3."""
    data = as_safety_data(study, sap, issues, by)
    if data.lab is None:
        return to_frame([])
    params = lab_parameters(data, "SAF-LBG3", graded_only=True)
    lab = data.lab
    post = lab.loc[((lab["POSTFL"] == "Y") & lab["ATOXGRN"].notna()
                    & lab["PARAMCD"].isin(params)).to_numpy(),
                   ["USUBJID", GROUP, "PARAMCD", "ATOXGRN", "BTOXGRN"]]
    post = post.assign(GE3=post["ATOXGRN"] >= 3,
                       WORSE=(post["ATOXGRN"] >= 3) & ~(post["BTOXGRN"] >= post["ATOXGRN"]))
    b = ArdBuilder("SAF-LBG3")
    add_header(b, data)
    for code in [*params, None]:
        rows_all = post if code is None else post.loc[post["PARAMCD"] == code]
        prefix = "ANY_" if code is None else ""
        for level, groups, _ in data.each_group():
            rows = rows_all.loc[rows_all[GROUP] == level]
            N = int(rows["USUBJID"].nunique())
            g = groups if code is None else {**groups, "PARAMCD": code}
            b.add("USUBJID", "N", N, variable_level="ANY" if code is None else "", groups=g)
            for name, col in (("GE3", "GE3"), ("GE3_WORSE", "WORSE")):
                n = int(rows.loc[rows[col], "USUBJID"].nunique())
                lvl = prefix + name
                b.add("ATOXGRN", "N", N, variable_level=lvl, groups=g)
                b.add("ATOXGRN", "n", n, variable_level=lvl, groups=g)
                b.add("ATOXGRN", "pct", 100.0 * n / N if N else None, variable_level=lvl,
                      groups=g)
                if N:
                    low, high = stats.clopper_pearson(n, N, data.conf_level)
                    b.add("ATOXGRN", "conf_low", low, variable_level=lvl, groups=g,
                          method=CP_METHOD)
                    b.add("ATOXGRN", "conf_high", high, variable_level=lvl, groups=g,
                          method=CP_METHOD)
    return b.frame()
