"""Pre/post analyses of the biomarkers (SAP section 14.2): one function per analysis id.

=========  ====================================================================================
id         what the ARD rows hold (group1 ``PARAMCD``; group2 ``SESSNUM`` or ``AVISIT``)
=========  ====================================================================================
PP-SESS    per session: descriptives of ``PRE``, ``POST`` (geometric mean / CV on log scale),
           ``CHG``, ``PCHG``, ``RR`` (``variable_level`` ""); the SAP's tests of POST vs PRE:
           ``paired-t`` (``RATIO`` = geometric mean ratio POST/PRE on log scale, ``CHG`` = mean
           difference on linear scale), ``signed-rank`` (``CHG``, Hodges-Lehmann estimate) and
           ``sign-test`` (``CHG``, median difference)
PP-RR      per parameter: each subject's mean reduction ratio over their sessions (``RR``),
           summarised; ``t-test`` (mean RR and t interval, H0: RR = 0) and ``signed-rank``
PP-FU      ``Baseline`` and the follow-up visits: descriptives of ``AVAL``, ``CHG``, ``PCHG``;
           paired t (visit vs baseline) and signed-rank of ``CHG``
PP-MMRM    LS mean change from baseline per follow-up visit (``variable_level`` ``mmrm``;
           ``RATIO`` on log scale, ``CHG`` on linear scale); ``loglik`` of each model
           (variable ``MODEL``), or, when fewer than :data:`MMRM_MIN_SUBJECTS` subjects
           contribute, ``n`` of variable ``MODEL`` with the reason in ``method``
PP-MELD    MELD, MELD-Na, MELD 3.0 (group1 ``PARAMCD`` = MELD/MELDNA/MELD3) over time, as PP-FU
PP-HOLM    the SAP's test (paired t) of change to the key visit; ``p_value_adj`` = Holm across
           the Holm family
PP-LLOQ    PP-SESS and PP-FU repeated with values below the LLOQ set to the LLOQ; ``n`` of
           ``BLQFL`` = ``Y`` per parameter
=========  ====================================================================================

Which tests run follows the SAP's ``method`` of each analysis. Every analysis also writes ``N``
(the analysis set's size, variable ``USUBJID``) and, for every subject or value left out,
``n_excluded`` with ``variable_level`` = the reason, plus one data-issue line (severity
``excluded``, source = the analysis id) per excluded subject or record, so that the two always
add up. Confidence levels come from ``sap.conf_level`` and each interval carries a
``conf_level`` row: the requested level, except for the sign test's order-statistic interval,
which reports its achieved level (at least the requested one).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from msc_analysis import stats
from msc_analysis.analyses.prepost_data import (
    BASELINE,
    MELD_COMPONENTS,
    PP_IDS,
    PrepostData,
    analysis_parameters,
    analysis_population,
    lab_parameters,
    prepare_prepost,
    prepost_meld,
    sap_biomarkers,
)
from msc_analysis.ard import ArdBuilder, bind, to_frame
from msc_analysis.derive.visits import REASON_NOT_CHOSEN
from msc_analysis.errors import MscError
from msc_analysis.io.issues import DataIssues
from msc_analysis.stats.mmrm import MmrmResult, fit_mmrm_with_fallback
from msc_analysis.stats.results import StatsInputError

logger = logging.getLogger(__name__)

__all__ = [
    "MMRM_MIN_SUBJECTS",
    "PP_IDS",
    "REASON_NO_BASELINE",
    "REASON_NO_SESSION",
    "analysis_population",
    "lab_parameters",
    "pp_fu",
    "pp_holm",
    "pp_lloq",
    "pp_meld",
    "pp_mmrm",
    "pp_rr",
    "pp_sess",
    "run_prepost",
]


REASON_NO_BASELINE = "no baseline value"
#: Fewest subjects with a baseline and at least one follow-up value for which the MMRM is fitted
#: (SAP section 7.6); with fewer, PP-MMRM reports the counts and says the model was not fitted.
MMRM_MIN_SUBJECTS = 4
REASON_NO_SESSION = "no session with pre- and post-session values"

PAIRED_T = "paired-t"
SIGNED_RANK = "signed-rank"
SIGN_TEST = "sign-test"
ONE_SAMPLE_T = "t-test"

_DESC_KEYS = ("n", "mean", "sd", "median", "q1", "q3", "min", "max")
_GEO_KEYS = ("geo_mean", "geo_cv")


# --------------------------------------------------------------------------------------------
# Settings helpers
# --------------------------------------------------------------------------------------------


def _params(sap: Any, analysis_id: str, default: Sequence[str],
            data: PrepostData | None = None) -> tuple[str, ...]:
    """Parameters of an analysis: the SAP's resolved list, else ``default`` (SAP order).

    With ``data``, only parameters that have records in the data are kept (the others are
    reported once by :func:`run_prepost`).
    """
    present = None if data is None else _present_parameters(data)
    return tuple(p for p in analysis_parameters(sap, analysis_id, default)
                 if present is None or p in present)


def _present_parameters(data: PrepostData) -> set[str]:
    """Parameters with at least one analysed laboratory record."""
    return set(data.lab["PARAMCD"].unique())


def _is_log(sap: Any, paramcd: str) -> bool:
    return sap.parameters[paramcd].scale == "log"


def _followup(sap: Any) -> tuple[Any, ...]:
    visits = tuple(v for v in sap.visits if getattr(v, "followup", False))
    return visits or tuple(v for v in sap.visits if v.target_day > 1)


# --------------------------------------------------------------------------------------------
# Row writers
# --------------------------------------------------------------------------------------------


def _describe(b: ArdBuilder, variable: str, values: Sequence[float] | np.ndarray,
              groups: Mapping[str, object], log: bool = False) -> None:
    """n, mean, SD, median, Q1, Q3, min, max (+ geometric mean and CV on log scale)."""
    desc = stats.describe(np.asarray(values, dtype=float), log=log)
    keys = _DESC_KEYS + (_GEO_KEYS if log else ())
    b.add_many(variable, {k: desc[k] for k in keys}, groups=groups)


def _test_rows(b: ArdBuilder, variable: str, level: str, res: Any,
               groups: Mapping[str, object], method: str | None = None) -> None:
    low, high = res.confidence_interval()
    values: dict[str, float] = {
        "n": res.n, "estimate": res.estimate, "conf_low": low, "conf_high": high,
        "conf_level": res.conf_level, "statistic": res.statistic,
    }
    if hasattr(res, "df"):
        values["df"] = res.df
    values["p_value"] = res.pvalue
    b.add_many(variable, values, variable_level=level, method=method or res.method,
               groups=groups)


def _not_estimable(issues: DataIssues, source: str, what: str, err: Exception) -> None:
    issues.add(source=source, rule="not-estimable", severity="note", variable="AVAL",
               message=f"{what}: not estimable ({err})")


def _methods(sap: Any, analysis_id: str, default: str) -> frozenset[str]:
    """Method keys of an analysis in the SAP (``descriptive+paired-t+...``), else ``default``."""
    analysis = sap.analyses.get(analysis_id)
    spec = analysis.method if analysis is not None else default
    return frozenset(m.strip() for m in spec.split("+") if m.strip())


def _paired(b: ArdBuilder, post: np.ndarray, pre: np.ndarray, log: bool, level: float,
            groups: Mapping[str, object], issues: DataIssues, source: str, what: str,
            methods: frozenset[str]) -> None:
    """The SAP's paired tests of ``post`` vs ``pre``.

    ``paired-t``: paired t-test (log scale: geometric mean ratio post/pre, variable ``RATIO``;
    linear: mean difference, variable ``CHG``); ``signed-rank``: Wilcoxon signed-rank test of
    ``post - pre`` with Hodges-Lehmann estimate (variable ``CHG``); ``sign-test``: exact sign
    test with the median difference (variable ``CHG``).
    """
    tests = (
        (PAIRED_T, "paired t-test", "RATIO" if log else "CHG",
         lambda: stats.paired_t(post, pre, log=log, conf_level=level)),
        (SIGNED_RANK, "signed-rank test", "CHG",
         lambda: stats.wilcoxon_signed_rank(post, pre, conf_level=level)),
        (SIGN_TEST, "sign test", "CHG", lambda: stats.sign_test(post, pre, conf_level=level)),
    )
    for method, name, variable, run in tests:
        if method not in methods:
            continue
        try:
            _test_rows(b, variable, method, run(), groups)
        except StatsInputError as err:
            _not_estimable(issues, source, f"{what}, {name}", err)


def _exclusions(b: ArdBuilder, variable: str, reasons: Sequence[str],
                groups: Mapping[str, object]) -> None:
    """``n_excluded`` per reason (sorted for a stable order)."""
    counts = pd.Series(list(reasons), dtype=str).value_counts()
    for reason in sorted(counts.index):
        b.add(variable, "n_excluded", int(counts[reason]), variable_level=reason, groups=groups)


def _log_excluded(issues: DataIssues, source: str, records: pd.DataFrame, what: str) -> None:
    """One data-issue line per excluded record or subject.

    ``records`` has ``USUBJID``, ``PARAMCD`` and ``REASON``, optionally ``SESSNUM`` /
    ``AVISIT`` / ``ADTM`` for the message and the loader's ``_file`` / ``_row`` provenance.
    """
    if records.empty:
        return
    places = [k for k in _PLACE_COLUMNS if k in records.columns]
    columns = [records[k].tolist() for k in ("USUBJID", "PARAMCD", "REASON", *places)]
    provenance = [_values(records, "_file", ""), _values(records, "_row", None)]
    for usubjid, paramcd, reason, *at, file, row in zip(*columns, *provenance, strict=True):
        where = ", ".join(f"{k} {_show(v)}" for k, v in zip(places, at, strict=True)
                          if not _blank(v))
        issues.add(source=source, rule="excluded-from-analysis", severity="excluded",
                   file=str(file or "adlb"),
                   row=None if _blank(row) else int(row),  # type: ignore[arg-type]
                   usubjid=str(usubjid), variable="AVAL",
                   message=f"{paramcd}{' ' + where if where else ''}: {reason}; "
                           f"left out of {what}")


#: Columns of an excluded record named in its data-issue message, in this order.
_PLACE_COLUMNS = ("SESSNUM", "AVISIT", "ADTM")


def _values(records: pd.DataFrame, column: str, default: object) -> list[object]:
    """The values of ``column`` as Python objects (``default`` for each row when absent)."""
    if column in records.columns:
        return records[column].tolist()
    return [default] * len(records)


def _show(value: object) -> str:
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%dT%H:%M")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _blank(value: object) -> bool:
    if value is None or value is pd.NaT:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return str(value) == ""


def _population_row(b: ArdBuilder, data: PrepostData) -> None:
    b.add("USUBJID", "N", len(data.subjects), variable_level=data.population)


# --------------------------------------------------------------------------------------------
# PP-SESS
# --------------------------------------------------------------------------------------------


def _session_rows(b: ArdBuilder, data: PrepostData, sap: Any, params: Sequence[str],
                  issues: DataIssues, source: str, methods: frozenset[str]) -> None:
    descriptives = "descriptive" in methods
    level = float(sap.conf_level)
    for p in params:
        log = _is_log(sap, p)
        pairs = data.pairs.loc[data.pairs["PARAMCD"] == p]
        for k in sorted(pairs["SESSNUM"].unique()):
            g = {"PARAMCD": p, "SESSNUM": int(k)}
            sess = pairs.loc[pairs["SESSNUM"] == k]
            ok = sess.loc[sess["REASON"] == ""]
            excluded = sess.loc[sess["REASON"] != ""]
            if descriptives:
                _describe(b, "PRE", ok["PRE"], g, log)
                _describe(b, "POST", ok["POST"], g, log)
                _describe(b, "CHG", ok["CHG"], g)
                _describe(b, "PCHG", ok["PCHG"], g)
                _describe(b, "RR", ok["RR"], g)
            if len(ok):
                _paired(b, ok["POST"].to_numpy(float), ok["PRE"].to_numpy(float), log, level, g,
                        issues, source, f"{p} session {k}", methods)
            _exclusions(b, "CHG", excluded["REASON"].tolist(), g)
            _log_excluded(issues, source, excluded, f"{source} (session {k})")


def pp_sess(data: PrepostData, sap: Any, issues: DataIssues) -> pd.DataFrame:
    """PP-SESS: pre/post values by session, with paired t and signed-rank tests.

    Parameters
    ----------
    data : PrepostData
        Derived data (primary LLOQ rule).
    sap : Sap
        Settings: parameters (scale), ``conf_level``.
    issues : DataIssues
        Receives one ``excluded`` line per session pair left out.

    Returns
    -------
    DataFrame
        ARD rows of PP-SESS.
    """
    b = ArdBuilder("PP-SESS")
    _population_row(b, data)
    methods = _methods(sap, "PP-SESS", "descriptive+paired-t+signed-rank")
    params = _params(sap, "PP-SESS", sap_biomarkers(sap), data)
    _session_rows(b, data, sap, params, issues, "PP-SESS", methods)
    return b.frame()


# --------------------------------------------------------------------------------------------
# PP-RR
# --------------------------------------------------------------------------------------------


def pp_rr(data: PrepostData, sap: Any, issues: DataIssues) -> pd.DataFrame:
    """PP-RR: each subject's mean reduction ratio over their sessions, summarised and tested.

    A subject's sessions are averaged first so that sessions of one subject are not treated as
    independent. The SAP's methods apply to the subject means: ``signed-rank`` (H0: median
    RR = 0, Hodges-Lehmann estimate and interval) and, when listed, ``paired-t`` (one-sample t
    interval of the mean RR, H0: mean RR = 0; variable_level ``t-test``).
    """
    b = ArdBuilder("PP-RR")
    _population_row(b, data)
    level = float(sap.conf_level)
    methods = _methods(sap, "PP-RR", "descriptive+signed-rank")
    for p in _params(sap, "PP-RR", sap_biomarkers(sap), data):
        g = {"PARAMCD": p}
        pairs = data.pairs.loc[(data.pairs["PARAMCD"] == p) & data.pairs["RR"].notna()]
        per_subject = pairs.groupby("USUBJID", sort=True)["RR"].agg(["mean", "size"])
        if "descriptive" in methods:
            _describe(b, "RR", per_subject["mean"], g)
        b.add("RR", "n_sessions", int(per_subject["size"].sum()), groups=g)
        rr = per_subject["mean"].to_numpy(float)
        if rr.size and methods & {PAIRED_T, ONE_SAMPLE_T}:
            try:
                res = stats.paired_t(rr, None, conf_level=level)
                _test_rows(b, "RR", ONE_SAMPLE_T, res, g,
                           method="One Sample t-test (H0: mean reduction ratio = 0)")
            except StatsInputError as err:
                _not_estimable(issues, "PP-RR", f"{p} mean reduction ratio, t-test", err)
        if rr.size and SIGNED_RANK in methods:
            try:
                res = stats.wilcoxon_signed_rank(rr, None, conf_level=level)
                _test_rows(b, "RR", SIGNED_RANK, res, g)
            except StatsInputError as err:
                _not_estimable(issues, "PP-RR", f"{p} mean reduction ratio, signed-rank", err)
        missing = sorted(set(data.subjects) - set(per_subject.index))
        _exclusions(b, "RR", [REASON_NO_SESSION] * len(missing), g)
        _log_excluded(issues, "PP-RR", pd.DataFrame(
            {"USUBJID": missing, "PARAMCD": p, "REASON": REASON_NO_SESSION}), "PP-RR")
    return b.frame()


# --------------------------------------------------------------------------------------------
# PP-FU (and the visit-level machinery shared with PP-MELD, PP-HOLM, PP-LLOQ)
# --------------------------------------------------------------------------------------------


def _among(items: pd.Index | pd.Series, pool: pd.Index | pd.Series) -> np.ndarray:
    """Whether each of ``items`` is in ``pool``, by a hash look-up.

    (``isin`` of pandas' Arrow strings makes one Arrow scalar per pooled value, which is slow
    for the thousands of subjects of a large study.)
    """
    pooled = set(pool.tolist())
    return np.array([item in pooled for item in items.tolist()], dtype=bool)


#: The value columns of :func:`_visit_values`.
_VISIT_VALUES = ("AVAL", "BASE", "CHG", "PCHG")


def _visit_values(data: PrepostData, p: str, visit: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Analysed values of parameter ``p`` at ``visit`` and the subjects left out, with reasons.

    Returns
    -------
    values : DataFrame
        ``USUBJID, AVAL, BASE, CHG, PCHG`` of subjects with a baseline and a value.
    excluded : DataFrame
        ``USUBJID, PARAMCD, AVISIT, REASON`` of the other analysis-set subjects.
    """
    at = data.analysed_values.get((p, visit.name))
    if at is None:
        at = pd.DataFrame({c: pd.Series(dtype=float) for c in _VISIT_VALUES},
                          index=pd.Index([], dtype=str, name="USUBJID"))
    subjects = pd.Index(data.subjects, dtype=str, name="USUBJID")
    with_base = data.baseline_subjects.get(p, frozenset())
    with_value = set(at.index.tolist())
    has_base = np.array([s in with_base for s in data.subjects], dtype=bool)
    has_value = np.array([s in with_value for s in data.subjects], dtype=bool)
    analysed = has_base & has_value
    values = at.reindex(subjects[analysed]).reset_index().astype(
        {c: float for c in _VISIT_VALUES})
    reasons = np.full(len(subjects), REASON_NO_BASELINE, dtype=object)
    no_value = has_base & ~has_value
    reasons[no_value] = data.missing_reasons(subjects[no_value], visit)
    excluded = pd.DataFrame({"USUBJID": subjects[~analysed], "REASON": reasons[~analysed]})
    excluded = excluded.assign(PARAMCD=p, AVISIT=visit.name)
    return values, excluded


