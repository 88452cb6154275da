"""Laboratory records for the safety analyses: baseline, change, CTCAE grades, worst grades.

:func:`grade_labs` prepares ADLB for SAF-LBSUM, SAF-LBSHIFT, SAF-LBG3 and listing 16.2.8.1:

1. **Baseline.** A ``BASE`` already in the data (standard ADaM, such as the CDISC pilot) is used
   as given, with its ``ABLFL``; a record is post-baseline when it is not the baseline record
   and was taken after the start of the first session (``ADTM`` after the first ADEX
   ``ASTDTM``; with dates only, ``ADT`` after ``TRTSDT``; without dates, ``AVISITN > 0``).
   Otherwise baseline and the pre-treatment flag come from
   :func:`msc_analysis.derive.baseline.derive_baseline` (last value on or before the start of
   the first session), and every record after the first session start is post-baseline.
2. **Change** ``CHG = AVAL - BASE`` on post-baseline records (always recomputed, so that value
   and change are in the same unit after unit conversion).
3. **Normal range** from ``ANRLO`` / ``ANRHI``, else ``A1LO`` / ``A1HI`` (CDISC pilot), else the
   SAP's default ``lln`` / ``uln`` of the parameter.
4. **Grades** (:mod:`msc_analysis.derive.ctcae`) of each record of a graded parameter:

   ``ATOXGRN``
       The CTCAE v5.0 grade on the SAP's basis for the parameter: with ``grade_basis =
       "abnormal-baseline"`` (TBil, ALT, AST) CTCAE's abnormal-baseline rule applies (multiples
       of baseline when the baseline is above the ULN), with ``uln-or-baseline`` (creatinine)
       both the ULN and the baseline criteria; with ``absolute`` / ``lln`` / ``uln`` the value
       is graded against the normal range and absolute cut-offs only. Parameters not
       in the SAP (other studies) use CTCAE's rules including the abnormal-baseline rule.
   ``ATOXGRNR``
       The grade against the normal range and absolute cut-offs only (never relative to
       baseline), for every parameter. The shift table uses it for both baseline and worst
       post-baseline grade, so that both are on one scale (every subject of this trial starts
       with an abnormal bilirubin, whose grade relative to itself would be 0).
   ``BTOXGRN`` / ``BTOXGRNR``
       The same grades of the baseline value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from msc_analysis.derive import ctcae
from msc_analysis.derive.baseline import derive_baseline, first_session_start
from msc_analysis.io.issues import DataIssues

__all__ = ["GradedTerm", "grade_labs", "graded_parameters", "worst_post_baseline"]

_SOURCE = "derive.lab_grades"


def _uses_baseline(basis: str) -> bool:
    """Whether a SAP grade basis applies CTCAE's baseline criteria (``abnormal-baseline``,
    ``uln-or-baseline``); ``absolute``, ``lln`` and ``uln`` grade against the normal range and
    absolute cut-offs only."""
    return "baseline" in basis


@dataclass(frozen=True)
class GradedTerm:
    """How one parameter is graded: CTCAE term and whether the baseline rule applies."""

    paramcd: str
    term: str
    use_baseline: bool
    basis: str


def graded_parameters(paramcds: object, sap: object | None = None) -> dict[str, GradedTerm]:
    """The graded parameters among ``paramcds``.

    A parameter listed in the SAP's ``[parameters]`` is graded when it has a ``ctcae_term``, on
    its ``grade_basis``; a parameter the SAP does not list (data of another study) is graded
    when :data:`~msc_analysis.derive.ctcae.PARAMCD_TERMS` knows its code, with CTCAE's own
    rules (abnormal-baseline rule included).
    """
    params: Mapping[str, object] = getattr(sap, "parameters", {}) if sap is not None else {}
    out: dict[str, GradedTerm] = {}
    for code in sorted({str(c) for c in paramcds}):
        if code in params:
            term = getattr(params[code], "ctcae_term", "")
            basis = getattr(params[code], "grade_basis", "") or "abnormal-baseline"
            if term:
                out[code] = GradedTerm(code, term, _uses_baseline(basis), basis)
        elif code in ctcae.PARAMCD_TERMS:
            out[code] = GradedTerm(code, ctcae.PARAMCD_TERMS[code], True, "ctcae")
    return out


def _col(frame: pd.DataFrame, *names: str) -> pd.Series:
    for name in names:
        if name in frame.columns:
            return pd.to_numeric(frame[name], errors="coerce").astype(float)
    return pd.Series(np.nan, index=frame.index)


def _text(frame: pd.DataFrame, name: str) -> pd.Series:
    if name not in frame.columns:
        return pd.Series("", index=frame.index, dtype=object)
    return frame[name].fillna("").astype(str).str.strip()


def _spread(values: pd.Series, func: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """``func(values)`` for an element-wise ``func``, computed once per distinct value."""
    codes, distinct = pd.factorize(values, use_na_sentinel=False)
    mapped = func(pd.Series(distinct))
    return pd.Series(mapped.array.take(codes), index=values.index)


def _unit_of(frame: pd.DataFrame) -> pd.Series:
    """Each record's unit: ``AVALU``, else the unit at the end of ``PARAM`` (``"... (g/L)"``)."""
    unit = _text(frame, "AVALU")
    param = _spread(_text(frame, "PARAM"), lambda distinct: distinct.str.extract(
        r"\(([^()]*)\)\s*$", expand=False).fillna(""))
    return unit.where(unit != "", param)


