"""Adverse-event analyses of the Safety Set: SAF-AEOV, -AESOCPT, -AEGRADE, -AEREL, -AESER, -AESESS.

Each function takes the derived safety data (:class:`~msc_analysis.analyses.safety_data.
SafetyData`) or a loaded study with the SAP settings, and returns ARD rows
(:mod:`msc_analysis.ard`). Counting rules (ICH E3 section 14.3.1):

- subjects (``n``) are counted once per row however many events they had; ``N`` is the number
  of Safety Set subjects of the group; ``pct = 100 n / N``; ``n_events`` counts records;
- ``conf_low`` / ``conf_high`` are the Clopper-Pearson exact interval of ``n / N`` at the SAP's
  confidence level (R ``binom.test``);
- the hierarchy rows are: any TEAE (``variable = "TRTEMFL"``, level ``Y``), each system organ
  class (``variable = "AEBODSYS"``, level = SOC) and each preferred term (``variable =
  "AEDECOD"``, level = PT, with the SOC as by-variable ``AEBODSYS``), after the group
  by-variable when there is one;
- a subject's grade in SAF-AEGRADE is the maximum over the events of the row (SOC, PT, or any),
  ignoring events without a grade; a subject whose events of the row all lack a grade is
  counted under ``Missing``.
"""

from __future__ import annotations

import pandas as pd

from msc_analysis import stats
from msc_analysis.analyses.safety_data import GROUP, SafetyData, add_header, as_safety_data
from msc_analysis.ard import ArdBuilder, to_frame
from msc_analysis.io.issues import DataIssues

__all__ = [
    "GRADE_LEVELS",
    "ae_by_grade",
    "ae_by_soc_pt",
    "ae_overview",
    "ae_related",
    "ae_serious",
    "ae_sessions",
]

SOC = "AEBODSYS"
PT = "AEDECOD"
#: Levels of the maximum-grade by-variable ``MAXGRADE`` of SAF-AEGRADE (plus ``Missing``).
GRADE_LEVELS: dict[str, tuple[str, ...]] = {
    "CTCAE grade": ("1", "2", "3", "4", "5"),
    "Severity": ("1", "2", "3"),
}
CP_METHOD = "Clopper-Pearson exact CI"


def _teae(data: SafetyData) -> pd.DataFrame:
    if data.ae is None:
        return pd.DataFrame(columns=["USUBJID", GROUP, SOC, PT, "TRTEMFL", "AGRADEN"])
    frame = data.ae.frame
    return frame.loc[frame["TRTEMFL"] == "Y"]


def _add_incidence(b: ArdBuilder, variable: str, level: str, groups: dict[str, str], n: int,
                   N: int, events: int, conf_level: float, ci: bool = True) -> None:
    b.add(variable, "N", N, variable_level=level, groups=groups)
    b.add(variable, "n", n, variable_level=level, groups=groups)
    b.add(variable, "pct", 100.0 * n / N if N else None, variable_level=level, groups=groups)
    b.add(variable, "n_events", events, variable_level=level, groups=groups)
    if ci and N:
        low, high = stats.clopper_pearson(n, N, conf_level)
        b.add(variable, "conf_low", low, variable_level=level, groups=groups, method=CP_METHOD)
        b.add(variable, "conf_high", high, variable_level=level, groups=groups,
              method=CP_METHOD)
        b.add(variable, "conf_level", conf_level, variable_level=level, groups=groups,
              method=CP_METHOD)


def _overview_categories(data: SafetyData, teae: pd.DataFrame) -> list[tuple[str, pd.Series]]:
    """(variable name, record mask) of each overview row, in display order."""
    cats: list[tuple[str, pd.Series]] = [("TEAE", pd.Series(True, index=teae.index))]
    if data.ae is not None:
        rel = data.ae.relationship_vars
        for var in rel:
            cats.append((f"TEAE_REL_{var}", teae[f"REL_{var}"] == "Y"))
        if len(rel) > 1:
            cats.append(("TEAE_REL_ANY", teae["RELANYFL"] == "Y"))
        name = "TEAE_SEVERE" if data.ae.grade_source == "AESEV" else "TEAE_GR3"
        cats.append((name, teae["AGRADEN"] >= 3))
        cats.append(("TEAE_SER", teae["SERFL"] == "Y"))
        for var in data.ae.seriousness_vars:
            cats.append((f"TEAE_SER_{var}", teae[f"SER_{var}"] == "Y"))
        cats.append(("TEAE_INTR", teae["INTRFL"] == "Y"))
        cats.append(("TEAE_STOP", teae["STOPFL"] == "Y"))
        cats.append(("TEAE_FATAL", teae["FATALFL"] == "Y"))
    return cats


