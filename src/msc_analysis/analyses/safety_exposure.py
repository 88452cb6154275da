"""Extent of exposure (SAF-EXPO) and vital signs around sessions (SAF-VS).

SAF-EXPO (ADEX, one record per session started), per group:

- ``NSESS``: sessions per subject (Safety Set subjects without a session count as 0):
  descriptive statistics, and subjects with exactly k sessions (``variable_level = k``: ``n``,
  ``pct``);
- ``EXDUR`` (session duration, min; from ``AENDTM - ASTDTM`` when ``EXDUR`` is missing),
  ``PLVOL`` (plasma volume processed, mL), ``MSCDOSE`` (10^9 cells): descriptive statistics over
  sessions;
- ``SESSIONS``: ``n_sessions`` started;
- ``ANTICOAG`` and ``SESSSTAT`` by level: ``n_sessions``, ``pct`` (percent **of sessions**, as
  ``method`` says) and ``n`` / ``N`` (subjects with at least one such session);
- ``INTRREAS`` by reason, for sessions interrupted or stopped: ``n_sessions``.

SAF-VS (ADVS), per group and session number (by-variable ``SESSNUM``):

- per parameter (by-variable ``PARAMCD``) and time point (``variable = "AVAL"``,
  ``variable_level`` = ``PRE`` / ``DURING`` / ``POST``): descriptive statistics;
- ``HYPOTENSION`` (systolic < ``sap.vitals.hypotension_sbp`` during or after the session, or a
  fall of at least ``sbp_drop`` from the pre-session value) and ``FEVER`` (temperature >=
  ``fever_temp`` during or after the session), ``variable_level = "Y"``: ``n`` subjects (one
  session k per subject), ``N`` subjects with an evaluable session k, ``pct``; for
  ``SESSNUM = "All"`` also ``n_sessions`` (sessions with the finding) with the evaluable
  sessions under ``variable_level = "EVALUABLE"``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from msc_analysis import stats
from msc_analysis.analyses.safety_data import GROUP, add_header, as_safety_data
from msc_analysis.ard import ArdBuilder, to_frame
from msc_analysis.io.issues import DataIssues

__all__ = ["exposure", "session_vital_flags", "vital_signs"]

_DESCRIBE = ("n", "mean", "sd", "median", "q1", "q3", "min", "max")
_PCT_SESSIONS = "percent of sessions"
_ATPT = ("PRE", "DURING", "POST")


def _describe(b: ArdBuilder, variable: str, values: object, groups: dict[str, str],
              level: str = "") -> None:
    summary = stats.describe(np.asarray(values, dtype=float))
    for name in _DESCRIBE:
        b.add(variable, name, summary[name], variable_level=level, groups=groups)


def _text(frame: pd.DataFrame, name: str) -> pd.Series:
    if name not in frame.columns:
        return pd.Series("", index=frame.index, dtype=object)
    return frame[name].fillna("").astype(str).str.strip().str.upper()


def exposure(study: object, sap: object = None, issues: DataIssues | None = None,
             by: str | None = None) -> pd.DataFrame:
    """SAF-EXPO: extent of exposure (see the module docstring). Empty without ADEX."""
    data = as_safety_data(study, sap, issues, by)
    if data.adex is None:
        return to_frame([])
    ex = data.adex.copy()
    duration = pd.to_numeric(ex["EXDUR"], errors="coerce") if "EXDUR" in ex.columns else (
        pd.Series(np.nan, index=ex.index))
    if {"ASTDTM", "AENDTM"} <= set(ex.columns):
        computed = (ex["AENDTM"] - ex["ASTDTM"]).dt.total_seconds() / 60.0
        duration = duration.fillna(computed)
    ex["_DUR"] = duration.astype(float)
    ex["_STAT"] = _text(ex, "SESSSTAT")
    ex["_ANTI"] = _text(ex, "ANTICOAG")
    ex["_REAS"] = _text(ex, "INTRREAS")
    stat_levels = ["COMPLETED", "INTERRUPTED", "STOPPED"]
    stat_levels += sorted(set(ex["_STAT"]) - set(stat_levels) - {""})
    anti_levels = sorted(set(ex["_ANTI"]) - {""})
    max_sess = int(ex.groupby("USUBJID").size().max()) if len(ex) else 0
    b = ArdBuilder("SAF-EXPO")
    add_header(b, data)
    for level, groups, N in data.each_group():
        subjects = data.adsl.loc[data.adsl[GROUP] == level, "USUBJID"]
        exg = ex.loc[ex[GROUP] == level]
        per_subject = subjects.map(exg.groupby("USUBJID").size()).fillna(0)
        _describe(b, "NSESS", per_subject, groups)
        for k in range(0, max_sess + 1):
            n = int((per_subject == k).sum())
            b.add("NSESS", "n", n, variable_level=str(k), groups=groups)
            b.add("NSESS", "pct", 100.0 * n / N if N else None, variable_level=str(k),
                  groups=groups)
        for var, values in (("EXDUR", exg["_DUR"]),
                            ("PLVOL", exg.get("PLVOL", pd.Series(dtype=float))),
                            ("MSCDOSE", exg.get("MSCDOSE", pd.Series(dtype=float)))):
            _describe(b, var, pd.to_numeric(values, errors="coerce"), groups)
        total = len(exg)
        b.add("SESSIONS", "n_sessions", total, groups=groups)
        for var, col, levels in (("ANTICOAG", "_ANTI", anti_levels),
                                 ("SESSSTAT", "_STAT", stat_levels)):
            for lv in levels:
                sel = exg.loc[exg[col] == lv]
                b.add(var, "n_sessions", len(sel), variable_level=lv, groups=groups)
                b.add(var, "pct", 100.0 * len(sel) / total if total else None,
                      variable_level=lv, groups=groups, method=_PCT_SESSIONS)
                b.add(var, "n", int(sel["USUBJID"].nunique()), variable_level=lv,
                      groups=groups)
                b.add(var, "N", N, variable_level=lv, groups=groups)
        stopped = exg.loc[exg["_STAT"].isin(["INTERRUPTED", "STOPPED"])]
        for reason, count in stopped["_REAS"].replace("", "NOT GIVEN").value_counts() \
                .sort_index().items():
            b.add("INTRREAS", "n_sessions", int(count), variable_level=str(reason),
                  groups=groups)
    return b.frame()


def _vs_columns(advs: pd.DataFrame) -> list[str]:
    """The ADVS variables the session vital-sign analyses read (present ones)."""
    return [c for c in ("USUBJID", GROUP, "SESSNUM", "PARAMCD", "ATPT", "AVAL")
            if c in advs.columns]


def session_vital_flags(advs: pd.DataFrame, sap: object = None) -> pd.DataFrame:
    """Hypotension and fever flags of each session with vital signs.

    Returns
    -------
    DataFrame
        ``USUBJID``, :data:`GROUP`, ``SESSNUM``, ``HYPO_EVAL`` / ``HYPOFL`` and ``FEVER_EVAL`` /
        ``FEVERFL`` (bools), ``SBP_PRE``, ``SBP_MIN`` (lowest systolic during or after).
    """
    vit = getattr(sap, "vitals", None)
    sbp_limit = float(getattr(vit, "hypotension_sbp", 90.0))
    drop = float(getattr(vit, "sbp_drop", 20.0))
    fever = float(getattr(vit, "fever_temp", 38.0))
    vs = advs.loc[advs["SESSNUM"].notna().to_numpy(), _vs_columns(advs)]
    vs["_ATPT"] = _text(vs, "ATPT")
    vs["AVAL"] = pd.to_numeric(vs["AVAL"], errors="coerce")
    keys = ["USUBJID", GROUP, "SESSNUM"]
    sessions = vs[keys].drop_duplicates().set_index(keys)
    after = vs["_ATPT"].isin(["DURING", "POST"])
    sbp = vs.loc[vs["PARAMCD"] == "SYSBP"]
    pre = sbp.loc[sbp["_ATPT"] == "PRE"].groupby(keys)["AVAL"].last()
    low = sbp.loc[after.loc[sbp.index] & sbp["AVAL"].notna()].groupby(keys)["AVAL"].min()
    temp = vs.loc[(vs["PARAMCD"] == "TEMP") & after & vs["AVAL"].notna()]
    tmax = temp.groupby(keys)["AVAL"].max()
    out = sessions.assign(SBP_PRE=pre, SBP_MIN=low, TEMP_MAX=tmax).reset_index()
    out["HYPO_EVAL"] = out["SBP_MIN"].notna()
    out["HYPOFL"] = out["HYPO_EVAL"] & (
        (out["SBP_MIN"] < sbp_limit) | ((out["SBP_PRE"] - out["SBP_MIN"]) >= drop))
    out["FEVER_EVAL"] = out["TEMP_MAX"].notna()
    out["FEVERFL"] = out["FEVER_EVAL"] & (out["TEMP_MAX"] >= fever)
    return out.sort_values(keys, kind="stable").reset_index(drop=True)


def vital_signs(study: object, sap: object = None, issues: DataIssues | None = None,
                by: str | None = None) -> pd.DataFrame:
    """SAF-VS: vital signs before, during and after each session (see the module docstring)."""
    data = as_safety_data(study, sap, issues, by)
    if data.advs is None or "SESSNUM" not in data.advs.columns:
        return to_frame([])
    advs = data.advs
    vs = advs.loc[advs["SESSNUM"].notna().to_numpy(), _vs_columns(advs)]
    vs["SESSNUM"] = vs["SESSNUM"].astype(int)
    vs["_ATPT"] = _text(vs, "ATPT")
    vs["AVAL"] = pd.to_numeric(vs["AVAL"], errors="coerce")
    analysis = getattr(data.sap, "analyses", {}).get("SAF-VS")
    listed = list(getattr(analysis, "parameters", ()) or ())
    present = set(vs["PARAMCD"].unique())
    params = [p for p in listed if p in present] or sorted(vs["PARAMCD"].unique())
    flags = session_vital_flags(advs, data.sap)
    sessions = sorted(int(s) for s in vs["SESSNUM"].unique())
    # Each cell's values by position (record order), without one frame per cell.
    cells = vs.groupby([GROUP, "SESSNUM", "PARAMCD", "_ATPT"]).indices
    aval = vs["AVAL"].to_numpy(dtype=float)
    none = np.array([], dtype=np.intp)
    b = ArdBuilder("SAF-VS")
    add_header(b, data)
    for level, groups, _n in data.each_group():
        fl = flags.loc[flags[GROUP] == level]
        for k in sessions:
            for code in params:
                g = {**groups, "SESSNUM": str(k), "PARAMCD": code}
                for tp in _ATPT:
                    _describe(b, "AVAL", aval[cells.get((level, k, code, tp), none)], g, tp)
        for k in [*sessions, "All"]:
            fk = fl if k == "All" else fl.loc[fl["SESSNUM"] == k]
            g = {**groups, "SESSNUM": str(k)}
            for var, ev, flag in (("HYPOTENSION", "HYPO_EVAL", "HYPOFL"),
                                  ("FEVER", "FEVER_EVAL", "FEVERFL")):
                evaluable = fk.loc[fk[ev]]
                n_subj = int(evaluable.loc[evaluable[flag], "USUBJID"].nunique())
                N_subj = int(evaluable["USUBJID"].nunique())
                b.add(var, "n", n_subj, variable_level="Y", groups=g)
                b.add(var, "N", N_subj, variable_level="Y", groups=g)
                b.add(var, "pct", 100.0 * n_subj / N_subj if N_subj else None,
                      variable_level="Y", groups=g)
                if k == "All":
                    b.add(var, "n_sessions", int(evaluable[flag].sum()), variable_level="Y",
                          groups=g)
                    b.add(var, "n_sessions", len(evaluable), variable_level="EVALUABLE",
                          groups=g)
    return b.frame()