def _unused_samples(data: PrepostData, p: str, visits: Sequence[Any]) -> pd.DataFrame:
    """Samples in a follow-up window that are not analysed, with the reason.

    Two reasons: another sample of the window is closer to the target day, or the sample was
    taken after a liver transplant. Samples outside every follow-up window are outside the
    scope of the follow-up analyses and are not counted.
    """
    names = {v.name for v in visits}
    w = data.windows
    extra = w.loc[(w["PARAMCD"] == p) & (w["WINREAS"] == REASON_NOT_CHOSEN)
                  & w["AVISIT"].isin(names)]
    extra = extra.assign(REASON=extra["WINREAS"])
    ltx = data.after_transplant
    ltx = ltx.loc[(ltx["PARAMCD"] == p) & ltx["AVISIT"].isin(names)]
    return pd.concat([extra, ltx], ignore_index=True)


def _visit_rows(b: ArdBuilder, data: PrepostData, sap: Any, params: Sequence[str],
                issues: DataIssues, source: str, methods: frozenset[str]) -> None:
    descriptives = "descriptive" in methods
    level = float(sap.conf_level)
    visits = _followup(sap)
    for p in params:
        log = _is_log(sap, p)
        base = data.base.loc[data.base["PARAMCD"] == p]
        g0 = {"PARAMCD": p, "AVISIT": BASELINE}
        if descriptives:
            _describe(b, "AVAL", base["BASE"], g0, log)
        no_base = sorted(set(data.subjects) - set(base["USUBJID"]))
        _exclusions(b, "AVAL", [REASON_NO_BASELINE] * len(no_base), g0)
        _log_excluded(issues, source, pd.DataFrame(
            {"USUBJID": no_base, "PARAMCD": p, "AVISIT": BASELINE, "REASON": REASON_NO_BASELINE}),
            f"{source} ({BASELINE})")
        unused = _unused_samples(data, p, visits)
        for v in visits:
            part = unused.loc[unused["AVISIT"] == v.name]
            _exclusions(b, "AVAL", part["REASON"].tolist(), {"PARAMCD": p, "AVISIT": v.name})
        _log_excluded(issues, source, unused, source)
        for v in visits:
            g = {"PARAMCD": p, "AVISIT": v.name}
            values, excluded = _visit_values(data, p, v)
            if descriptives:
                _describe(b, "AVAL", values["AVAL"], g, log)
                _describe(b, "CHG", values["CHG"], g)
                _describe(b, "PCHG", values["PCHG"], g)
            if len(values):
                _paired(b, values["AVAL"].to_numpy(float), values["BASE"].to_numpy(float), log,
                        level, g, issues, source, f"{p} {v.name}", methods)
            _exclusions(b, "CHG", excluded["REASON"].tolist(), g)
            _log_excluded(issues, source, excluded, f"{source} ({v.name})")