def _baseline(adlb: pd.DataFrame, adsl: pd.DataFrame | None,
              adex: pd.DataFrame | None) -> pd.DataFrame:
    """``BASE``, ``ABLFL`` and ``POSTFL`` (post-baseline) on a copy of ``adlb``."""
    given = "BASE" in adlb.columns and pd.to_numeric(adlb["BASE"], errors="coerce").notna().any()
    if not given:
        start = first_session_start(adsl, adex)
        out = derive_baseline(adlb, start)
        out["POSTFL"] = np.where((out["PREFL"] != "Y") & (out["ABLFL"] != "Y"), "Y", "")
        return out
    out = adlb.copy()
    out["BASE"] = pd.to_numeric(out["BASE"], errors="coerce").astype(float)
    ablfl = _text(out, "ABLFL").str.upper() == "Y"
    out["ABLFL"] = np.where(ablfl, "Y", "")
    start = first_session_start(adsl, adex)
    joined = out[["USUBJID"]].merge(start, on="USUBJID", how="left")
    trtsdtm = pd.to_datetime(joined["TRTSDTM"]).to_numpy()
    trtsdt = pd.to_datetime(joined["TRTSDT"]).dt.normalize().to_numpy()
    adtm = (pd.to_datetime(out["ADTM"], errors="coerce").to_numpy() if "ADTM" in out.columns
            else np.full(len(out), np.datetime64("NaT"), dtype="datetime64[ns]"))
    adt = (pd.to_datetime(out["ADT"], errors="coerce").dt.normalize().to_numpy()
           if "ADT" in out.columns else pd.Series(adtm).dt.normalize().to_numpy())
    by_time = ~pd.isna(adtm) & ~pd.isna(trtsdtm)
    by_date = ~by_time & ~pd.isna(adt) & ~pd.isna(trtsdt)
    after = np.where(by_time, adtm > trtsdtm, np.where(by_date, adt > trtsdt,
                                                        _col(out, "AVISITN").to_numpy() > 0))
    post = ~ablfl.to_numpy() & after
    out["POSTFL"] = np.where(post, "Y", "")
    return out


