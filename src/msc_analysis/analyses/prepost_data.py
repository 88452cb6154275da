"""Derived data behind the pre/post analyses (SAP section 14.2), built once per LLOQ rule.

:func:`prepare_prepost` runs the derivations in the SAP's order on the analysis set's subjects:

1. keep the laboratory records of the analysed parameters;
2. substitute values below the LLOQ (``sap.lloq.primary`` or ``.sensitivity``);
3. set aside records taken after a liver transplant (listed, never analysed);
4. baseline: last non-missing value on or before the first session start;
5. session pre/post pairs;
6. visit windows of the scheduled samples, one value per window, change from baseline.

MELD, MELD-Na and MELD 3.0 at baseline and at each visit are computed from the same derived
values by :func:`prepost_meld` (:func:`msc_analysis.derive.meld_visits.meld_by_visit`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from msc_analysis.derive.baseline import derive_baseline, derive_change, first_session_start
from msc_analysis.derive.lloq import substitute_lloq
from msc_analysis.derive.meld_visits import MELD_COMPONENTS, MELD_SCORES, meld_by_visit
from msc_analysis.derive.sessions import derive_session_pairs
from msc_analysis.derive.visits import (
    assign_visit_windows,
    drop_after_transplant,
    missing_reason_at,
    missing_reasons_at,
)
from msc_analysis.errors import AnalysisError

__all__ = [
    "BASELINE",
    "MELD_COMPONENTS",
    "MELD_SCORES",
    "PP_IDS",
    "PrepostData",
    "analysis_parameters",
    "analysis_population",
    "analysis_set",
    "analysis_subjects",
    "lab_parameters",
    "meld_by_visit",
    "prepare_prepost",
    "prepost_meld",
    "sap_biomarkers",
]

#: ``AVISIT`` level of baseline rows in the ARD (the derived baseline, not a window).
BASELINE = "Baseline"
#: The pre/post analysis ids, in SAP order.
PP_IDS: tuple[str, ...] = ("PP-SESS", "PP-RR", "PP-FU", "PP-MMRM", "PP-MELD", "PP-HOLM", "PP-LLOQ")


def sap_biomarkers(sap: Any) -> tuple[str, ...]:
    """The SAP's biomarker parameters, in SAP order."""
    return tuple(p.paramcd for p in sap.parameters.values() if p.biomarker)


def analysis_parameters(sap: Any, analysis_id: str, default: Sequence[str]) -> tuple[str, ...]:
    """Parameters of an analysis: the SAP's resolved list, else ``default``; only parameters
    the SAP defines."""
    analysis = sap.analyses.get(analysis_id)
    chosen = analysis.parameters if analysis is not None and analysis.parameters else default
    return tuple(p for p in chosen if p in sap.parameters)


def analysis_set(sap: Any, analysis_id: str) -> str:
    """Analysis-set code of an analysis (FAS when the SAP does not list the analysis)."""
    analysis = sap.analyses.get(analysis_id)
    return analysis.population if analysis is not None else "FAS"


def analysis_population(sap: Any) -> str:
    """Analysis-set code of the pre/post analyses (the SAP's population of PP-SESS)."""
    return analysis_set(sap, "PP-SESS")


def lab_parameters(sap: Any) -> tuple[str, ...]:
    """Laboratory parameters the pre/post analyses derive: their parameters and the MELD
    components of the score parameters in the SAP."""
    params = list(sap_biomarkers(sap))
    for a in PP_IDS:
        params.extend(analysis_parameters(sap, a, ()))
    for code in MELD_COMPONENTS:
        if code in sap.parameters:
            params.extend(MELD_COMPONENTS[code])
    return tuple(dict.fromkeys(p for p in params if p not in MELD_COMPONENTS))