def pp_fu(data: PrepostData, sap: Any, issues: DataIssues) -> pd.DataFrame:
    """PP-FU: change from baseline to the follow-up visits (Days 7, 14, 28).

    Baseline is the derived baseline; the visit value is the one analysed in the visit window.
    Paired t compares visit and baseline (geometric mean ratio on log scale); the signed-rank
    test and Hodges-Lehmann estimate are of the change.
    """
    b = ArdBuilder("PP-FU")
    _population_row(b, data)
    methods = _methods(sap, "PP-FU", "descriptive+paired-t+signed-rank")
    params = _params(sap, "PP-FU", sap_biomarkers(sap), data)
    _visit_rows(b, data, sap, params, issues, "PP-FU", methods)
    return b.frame()


# --------------------------------------------------------------------------------------------
# PP-MMRM
# --------------------------------------------------------------------------------------------


def _mmrm_frame(data: PrepostData, p: str, visits: Sequence[Any], log: bool,
                issues: DataIssues, b: ArdBuilder) -> pd.DataFrame:
    """Long data of one parameter for the MMRM: ``USUBJID, AVISIT, Y, B`` (log scale if log)."""
    parts = []
    for v in visits:
        values, excluded = _visit_values(data, p, v)
        g = {"PARAMCD": p, "AVISIT": v.name}
        b.add("CHG", "n", len(values), groups=g)
        _exclusions(b, "CHG", excluded["REASON"].tolist(), g)
        _log_excluded(issues, "PP-MMRM", excluded, f"PP-MMRM ({v.name})")
        parts.append(values.assign(AVISIT=v.name))
    frame = pd.concat(parts, ignore_index=True)
    if log:
        frame["Y"] = np.log(frame["AVAL"].astype(float)) - np.log(frame["BASE"].astype(float))
        frame["B"] = np.log(frame["BASE"].astype(float))
    else:
        frame["Y"] = frame["CHG"].astype(float)
        frame["B"] = frame["BASE"].astype(float)
    frame["AVISIT"] = frame["AVISIT"].astype(str)
    return frame[["USUBJID", "AVISIT", "Y", "B"]]