def grade_labs(
    adlb: pd.DataFrame,
    *,
    adsl: pd.DataFrame | None = None,
    adex: pd.DataFrame | None = None,
    sap: object | None = None,
    issues: DataIssues | None = None,
    digits: int = 6,
    criteria: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Baseline, change, normal range and CTCAE grades of every ADLB record.

    Parameters
    ----------
    adlb : DataFrame
        Laboratory records (``USUBJID``, ``PARAMCD``, ``AVAL`` and ``ADTM`` or ``ADT``).
    adsl, adex : DataFrame, optional
        For the first-session start (baseline rule and post-baseline flag).
    sap : Sap, optional
        For the graded parameters, their grade basis and default normal ranges.
    issues : DataIssues, optional
        Receives one line per parameter whose unit cannot be converted to the CTCAE unit, and
        one per record of a graded parameter whose grade cannot be decided.
    digits : int
        Significant digits of the grade comparisons.

    Returns
    -------
    DataFrame
        A copy with ``BASE``, ``ABLFL``, ``POSTFL``, ``CHG``, ``LLN``, ``ULN``, ``ATOXTERM``,
        ``ATOXDIR``, ``ATOXGRN``, ``ATOXGRNR``, ``BTOXGRN``, ``BTOXGRNR`` (grades float, NaN for
        parameters not graded or not gradable).
    """
    crit = ctcae.load_criteria() if criteria is None else criteria
    out = _baseline(adlb, adsl, adex)
    aval = _col(out, "AVAL")
    post = out["POSTFL"] == "Y"
    out["CHG"] = (aval - out["BASE"]).where(post)
    lln = _col(out, "ANRLO", "A1LO")
    uln = _col(out, "ANRHI", "A1HI")
    rows_of = _rows_by_code(out["PARAMCD"])
    params: Mapping[str, object] = getattr(sap, "parameters", {}) if sap is not None else {}
    for code, p in params.items():
        rows = rows_of(code)
        if getattr(p, "lln", None) is not None:
            lln = lln.where(~(rows & lln.isna().to_numpy()), float(p.lln))  # type: ignore[attr-defined]
        if getattr(p, "uln", None) is not None:
            uln = uln.where(~(rows & uln.isna().to_numpy()), float(p.uln))  # type: ignore[attr-defined]
    out["LLN"] = lln
    out["ULN"] = uln
    n = len(out)
    grades = {name: np.full(n, np.nan) for name in ("ATOXGRN", "ATOXGRNR", "BTOXGRN", "BTOXGRNR")}
    terms = np.full(n, "", dtype=object)
    directions = np.full(n, "", dtype=object)
    unit_codes, unit_values = pd.factorize(_unit_of(out), use_na_sentinel=False)
    values, bases = aval.to_numpy(), out["BASE"].to_numpy(dtype=float)
    lows, highs = lln.to_numpy(), uln.to_numpy()
    graded = graded_parameters(out["PARAMCD"].unique(), sap)
    for code, g in graded.items():
        rows = rows_of(code)
        terms[rows] = g.term
        directions[rows] = ctcae.term_direction(g.term, crit)
        factors = np.full(int(rows.sum()), np.nan)
        unit_of_row = unit_codes[rows]
        present = {unit_values[i]: i for i in np.unique(unit_of_row)}
        for unit in sorted(present):
            f = ctcae.convert_to_criteria_unit(g.term, unit, crit)
            sel = unit_of_row == present[unit]
            if f is None:
                if issues is not None:
                    issues.add(source=_SOURCE, variable="AVALU", rule="unit-not-gradable",
                               severity="warning",
                               message=f"{code}: {int(sel.sum())} values in unit {unit!r} cannot "
                                       f"be graded for {g.term!r} (CTCAE unit "
                                       f"{ctcae.criteria_unit(g.term, crit)!r})")
                continue
            factors[sel] = f
        v = values[rows] * factors
        b = bases[rows] * factors
        lo = lows[rows] * factors
        hi = highs[rows] * factors
        kw = {"lln": lo, "uln": hi, "criteria": crit, "digits": digits}
        grades["ATOXGRN"][rows] = ctcae.grade_values(g.term, v, base=b,
                                                     use_baseline=g.use_baseline, **kw)
        grades["ATOXGRNR"][rows] = ctcae.grade_values(g.term, v, base=b, use_baseline=False,
                                                      **kw)
        # The baseline value graded like any value: relative to itself under the
        # abnormal-baseline rule (grade 0 when abnormal), and against the normal range.
        grades["BTOXGRN"][rows] = ctcae.grade_values(g.term, b, base=b,
                                                     use_baseline=g.use_baseline, **kw)
        grades["BTOXGRNR"][rows] = ctcae.grade_values(g.term, b, base=b, use_baseline=False,
                                                      **kw)
        if issues is not None:
            ungraded = rows & np.isnan(grades["ATOXGRN"]) & aval.notna().to_numpy()
            for i in np.flatnonzero(ungraded):
                issues.add(source=_SOURCE, file=str(out["_file"].iloc[i]) if "_file" in out
                           else "adlb", row=_row(out, i), usubjid=str(out["USUBJID"].iloc[i]),
                           variable="AVAL", rule="grade-undetermined", severity="warning",
                           message=f"{code} value {aval.iloc[i]!r}: CTCAE grade cannot be decided "
                                   "(normal-range limit or unit missing); not counted as graded")
    for name, grade in grades.items():
        out[name] = grade
    out["ATOXTERM"] = pd.Series(terms, index=out.index, dtype="str")
    out["ATOXDIR"] = pd.Series(directions, index=out.index, dtype="str")
    return out


def _rows_by_code(paramcd: pd.Series) -> Callable[[str], np.ndarray]:
    """A function giving the boolean row mask of a parameter code (``paramcd == code``),
    from one factorisation of the column instead of a text comparison per code."""
    codes, values = pd.factorize(paramcd)
    position = {value: i for i, value in enumerate(values)}

    def rows(code: str) -> np.ndarray:
        return codes == position.get(code, -2)

    return rows


def _row(frame: pd.DataFrame, i: int) -> int | None:
    if "_row" in frame.columns and not pd.isna(frame["_row"].iloc[i]):
        return int(frame["_row"].iloc[i])
    return None


def worst_post_baseline(graded: pd.DataFrame, grade: str = "ATOXGRNR") -> pd.DataFrame:
    """Baseline grade and worst post-baseline grade per subject and graded parameter.

    Returns
    -------
    DataFrame
        ``USUBJID``, ``PARAMCD``, ``BGRADE`` (grade of the baseline value on the basis of
        ``grade``; NaN without baseline), ``WGRADE`` (worst post-baseline grade, NaN when no
        post-baseline value could be graded), ``NPOST`` (post-baseline values with a grade).
    """
    base_col = {"ATOXGRN": "BTOXGRN", "ATOXGRNR": "BTOXGRNR"}[grade]
    g = graded.loc[(graded["ATOXTERM"] != "").to_numpy(),
                   ["USUBJID", "PARAMCD", "POSTFL", base_col, grade]]
    subj = g.groupby(["USUBJID", "PARAMCD"], sort=True)
    base = subj[base_col].max().rename("BGRADE")
    post = g[(g["POSTFL"] == "Y") & g[grade].notna()]
    worst = post.groupby(["USUBJID", "PARAMCD"], sort=True)[grade].max().rename("WGRADE")
    npost = post.groupby(["USUBJID", "PARAMCD"], sort=True)[grade].size().rename("NPOST")
    out = pd.concat([base, worst, npost], axis=1).reset_index()
    out["NPOST"] = out["NPOST"].fillna(0).astype(int)
    return out
