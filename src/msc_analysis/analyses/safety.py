"""All safety analyses of the SAP (section 14.3 and listings 16.2.7-16.2.8) in one call.

:data:`SAFETY_ANALYSES` maps each SAF-* analysis id to its function (each returns ARD rows);
:func:`run_safety` prepares the derived data once, runs every analysis whose datasets are
present (the others are reported as skipped, with the reason) and the listings.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import pandas as pd

from msc_analysis.analyses.safety_ae import (
    ae_by_grade,
    ae_by_soc_pt,
    ae_overview,
    ae_related,
    ae_serious,
    ae_sessions,
)
from msc_analysis.analyses.safety_data import SafetyData, as_safety_data
from msc_analysis.analyses.safety_exposure import exposure, vital_signs
from msc_analysis.analyses.safety_lab import lab_grade3, lab_shift, lab_summary
from msc_analysis.analyses.safety_listings import LISTINGS
from msc_analysis.analyses.safety_monitoring import (
    dlt_events,
    monitoring_after_each_subject,
    monitoring_boundaries,
    monitoring_operating_characteristics,
)
from msc_analysis.ard import bind
from msc_analysis.io.issues import DataIssues

log = logging.getLogger(__name__)

__all__ = ["DESIGN_ANALYSES", "NO_SUBJECTS", "SAFETY_ANALYSES", "SAFETY_DERIVED",
           "SafetyResults", "missing_inputs", "run_safety"]

#: Analysis id -> function(study_or_data, sap, issues, by) -> ARD frame, in table order.
SAFETY_ANALYSES: dict[str, Callable[..., pd.DataFrame]] = {
    "SAF-AEOV": ae_overview,
    "SAF-AESOCPT": ae_by_soc_pt,
    "SAF-AEGRADE": ae_by_grade,
    "SAF-AEREL": ae_related,
    "SAF-AESER": ae_serious,
    "SAF-AESESS": ae_sessions,
    "SAF-LBSUM": lab_summary,
    "SAF-LBSHIFT": lab_shift,
    "SAF-LBG3": lab_grade3,
    "SAF-EXPO": exposure,
    "SAF-VS": vital_signs,
    "SAF-MON": monitoring_after_each_subject,
    "SAF-MONBND": monitoring_boundaries,
    "SAF-MONOC": monitoring_operating_characteristics,
}

#: Analysis id -> function(data) -> the derived frame its table shows beside the ARD's
#: numbers (SAF-MON: the DLT adjudication records, the events the rule counted).
SAFETY_DERIVED: dict[str, Callable[[SafetyData], pd.DataFrame]] = {
    "SAF-MON": dlt_events,
}
#: Analyses of the design alone (the monitoring rule's boundaries and operating
#: characteristics): they run without subjects.
DESIGN_ANALYSES: tuple[str, ...] = ("SAF-MONBND", "SAF-MONOC")
#: Why the other analyses do not run on an empty Safety Set.
NO_SUBJECTS = "no subject in the Safety Set (no session started by the data cut-off)"

_AE = ("SAF-AEOV", "SAF-AESOCPT", "SAF-AEGRADE", "SAF-AEREL", "SAF-AESER", "SAF-MON")
_LAB = ("SAF-LBSUM", "SAF-LBSHIFT", "SAF-LBG3")


def missing_inputs(data: SafetyData, analysis_id: str) -> str:
    """Why ``analysis_id`` cannot run on ``data`` (``""`` when it can)."""
    if data.adsl.empty and analysis_id not in DESIGN_ANALYSES:
        return NO_SUBJECTS
    if analysis_id in _AE and data.ae is None:
        return "no ADAE"
    if analysis_id in _LAB and data.lab is None:
        return "no ADLB"
    if analysis_id == "SAF-AESESS":
        if data.ae is None or data.adex is None:
            return "needs ADAE and ADEX (session times)"
        if not {"ASTDTM", "AENDTM", "SESSNUM"} <= set(data.adex.columns):
            return "ADEX lacks ASTDTM / AENDTM / SESSNUM"
    if analysis_id == "SAF-EXPO" and data.adex is None:
        return "no ADEX"
    if analysis_id == "SAF-VS":
        if data.advs is None:
            return "no ADVS"
        if "SESSNUM" not in data.advs.columns or data.advs["SESSNUM"].isna().all():
            return "ADVS has no session time points (SESSNUM)"
    if analysis_id in ("SAF-MON", "SAF-MONBND", "SAF-MONOC") and getattr(
            data.sap, "monitoring", None) is None:
        return "no [monitoring] in the SAP settings"
    return ""


@dataclass(frozen=True, eq=False)
class SafetyResults:
    """Everything :func:`run_safety` produced: ``results`` the ARD rows by analysis id,
    ``derived`` the derived frames of the analyses that have one (:data:`SAFETY_DERIVED`),
    ``listings`` by number, ``skipped`` the analyses not run with the reason."""

    data: SafetyData
    results: dict[str, pd.DataFrame] = field(default_factory=dict)
    listings: dict[str, pd.DataFrame] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    derived: dict[str, pd.DataFrame] = field(default_factory=dict)

    @property
    def ard(self) -> pd.DataFrame:
        """The ARD rows of every analysis run, in table order."""
        return bind(self.results.values())


def run_safety(
    study: object,
    sap: object,
    issues: DataIssues | None = None,
    by: str | None = None,
    analyses: Iterable[str] | None = None,
    cutoff: pd.Timestamp | str | None = None,
) -> SafetyResults:
    """Run the safety analyses (all, or ``analyses``) and the listings.

    Parameters
    ----------
    study : Study or SafetyData
        Loaded datasets, or data already prepared by :func:`prepare_safety`.
    sap : Sap
        Settings.
    issues : DataIssues, optional
        Receives excluded records and skipped analyses.
    by : str, optional
        Grouping variable (``TRTA``); None for one column of all Safety Set subjects.
    analyses : iterable of str, optional
        Analysis ids to run (default: every id of :data:`SAFETY_ANALYSES`).
    cutoff : Timestamp or str, optional
        The date the data were cut at (the report passes the cut-off of
        :func:`msc_analysis.derive.cutoff.apply_cutoff`); default: the last date in the data.
        SAF-MON marks the subjects whose monitoring window is still open at it (SAP 9.1).
    """
    issues = DataIssues() if issues is None else issues
    data = as_safety_data(study, sap, issues, by, cutoff)
    wanted = list(SAFETY_ANALYSES) if analyses is None else list(analyses)
    results: dict[str, pd.DataFrame] = {}
    skipped: dict[str, str] = {}
    derived: dict[str, pd.DataFrame] = {}
    for aid in wanted:
        if aid not in SAFETY_ANALYSES:
            raise KeyError(f"unknown safety analysis {aid!r}; known: {list(SAFETY_ANALYSES)}")
        reason = missing_inputs(data, aid)
        if reason:
            skipped[aid] = reason
            log.info("%s skipped: %s", aid, reason)
            data.issues.add(source=aid, rule="analysis-skipped", severity="note",
                            message=f"{aid} not run: {reason}")
            continue
        results[aid] = SAFETY_ANALYSES[aid](data, sap, issues, by)
        if aid in SAFETY_DERIVED:
            derived[aid] = SAFETY_DERIVED[aid](data)
    listings = {number: fn(data, sap, issues, by) for number, (fn, _) in LISTINGS.items()}
    return SafetyResults(data=data, results=results, listings=listings, skipped=skipped,
                         derived=derived)