def _fit_mmrm(frame: pd.DataFrame, formula: str, settings: Any, visits: Sequence[Any],
              issues: DataIssues, what: str) -> MmrmResult:
    """:func:`fit_mmrm_with_fallback` with the SAP's order and iteration cap.

    A structure whose fit needs more than ``settings.max_iter`` optimiser iterations counts as
    not converged (SAP section 7.6) and the fallback goes on with the next structure of
    ``settings.covariance_order``; the fit used lists every structure passed over, with the
    reason, in ``fallback_attempts``.

    Raises
    ------
    AnalysisError
        When no structure converges within the cap (the message lists every attempt).
    """
    return fit_mmrm_with_fallback(frame, formula, "USUBJID", "AVISIT",
                                  order=tuple(settings.covariance_order),
                                  df=settings.df_method, visit_levels=[v.name for v in visits],
                                  max_iter=int(settings.max_iter))


def pp_mmrm(data: PrepostData, sap: Any, issues: DataIssues) -> pd.DataFrame:
    """PP-MMRM: least-squares mean change from baseline at each follow-up visit.

    Model (SAP): change from baseline ~ visit + baseline (+ baseline x visit when
    ``sap.mmrm.baseline_by_visit``), REML, the first covariance structure of
    ``sap.mmrm.covariance_order`` that converges within ``sap.mmrm.max_iter`` iterations,
    ``sap.mmrm.df_method`` degrees of freedom
    (:func:`msc_analysis.stats.mmrm.fit_mmrm_with_fallback`). LS means are at the mean
    baseline. On the log scale the change is ``log(AVAL) - log(BASE)`` with ``log(BASE)`` as
    covariate, and the LS mean and its limits are back-transformed to a geometric mean ratio
    visit / baseline (variable ``RATIO``); on the linear scale variable ``CHG`` with ``se``.

    A parameter with fewer than :data:`MMRM_MIN_SUBJECTS` contributing subjects (a baseline and
    at least one follow-up value) is not fitted: it keeps its counts, gets an ARD row ``n`` of
    variable ``MODEL`` (the subjects contributing) whose ``method`` says why (Table 14.2.4
    prints it as a footnote) and a data-issue note. A parameter whose model cannot be fitted
    gets a data-issue note and only its counts.
    """
    b = ArdBuilder("PP-MMRM")
    _population_row(b, data)
    visits = _followup(sap)
    level = float(sap.conf_level)
    settings = sap.mmrm
    for p in _params(sap, "PP-MMRM", sap_biomarkers(sap), data):
        log = _is_log(sap, p)
        frame = _mmrm_frame(data, p, visits, log, issues, b)
        n_subjects = int(frame["USUBJID"].nunique())
        if n_subjects < MMRM_MIN_SUBJECTS:
            reason = (f"MMRM not fitted: {n_subjects} subject(s) with a baseline and a follow-up "
                      f"value, fewer than the {MMRM_MIN_SUBJECTS} the SAP requires")
            b.add("MODEL", "n", n_subjects, groups={"PARAMCD": p}, method=reason)
            issues.add(source="PP-MMRM", rule="too-few-subjects", severity="note",
                       variable="AVAL", message=f"{p}: {reason}")
            continue
        formula = "Y ~ AVISIT * B" if settings.baseline_by_visit else "Y ~ AVISIT + B"
        try:
            fit = _fit_mmrm(frame, formula, settings, visits, issues, f"{p} MMRM")
            lsm = fit.lsmeans(by="AVISIT", alpha=1.0 - level)
        except (MscError, ValueError, np.linalg.LinAlgError) as err:
            _not_estimable(issues, "PP-MMRM", f"{p} MMRM", err)
            continue
        tried = "".join(f"; {c} not used ({m})" for c, m in fit.fallback_attempts)
        method = (f"MMRM, REML, covariance {fit.covariance.upper()}, {fit.df_method} df, "
                  f"{'log(AVAL/BASE) ~ visit * log(BASE)' if log else 'CHG ~ visit * BASE'}"
                  f"{'' if settings.baseline_by_visit else ' (no interaction)'}; LS mean at "
                  f"mean baseline{', back-transformed ratio' if log else ''}{tried}")
        if not settings.baseline_by_visit:
            method = method.replace(" * ", " + ")
        b.add("MODEL", "loglik", fit.loglik, groups={"PARAMCD": p}, method=method)
        for rec in lsm.to_dict("records"):
            g = {"PARAMCD": p, "AVISIT": str(rec["AVISIT"])}
            if log:
                values = {k: _exp(rec[k]) for k in ("estimate", "conf_low", "conf_high")}
                for k in [k for k, v in values.items() if math.isnan(v)]:
                    issues.add(source="PP-MMRM", rule="not-estimable", severity="note",
                               variable="AVAL",
                               message=f"{p} {rec['AVISIT']}: {k} of the ratio not estimable "
                                       f"(log-scale value {rec[k]:.6g} with {rec['df']:.3g} "
                                       "df: too few subjects at the visit)")
            else:
                values = {"estimate": rec["estimate"], "se": rec["se"],
                          "conf_low": rec["conf_low"], "conf_high": rec["conf_high"]}
            values.update(conf_level=level, statistic=rec["statistic"], df=rec["df"],
                          p_value=rec["pvalue"])
            b.add_many("RATIO" if log else "CHG", values, variable_level="mmrm", method=method,
                       groups=g)
    return b.frame()