@dataclass(frozen=True)
class PrepostData:
    """Derived frames of the pre/post analyses for one LLOQ rule.

    Attributes
    ----------
    subjects : tuple of str
        Subjects of the analysis set, sorted.
    population : str
        Label of the analysis set (e.g. ``Full Analysis Set``).
    rule : str
        LLOQ rule applied (``half`` or ``lloq``).
    lab : DataFrame
        Analysed laboratory records with ``BASE``, ``ABLFL``, ``PREFL``, ``CHG``, ``PCHG``,
        ``BLQFL``, ``AVALIMP``.
    after_transplant : DataFrame
        Records set aside because they were taken after a liver transplant (``REASON``), with
        the analysis visit their study day falls in (``AVISIT``, ``""`` for session samples or
        none).
    start : DataFrame
        First-session start per subject.
    pairs : DataFrame
        Session pre/post pairs (:func:`~msc_analysis.derive.sessions.derive_session_pairs`).
    windows : DataFrame
        Windowed scheduled samples with ``ANL01FL``, ``WINREAS``, ``BASE``, ``CHG``, ``PCHG``.
    base : DataFrame
        One row per subject and parameter with a baseline: ``USUBJID``, ``PARAMCD``, ``BASE``.
    adsl : DataFrame
        Subject-level records of the analysis set.
    events : dict
        ``USUBJID`` -> (first-session date, death date, transplant date), NaT when none.
    """

    subjects: tuple[str, ...]
    population: str
    rule: str
    lab: pd.DataFrame
    after_transplant: pd.DataFrame
    start: pd.DataFrame
    pairs: pd.DataFrame
    windows: pd.DataFrame
    base: pd.DataFrame
    adsl: pd.DataFrame
    events: dict[str, tuple[Any, Any, Any]]

    def missing_reason(self, usubjid: str, visit: Any) -> str:
        """Why ``usubjid`` has no value at ``visit`` (death, transplant or no value)."""
        first, death, transplant = self.events.get(usubjid, (pd.NaT, pd.NaT, pd.NaT))
        return missing_reason_at(visit, first, death, transplant)

    def missing_reasons(self, usubjids: Sequence[str], visit: Any) -> np.ndarray:
        """:meth:`missing_reason` of each of ``usubjids`` (one vectorised pass)."""
        dates = self.event_dates.reindex(pd.Index(list(usubjids), dtype=object))
        return missing_reasons_at(visit, dates["first"], dates["death"], dates["transplant"])

    @cached_property
    def analysed_values(self) -> dict[tuple[str, str], pd.DataFrame]:
        """The values analysed in each visit window, by ``(PARAMCD, AVISIT)``.

        Each frame holds ``AVAL, BASE, CHG, PCHG`` indexed by ``USUBJID``, one row per subject
        (``ANL01FL = "Y"``; should a subject have more, the last one).
        """
        w = self.windows
        chosen = w.loc[w["ANL01FL"] == "Y",
                       ["USUBJID", "PARAMCD", "AVISIT", "AVAL", "BASE", "CHG", "PCHG"]]
        return {
            (str(p), str(v)): part.drop(columns=["PARAMCD", "AVISIT"])
            .drop_duplicates("USUBJID", keep="last").set_index("USUBJID")
            for (p, v), part in chosen.groupby(["PARAMCD", "AVISIT"], sort=False)
        }

    @cached_property
    def baseline_subjects(self) -> dict[str, frozenset[str]]:
        """``PARAMCD`` -> the subjects with a baseline value of that parameter."""
        return {str(p): frozenset(ids.tolist())
                for p, ids in self.base.groupby("PARAMCD", sort=False)["USUBJID"]}

    @cached_property
    def event_dates(self) -> pd.DataFrame:
        """:attr:`events` as a frame indexed by ``USUBJID``: datetime columns ``first``,
        ``death``, ``transplant``."""
        frame = pd.DataFrame.from_dict(self.events, orient="index",
                                       columns=["first", "death", "transplant"])
        return frame.apply(pd.to_datetime) if len(frame) else frame.astype("datetime64[ns]")


def analysis_subjects(adsl: pd.DataFrame, flag: str) -> tuple[str, ...]:
    """Subjects with ``flag = "Y"`` in ADSL, sorted.

    Raises
    ------
    AnalysisError
        When ADSL lacks the flag variable.
    """
    if flag not in adsl.columns:
        raise AnalysisError(f"adsl: variable {flag} (analysis-set flag) is needed by the pre/post "
                            f"analyses but is not in the data")
    chosen = adsl.loc[adsl[flag].astype(str).str.upper() == "Y", "USUBJID"].astype(str)
    return tuple(sorted(chosen))