def ae_overview(study: object, sap: object = None, issues: DataIssues | None = None,
                by: str | None = None) -> pd.DataFrame:
    """SAF-AEOV: overview of TEAEs (subjects n, %, Clopper-Pearson CI, events).

    Rows: ``variable`` = ``TEAE`` (any), ``TEAE_REL_<var>`` per relationship variable
    (``AERELDEV`` device, ``AERELMSC`` MSC, ``AERELPRC`` procedure, or ``AEREL``),
    ``TEAE_REL_ANY``, ``TEAE_GR3`` (CTCAE grade >= 3; ``TEAE_SEVERE`` when the grade is the
    severity), ``TEAE_SER`` and ``TEAE_SER_<criterion>``, ``TEAE_INTR`` (leading to
    interruption of a session), ``TEAE_STOP`` (to a stop of sessions), ``TEAE_FATAL``; one
    ``USUBJID`` / ``N`` row per group gives the column header's N.
    """
    data = as_safety_data(study, sap, issues, by)
    teae = _teae(data)
    b = ArdBuilder("SAF-AEOV")
    add_header(b, data)
    for name, mask in _overview_categories(data, teae):
        sub = teae.loc[mask.to_numpy(dtype=bool)] if len(teae) else teae
        for level, groups, N in data.each_group():
            rows = sub.loc[sub[GROUP] == level]
            _add_incidence(b, name, "", groups, int(rows["USUBJID"].nunique()), N, len(rows),
                           data.conf_level)
    return b.frame()


def _hierarchy(analysis_id: str, data: SafetyData, records: pd.DataFrame,
               ci: bool = True) -> pd.DataFrame:
    """Any / SOC / PT incidence rows of ``records`` for every group (zeros included)."""
    b = ArdBuilder(analysis_id)
    add_header(b, data)
    level_pairs = records[[SOC, PT]].drop_duplicates().sort_values([SOC, PT])
    socs = sorted(records[SOC].unique())
    for level, groups, N in data.each_group():
        rows = records.loc[records[GROUP] == level]
        _add_incidence(b, "TRTEMFL", "Y", groups, int(rows["USUBJID"].nunique()), N, len(rows),
                       data.conf_level, ci)
        soc_n = rows.groupby(SOC)["USUBJID"].nunique()
        soc_e = rows.groupby(SOC).size()
        pt_n = rows.groupby([SOC, PT])["USUBJID"].nunique()
        pt_e = rows.groupby([SOC, PT]).size()
        for soc in socs:
            _add_incidence(b, SOC, soc, groups, int(soc_n.get(soc, 0)), N,
                           int(soc_e.get(soc, 0)), data.conf_level, ci)
            for pt in level_pairs.loc[level_pairs[SOC] == soc, PT]:
                _add_incidence(b, PT, pt, {**groups, SOC: soc}, int(pt_n.get((soc, pt), 0)),
                               N, int(pt_e.get((soc, pt), 0)), data.conf_level, ci)
    return b.frame()


def ae_by_soc_pt(study: object, sap: object = None, issues: DataIssues | None = None,
                 by: str | None = None) -> pd.DataFrame:
    """SAF-AESOCPT: TEAEs by SOC and PT (subjects n, %, CI, events)."""
    data = as_safety_data(study, sap, issues, by)
    return _hierarchy("SAF-AESOCPT", data, _teae(data))


def ae_related(study: object, sap: object = None, issues: DataIssues | None = None,
               by: str | None = None) -> pd.DataFrame:
    """SAF-AEREL: TEAEs related to any of device, MSC or procedure, by SOC and PT."""
    data = as_safety_data(study, sap, issues, by)
    teae = _teae(data)
    rel = teae.loc[teae["RELANYFL"] == "Y"] if "RELANYFL" in teae.columns else teae.iloc[0:0]
    return _hierarchy("SAF-AEREL", data, rel)


def ae_serious(study: object, sap: object = None, issues: DataIssues | None = None,
               by: str | None = None) -> pd.DataFrame:
    """SAF-AESER: serious TEAEs by SOC and PT."""
    data = as_safety_data(study, sap, issues, by)
    teae = _teae(data)
    ser = teae.loc[teae["SERFL"] == "Y"] if "SERFL" in teae.columns else teae.iloc[0:0]
    return _hierarchy("SAF-AESER", data, ser)


def _grade_category(grades: pd.Series) -> pd.Series:
    return grades.map(lambda g: "Missing" if pd.isna(g) else str(int(g)))