def _exp(value: float) -> float:
    """``exp(value)``, or NaN (not estimable) when it exceeds the largest float: a confidence
    limit on the log scale of a fit with very few degrees of freedom (an MMRM with one or two
    subjects at a visit)."""
    try:
        return math.exp(value)
    except OverflowError:
        return math.nan


# --------------------------------------------------------------------------------------------
# PP-MELD
# --------------------------------------------------------------------------------------------


def pp_meld(data: PrepostData, sap: Any, issues: DataIssues) -> pd.DataFrame:
    """PP-MELD: MELD, MELD-Na and MELD 3.0 at baseline and the follow-up visits, as PP-FU.

    Scores are computed from the derived component values (:func:`prepost_meld`); a subject
    whose score cannot be computed at a time point (a component missing) is counted as excluded
    with the missing components named.
    """
    b = ArdBuilder("PP-MELD")
    _population_row(b, data)
    scores = [p for p in _params(sap, "PP-MELD", [c for c in MELD_COMPONENTS if c in
                                                  sap.parameters]) if p in MELD_COMPONENTS]
    if not scores:
        return b.frame()
    visits = _followup(sap)
    methods = _methods(sap, "PP-MELD", "descriptive+signed-rank")
    table = prepost_meld(data, scores, [v.name for v in visits])
    level = float(sap.conf_level)
    for code in scores:
        sc = table.loc[table["PARAMCD"] == code]
        for name in [BASELINE, *(v.name for v in visits)]:
            g = {"PARAMCD": code, "AVISIT": name}
            at = sc.loc[sc["AVISIT"] == name]
            ok = at.loc[at["AVAL"].notna() & at["BASE"].notna()] if name != BASELINE else \
                at.loc[at["AVAL"].notna()]
            _describe(b, "AVAL", ok["AVAL"], g)
            lost = at.loc[~_among(at["USUBJID"], ok["USUBJID"])].copy()
            if name != BASELINE:
                _describe(b, "CHG", ok["CHG"], g)
                _describe(b, "PCHG", ok["PCHG"], g)
                if len(ok):
                    _paired(b, ok["AVAL"].to_numpy(float), ok["BASE"].to_numpy(float), False,
                            level, g, issues, "PP-MELD", f"{code} {name}", methods)
                visit = next(v for v in visits if v.name == name)
                lost["REASON"] = _meld_reasons(data, lost, visit)
                _exclusions(b, "CHG", lost["REASON"].tolist(), g)
            else:
                lost["REASON"] = [f"missing baseline component(s) {m}" for m in lost["MISSING"]]
                _exclusions(b, "AVAL", lost["REASON"].tolist(), g)
            _log_excluded(issues, "PP-MELD", lost, f"PP-MELD ({name})")
    return b.frame()