def _event_dates(adsl: pd.DataFrame, name: str) -> list[Any]:
    """``pd.to_datetime`` of each value of ADSL ``name`` (all NaT when the variable is absent).

    A datetime column already holds what ``pd.to_datetime`` gives for each value (Timestamp or
    NaT), so it is used as it is; any other column is converted value by value.
    """
    if name not in adsl.columns:
        return [pd.NaT] * len(adsl)
    values = adsl[name]
    if pd.api.types.is_datetime64_any_dtype(values) and values.dt.tz is None:
        return values.tolist()
    return [pd.to_datetime(v) for v in values]


def prepare_prepost(
    study: Any,
    sap: Any,
    rule: str,
    parameters: Sequence[str],
    population: str = "FAS",
) -> PrepostData:
    """Derive everything the pre/post analyses read, for one LLOQ rule.

    Parameters
    ----------
    study : Study
        Loaded study (``adsl``, ``adlb``, optional ``adex``).
    sap : Sap
        SAP settings (``parameters``, ``visits``, ``analysis_sets``).
    rule : {"half", "lloq"}
        Below-LLOQ substitution rule.
    parameters : sequence of str
        Laboratory parameters to derive (biomarkers and MELD components).
    population : str
        Analysis-set code.

    Raises
    ------
    AnalysisError
        When ADSL or ADLB is missing, or the analysis set is empty.
    """
    absent = [n for n in ("adsl", "adlb") if getattr(study, n, None) is None]
    if absent:
        raise AnalysisError(f"the pre/post analyses need adsl and adlb; missing: {absent}")
    aset = sap.analysis_sets[population]
    subjects = analysis_subjects(study.adsl, aset.flag)
    if not subjects:
        raise AnalysisError(f"adsl: no subject has {aset.flag} = 'Y' ({aset.label}); the pre/post "
                            "analyses have no subjects")
    adsl = study.adsl.loc[study.adsl["USUBJID"].isin(subjects)].reset_index(drop=True)
    adex = study.adex
    if adex is not None:
        adex = adex.loc[adex["USUBJID"].isin(subjects)].reset_index(drop=True)
    params = list(dict.fromkeys(parameters))
    lab = study.adlb.loc[study.adlb["USUBJID"].isin(subjects)
                         & study.adlb["PARAMCD"].isin(params)].reset_index(drop=True)
    lloq = {p: sap.parameters[p].lloq for p in params if p in sap.parameters}
    lab = substitute_lloq(lab, rule, lloq)
    lab, after_ltx = drop_after_transplant(lab, adsl)
    start = first_session_start(adsl, adex)
    lab = derive_change(derive_baseline(lab.reset_index(drop=True), start))
    base = lab.loc[lab["ABLFL"] == "Y", ["USUBJID", "PARAMCD", "BASE"]].reset_index(drop=True)
    present = set(lab["PARAMCD"].unique())
    pairs = derive_session_pairs(lab, [p for p in params if p in present], adex)
    windows = assign_visit_windows(lab.drop(columns=["BASE", "BASEDTM", "CHG", "PCHG", "ABLFL"]),
                                   sap.visits, start)
    windows = derive_change(windows.merge(base, on=["USUBJID", "PARAMCD"], how="left"))
    sched = assign_visit_windows(after_ltx, sap.visits, start)
    after_ltx = after_ltx.assign(AVISIT="").reset_index(drop=True)
    if len(sched):
        key = ["USUBJID", "PARAMCD", "ADTM"]
        after_ltx = after_ltx.drop(columns="AVISIT").merge(
            sched[[*key, "AVISIT"]], on=key, how="left")
        after_ltx["AVISIT"] = after_ltx["AVISIT"].fillna("").astype(str)
    first = dict(zip(start["USUBJID"], start["TRTSDT"], strict=True))
    events = {
        s: (first.get(s, pd.NaT), d, t)
        for s, d, t in zip(adsl["USUBJID"], _event_dates(adsl, "DTHDT"),
                           _event_dates(adsl, "LTXDT"), strict=True)
    }
    return PrepostData(
        subjects=subjects, population=aset.label, rule=rule, lab=lab,
        after_transplant=after_ltx, start=start, pairs=pairs,
        windows=windows, base=base, adsl=adsl, events=events,
    )


def prepost_meld(data: PrepostData, scores: Sequence[str], visits: Sequence[str]) -> pd.DataFrame:
    """MELD scores of the analysis set at baseline and ``visits`` (see :func:`meld_by_visit`)."""
    return meld_by_visit(data.subjects, data.adsl, data.base, data.windows, scores, visits,
                         baseline=BASELINE)