def ae_by_grade(study: object, sap: object = None, issues: DataIssues | None = None,
                by: str | None = None) -> pd.DataFrame:
    """SAF-AEGRADE: subjects by maximum grade, for any TEAE, each SOC and each PT.

    The grade is the by-variable ``MAXGRADE`` (levels ``1`` .. ``5`` for CTCAE grades, ``1`` ..
    ``3`` for severity, ``Missing``, and ``Any`` for all grades together); ``method`` names the
    grade scale.
    """
    data = as_safety_data(study, sap, issues, by)
    teae = _teae(data)
    label = data.ae.grade_label if data.ae is not None else "CTCAE grade"
    source = data.ae.grade_source if data.ae is not None else ""
    method = f"maximum {label.lower()} ({source or 'none'})"
    levels = list(GRADE_LEVELS.get(label, GRADE_LEVELS["CTCAE grade"]))
    if teae["AGRADEN"].isna().any():
        levels.append("Missing")
    b = ArdBuilder("SAF-AEGRADE")
    add_header(b, data)
    pairs = [tuple(p) for p in teae[[SOC, PT]].drop_duplicates().sort_values([SOC, PT])
             .itertuples(index=False)]
    socs = [(s,) for s in sorted(teae[SOC].unique())]
    for level, groups, N in data.each_group():
        rows = teae.loc[teae[GROUP] == level]
        for keys, wanted, variable in (([], [()], "TRTEMFL"), ([SOC], socs, SOC),
                                       ([SOC, PT], pairs, PT)):
            _grade_rows(b, rows, keys, wanted, variable, groups, N, levels, method)
    return b.frame()


def _grade_rows(b: ArdBuilder, rows: pd.DataFrame, keys: list[str],
                wanted: list[tuple[str, ...]], variable: str, groups: dict[str, str], N: int,
                levels: list[str], method: str) -> None:
    """Subjects by maximum grade for each key tuple in ``wanted`` (zeros included)."""
    worst = rows.groupby(["USUBJID", *keys], dropna=False)["AGRADEN"].max().reset_index()
    worst["CAT"] = _grade_category(worst["AGRADEN"])
    if keys:
        parts = {k if isinstance(k, tuple) else (k,): g for k, g in worst.groupby(keys)}
    else:
        parts = {(): worst}
    empty = worst.iloc[0:0]
    for kv in wanted:
        part = parts.get(tuple(kv), empty)
        counts = part["CAT"].value_counts()
        lvl = kv[-1] if kv else "Y"
        parent = {SOC: kv[0]} if len(kv) == 2 else {}
        for cat in [*levels, "Any"]:
            n = int(part["USUBJID"].nunique()) if cat == "Any" else int(counts.get(cat, 0))
            g = {**groups, **parent, "MAXGRADE": cat}
            b.add(variable, "n", n, variable_level=lvl, groups=g, method=method)
            b.add(variable, "pct", 100.0 * n / N if N else None, variable_level=lvl, groups=g,
                  method=method)


def ae_sessions(study: object, sap: object = None, issues: DataIssues | None = None,
                by: str | None = None) -> pd.DataFrame:
    """SAF-AESESS: AEs during or within the SAP's window (24 h) after each session.

    Rows per group and by-variable ``SESSNUM`` (``1``, ``2``, ..., and ``All``), ``variable =
    "AE_SESSION"``: ``n_sessions`` (sessions started), ``N`` (subjects with that session),
    ``n`` / ``pct`` (subjects with at least one such AE), ``n_events``, ``rate`` (events per 100
    sessions) and its exact Poisson CI ``conf_low`` / ``conf_high`` (R ``poisson.test``) x 100.
    Empty when ADEX is absent.
    """
    data = as_safety_data(study, sap, issues, by)
    b = ArdBuilder("SAF-AESESS")
    if data.adex is None or data.ae is None or "ASESSNUM" not in data.ae.frame.columns:
        return to_frame([])
    ex = data.adex
    ae = data.ae.frame.loc[data.ae.frame["ASESSNUM"].notna()]
    sessions = sorted(int(s) for s in ex["SESSNUM"].dropna().unique())
    method = "exact Poisson CI per 100 sessions"
    add_header(b, data)
    for level, groups, _ in data.each_group():
        exg = ex.loc[ex[GROUP] == level]
        aeg = ae.loc[ae[GROUP] == level]
        for k in [*sessions, "All"]:
            if k == "All":
                exk, aek = exg, aeg
            else:
                exk = exg.loc[exg["SESSNUM"] == k]
                aek = aeg.loc[aeg["ASESSNUM"] == k]
            g = {**groups, "SESSNUM": str(k)}
            n_sess = len(exk)
            N = int(exk["USUBJID"].nunique())
            n = int(aek["USUBJID"].nunique())
            events = len(aek)
            b.add("AE_SESSION", "n_sessions", n_sess, groups=g)
            b.add("AE_SESSION", "N", N, groups=g)
            b.add("AE_SESSION", "n", n, groups=g)
            b.add("AE_SESSION", "pct", 100.0 * n / N if N else None, groups=g)
            b.add("AE_SESSION", "n_events", events, groups=g)
            if n_sess:
                low, high = stats.poisson_exact_ci(events, n_sess, data.conf_level)
                b.add("AE_SESSION", "rate", 100.0 * events / n_sess, groups=g, method=method)
                b.add("AE_SESSION", "conf_low", 100.0 * low, groups=g, method=method)
                b.add("AE_SESSION", "conf_high", 100.0 * high, groups=g, method=method)
    return b.frame()