def _meld_reasons(data: PrepostData, lost: pd.DataFrame, visit: Any) -> list[str]:
    """Why each subject of ``lost`` has no score change at ``visit``.

    No baseline score; else death or liver transplant before the visit; else the missing
    components (``MISSING``).
    """
    events = data.missing_reasons(lost["USUBJID"].tolist(), visit)
    reasons = []
    for base, event, missing in zip(lost["BASE"].tolist(), events, lost["MISSING"].tolist(),
                                    strict=True):
        if pd.isna(base):
            reasons.append("no baseline score")
        elif event.startswith(("death", "liver transplant")):
            reasons.append(event)
        else:
            reasons.append(f"missing component(s) {missing}")
    return reasons


# --------------------------------------------------------------------------------------------
# PP-HOLM
# --------------------------------------------------------------------------------------------


def pp_holm(data: PrepostData, sap: Any, issues: DataIssues) -> pd.DataFrame:
    """PP-HOLM: Holm-adjusted p-values of change from baseline to the key visit.

    The family is the SAP's Holm parameters (``holm = true``; default the biomarkers) and the
    test is the SAP's (``paired-t``: the paired t-test of PP-FU, on the log scale for log-scale
    parameters, variable ``RATIO`` / ``CHG``; ``signed-rank``: the signed-rank test of the
    change). A parameter without a p-value (too few subjects) keeps its exclusion rows, gets
    only ``n`` (the subjects with a baseline and a key-visit value), no p-value, and does not
    count in the family size.
    """
    b = ArdBuilder("PP-HOLM")
    _population_row(b, data)
    holm_default = tuple(p.paramcd for p in sap.parameters.values()
                         if getattr(p, "holm", False)) or sap_biomarkers(sap)
    params = _params(sap, "PP-HOLM", holm_default, data)
    methods = _methods(sap, "PP-HOLM", "paired-t+holm")
    test = PAIRED_T if PAIRED_T in methods else SIGNED_RANK
    level = float(sap.conf_level)
    visit = next(v for v in sap.visits if v.name == sap.key_visit)
    results: list[tuple[str, str, Any]] = []
    counts: dict[str, int] = {}
    for p in params:
        log = _is_log(sap, p)
        values, excluded = _visit_values(data, p, visit)
        counts[p] = len(values)
        res = None
        post, pre = values["AVAL"].to_numpy(float), values["BASE"].to_numpy(float)
        if len(values):
            try:
                res = (stats.paired_t(post, pre, log=log, conf_level=level) if test == PAIRED_T
                       else stats.wilcoxon_signed_rank(post, pre, conf_level=level))
            except StatsInputError as err:
                _not_estimable(issues, "PP-HOLM", f"{p} {visit.name}, {test}", err)
        variable = "RATIO" if test == PAIRED_T and log else "CHG"
        results.append((p, variable, res))
        g = {"PARAMCD": p, "AVISIT": visit.name}
        _exclusions(b, "CHG", excluded["REASON"].tolist(), g)
        _log_excluded(issues, "PP-HOLM", excluded, f"PP-HOLM ({visit.name})")
    pvals = np.array([np.nan if r is None else r.pvalue for _, _, r in results])
    adjusted = stats.holm(pvals)
    family = [p for (p, _, r) in results if r is not None]
    for (p, variable, res), adj in zip(results, adjusted, strict=True):
        g = {"PARAMCD": p, "AVISIT": visit.name}
        if res is None:  # too few subjects: the count says how many there are
            b.add(variable, "n", counts[p], variable_level=test, groups=g)
            continue
        _test_rows(b, variable, test, res, g)
        b.add(variable, "p_value_adj", adj, variable_level=test, groups=g,
              method=f"Holm step-down over {len(family)} parameters ({', '.join(family)}); "
                     f"{res.method}")
    return b.frame()


# --------------------------------------------------------------------------------------------
# PP-LLOQ
# --------------------------------------------------------------------------------------------


def pp_lloq(data: PrepostData, sap: Any, issues: DataIssues) -> pd.DataFrame:
    """PP-LLOQ: PP-SESS and PP-FU repeated with values below the LLOQ set to the LLOQ.

    ``data`` must be derived with the SAP's sensitivity rule; rows have the layout of PP-SESS
    (group2 ``SESSNUM``) and PP-FU (group2 ``AVISIT``). The number of values below the
    LLOQ per parameter is written as ``n`` of variable ``BLQFL`` (level ``Y``).
    """
    b = ArdBuilder("PP-LLOQ")
    _population_row(b, data)
    default = tuple(p.paramcd for p in sap.parameters.values() if p.biomarker and p.lloq)
    params = _params(sap, "PP-LLOQ", default or sap_biomarkers(sap), data)
    for p in params:
        n_blq = int(((data.lab["PARAMCD"] == p) & (data.lab["BLQFL"] == "Y")).sum())
        shown = "LLOQ" if data.rule == "lloq" else "LLOQ/2"
        b.add("BLQFL", "n", n_blq, variable_level="Y", groups={"PARAMCD": p},
              method=f"values below the LLOQ, analysed as {shown}")
    methods = _methods(sap, "PP-LLOQ", "descriptive+paired-t+signed-rank")
    _session_rows(b, data, sap, params, issues, "PP-LLOQ", methods)
    _visit_rows(b, data, sap, params, issues, "PP-LLOQ", methods)
    return b.frame()


# --------------------------------------------------------------------------------------------
# All of them
# --------------------------------------------------------------------------------------------


def run_prepost(study: Any, sap: Any, issues: DataIssues,
                primary: PrepostData | None = None) -> pd.DataFrame:
    """Run every pre/post analysis of the SAP (PP-*) and return their ARD rows.

    Analyses absent from ``sap.analyses`` are skipped (when the SAP lists none of them, all
    run). PP-LLOQ derives the data again with ``sap.lloq.sensitivity``.

    Parameters
    ----------
    study : Study
        Loaded study (``adsl``, ``adlb``, ``adex``).
    sap : Sap
        SAP settings.
    issues : DataIssues
        Receives exclusions and notes.
    primary : PrepostData, optional
        The derived data of the primary LLOQ rule when the caller already has it
        (:func:`~msc_analysis.analyses.prepost_data.prepare_prepost` with
        :func:`lab_parameters` and :func:`analysis_population`); derived here otherwise.

    Returns
    -------
    DataFrame
        ARD rows of all PP-* analysis ids.

    Raises
    ------
    AnalysisError
        When ADSL or ADLB is missing or the analysis set is empty.
    """
    wanted = [a for a in PP_IDS if a in sap.analyses] or list(PP_IDS)
    params = lab_parameters(sap)
    population = analysis_population(sap)
    if primary is None or primary.rule != sap.lloq.primary:
        primary = prepare_prepost(study, sap, sap.lloq.primary, params, population)
    present = _present_parameters(primary)
    absent = [p for p in params if p not in present]
    if absent:
        issues.add(source="PP", rule="parameter-absent", severity="note", file="adlb",
                   variable="PARAMCD",
                   message=f"no records of {', '.join(absent)} for the analysis set: the pre/post "
                           "analyses (and the MELD scores needing them) have no rows for them")
    funcs = {"PP-SESS": pp_sess, "PP-RR": pp_rr, "PP-FU": pp_fu, "PP-MMRM": pp_mmrm,
             "PP-MELD": pp_meld, "PP-HOLM": pp_holm}
    frames = []
    for aid in wanted:
        if aid == "PP-LLOQ":
            sens = prepare_prepost(study, sap, sap.lloq.sensitivity, params, population)
            frames.append(pp_lloq(sens, sap, issues))
        else:
            frames.append(funcs[aid](primary, sap, issues))
        logger.info("%s: %d ARD rows", aid, len(frames[-1]))
    return bind(frames) if frames else to_frame([])
