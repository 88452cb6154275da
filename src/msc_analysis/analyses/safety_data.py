"""The derived data every safety analysis starts from (Safety Set, groups, ADAE, ADLB).

:func:`prepare_safety` runs the derivations once; each SAF-* analysis accepts either the
:class:`SafetyData` it returns or a loaded :class:`~msc_analysis.io.loading.Study` (then it
prepares the data itself), so the report can call any analysis on its own or all of them on one
preparation.

Groups (table columns)
----------------------
Without a grouping variable every subject of the Safety Set is in one column and the ARD rows
carry no treatment group. With ``by`` (for example ``TRTA``) each subject's group is read from
ADSL (``TRTA`` / ``TRTP`` map to ``TRT01A`` / ``TRT01P``), the denominators are the Safety Set
(``SAFFL = "Y"``) subjects of each group, and every ARD row carries the group as its first
by-variable (``group1 = "TRTA"``). Groups are ordered by the numeric companion variable
(``TRT01AN``) when ADSL has one, else alphabetically.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from msc_analysis.derive.cutoff import last_date
from msc_analysis.derive.lab_grades import grade_labs
from msc_analysis.derive.lloq import substitute_lloq
from msc_analysis.derive.teae import AeDerivation, attribute_to_sessions, prepare_adae
from msc_analysis.errors import AnalysisError, DataError
from msc_analysis.io.issues import DataIssues

log = logging.getLogger(__name__)

__all__ = [
    "GROUP",
    "HEADER_VARIABLE",
    "SafetyData",
    "add_header",
    "adsl_group_variable",
    "as_safety_data",
    "cutoff_date",
    "prepare_safety",
]

#: Column holding each record's group in the derived frames.
GROUP = "_GROUP"
#: ADAE / BDS treatment variables and their ADSL counterparts.
_ADSL_EQUIVALENT = {"TRTA": "TRT01A", "TRTP": "TRT01P", "TRTAN": "TRT01AN", "TRTPN": "TRT01PN"}
_SOURCE = "safety"
#: ``variable`` of the ARD rows giving each column's population N (stat ``N``); their
#: ``variable_level`` is the column label (the group level, or the overall label).
HEADER_VARIABLE = "SAFFL"


@dataclass(frozen=True, eq=False)
class SafetyData:
    """Derived inputs of the safety analyses.

    Attributes
    ----------
    adsl : DataFrame
        Safety Set subjects with :data:`GROUP`.
    by : str or None
        The grouping variable as named by the user (the ARD's first by-variable), or None.
    groups : tuple of str
        Group levels in display order (one level, the overall label, without ``by``).
    denominators : dict
        Group level -> number of Safety Set subjects.
    overall_label : str
        Column label without ``by``: ADSL's single ``TRT01A`` value, else ``"All subjects"``.
    ae : AeDerivation or None
        Derived ADAE of Safety Set subjects (with :data:`GROUP` and ``ASESSNUM``).
    lab : DataFrame or None
        Graded ADLB of Safety Set subjects (with :data:`GROUP`).
    adex, advs : DataFrame or None
        Exposure and vital signs of Safety Set subjects (with :data:`GROUP`).
    sap : Sap
        The analysis settings.
    issues : DataIssues
        Where derivations and analyses record excluded records.
    cutoff : Timestamp or None
        The data cut-off date (the data are as known at the end of that day): the report's
        cut-off, else the last date in the data (:func:`msc_analysis.derive.cutoff.last_date`);
        None only when the data hold no date. SAF-MON uses it to tell which subjects' monitoring
        windows are still open (SAP section 9.1).
    """

    adsl: pd.DataFrame
    by: str | None
    groups: tuple[str, ...]
    denominators: dict[str, int]
    overall_label: str
    ae: AeDerivation | None
    lab: pd.DataFrame | None
    adex: pd.DataFrame | None
    advs: pd.DataFrame | None
    sap: object
    issues: DataIssues = field(default_factory=DataIssues)
    cutoff: pd.Timestamp | None = None

    def ard_groups(self, level: str) -> dict[str, str]:
        """The ARD by-variable of a group level (empty without ``by``)."""
        return {} if self.by is None else {self.by: level}

    def each_group(self) -> Iterator[tuple[str, dict[str, str], int]]:
        """``(level, ard_groups, N)`` for each group in display order."""
        for level in self.groups:
            yield level, self.ard_groups(level), self.denominators[level]

    @property
    def conf_level(self) -> float:
        """The SAP's confidence level."""
        return float(getattr(self.sap, "conf_level", 0.95))


def add_header(builder: object, data: SafetyData) -> None:
    """Add one ``SAFFL`` / ``N`` row per group: the population N of each table column."""
    for level, groups, n in data.each_group():
        builder.add(HEADER_VARIABLE, "N", n, variable_level=level, groups=groups)  # type: ignore[attr-defined]


def adsl_group_variable(adsl: pd.DataFrame, by: str) -> str:
    """The ADSL variable holding the groups of ``by`` (``TRTA`` -> ``TRT01A``)."""
    if by in adsl.columns:
        return by
    alt = _ADSL_EQUIVALENT.get(by.upper())
    if alt and alt in adsl.columns:
        return alt
    raise AnalysisError(f"grouping variable {by!r} is not in ADSL"
                        + (f" (nor its ADSL equivalent {alt})" if alt else ""))


def _order(adsl: pd.DataFrame, var: str, levels: list[str]) -> tuple[str, ...]:
    numeric = f"{var}N"
    if numeric in adsl.columns:
        codes = adsl.groupby(var)[numeric].min()
        return tuple(sorted(levels, key=lambda lv: (codes.get(lv, np.inf), lv)))
    return tuple(sorted(levels))


def _attach_group(frame: pd.DataFrame | None, adsl: pd.DataFrame, name: str,
                  issues: DataIssues) -> pd.DataFrame | None:
    """Keep the Safety Set subjects of ``frame`` and add :data:`GROUP`; list the others."""
    if frame is None:
        return None
    groups = adsl.set_index("USUBJID")[GROUP]
    inset = frame["USUBJID"].isin(groups.index)
    outside = frame.loc[~inset, "USUBJID"].astype(str)
    for subj, count in outside.value_counts().sort_index().items():
        issues.add(source=_SOURCE, file=name, usubjid=str(subj), variable="SAFFL",
                   rule="not-in-safety-set", severity="excluded",
                   message=f"{count} {name.upper()} record(s) of a subject outside the Safety Set "
                           "excluded from the safety analyses")
    out = frame.loc[inset.to_numpy()].reset_index(drop=True)
    out[GROUP] = _map_by_subject(out["USUBJID"], groups)
    return out


def _map_by_subject(subjects: pd.Series, groups: pd.Series) -> pd.Series:
    """``subjects.map(groups).astype(str)``, looked up once per distinct subject."""
    codes, distinct = pd.factorize(subjects, use_na_sentinel=False)
    mapped = pd.Series(distinct).map(groups).astype(str)
    return pd.Series(mapped.array.take(codes), index=subjects.index)


def prepare_safety(
    study: object, sap: object, issues: DataIssues | None = None, by: str | None = None,
    cutoff: pd.Timestamp | str | None = None,
) -> SafetyData:
    """Derive everything the SAF-* analyses need from a loaded study.

    Parameters
    ----------
    study : Study
        Loaded datasets (``adsl`` required; ``adae``, ``adlb``, ``adex``, ``advs`` optional).
    sap : Sap
        Settings: ``teae_window_days``, ``session_ae_window_hours``, parameters, monitoring.
    issues : DataIssues, optional
        Collects the records each derivation could not use.
    by : str, optional
        Grouping variable (see the module docstring).
    cutoff : Timestamp or str, optional
        The date the data were cut at (the report's cut-off; the data are not cut here).
        Default: the last date in the data.
    """
    issues = DataIssues() if issues is None else issues
    day = cutoff_date(study, cutoff)
    adsl = study.adsl  # type: ignore[attr-defined]
    if adsl is None or "USUBJID" not in adsl.columns:
        raise DataError("ADSL with USUBJID is required for the safety analyses")
    if "SAFFL" not in adsl.columns:
        raise DataError("ADSL: SAFFL (Safety Population Flag) is required for the safety "
                        "analyses")
    saf = adsl.loc[adsl["SAFFL"].astype(str).str.strip().str.upper() == "Y"].copy()
    trt = saf["TRT01A"].astype(str).str.strip() if "TRT01A" in saf.columns else None
    overall = (trt.iloc[0] if trt is not None and trt.nunique() == 1 and trt.iloc[0]
               else "All subjects")
    if by is None:
        saf[GROUP] = overall
        groups: tuple[str, ...] = (overall,)
    else:
        var = adsl_group_variable(saf, by)
        saf[GROUP] = saf[var].astype(str).str.strip()
        blank = saf[GROUP] == ""
        for subj in saf.loc[blank, "USUBJID"]:
            issues.add(source=_SOURCE, file="adsl", usubjid=str(subj), variable=var,
                       rule="missing-group", severity="excluded",
                       message=f"{var} is blank: subject excluded from the grouped safety tables")
        saf = saf.loc[~blank]
        groups = _order(saf, var, sorted(saf[GROUP].unique()))
    saf = saf.reset_index(drop=True)
    denominators = {g: int((saf[GROUP] == g).sum()) for g in groups}

    adex = _attach_group(study.adex, saf, "adex", issues)  # type: ignore[attr-defined]
    advs = _attach_group(study.advs, saf, "advs", issues)  # type: ignore[attr-defined]
    ae = None
    adae = _attach_group(study.adae, saf, "adae", issues)  # type: ignore[attr-defined]
    if adae is not None:
        ae = prepare_adae(adae, saf, window_days=int(getattr(sap, "teae_window_days", 0)),
                          issues=issues)
        frame = ae.frame
        if adex is not None and {"ASTDTM", "AENDTM", "SESSNUM"} <= set(adex.columns):
            frame = attribute_to_sessions(
                frame, adex, hours=float(getattr(sap, "session_ae_window_hours", 24.0)))
        ae = AeDerivation(frame=frame, grade_source=ae.grade_source, grade_label=ae.grade_label,
                          relationship_vars=ae.relationship_vars,
                          seriousness_vars=ae.seriousness_vars, teae_source=ae.teae_source)
    lab = _attach_group(study.adlb, saf, "adlb", issues)  # type: ignore[attr-defined]
    if lab is not None:
        lab = _below_lloq(lab, sap)
        lab = grade_labs(lab, adsl=saf, adex=adex, sap=sap, issues=issues)
    return SafetyData(adsl=saf, by=by, groups=groups, denominators=denominators,
                      overall_label=overall, ae=ae, lab=lab, adex=adex, advs=advs, sap=sap,
                      issues=issues, cutoff=day)


def cutoff_date(study: object, cutoff: pd.Timestamp | str | None) -> pd.Timestamp | None:
    """``cutoff`` as a date, else the last date in the study (None when it holds no date)."""
    if cutoff is not None:
        return pd.Timestamp(cutoff).normalize()
    try:
        return last_date(study)
    except ValueError:  # no date anywhere: no treated subject either
        return None


def _below_lloq(lab: pd.DataFrame, sap: object | None) -> pd.DataFrame:
    """Values below the LLOQ take the SAP's primary substitute (LLOQ/2), as in every analysis
    (SAP section 6.5), so that they count in the laboratory summaries instead of dropping out."""
    rule = getattr(getattr(sap, "lloq", None), "primary", None)
    if rule is None:
        return lab
    limits = {code: p.lloq for code, p in getattr(sap, "parameters", {}).items()}
    return substitute_lloq(lab, rule, limits)


def as_safety_data(
    study: object, sap: object | None, issues: DataIssues | None, by: str | None,
    cutoff: pd.Timestamp | str | None = None,
) -> SafetyData:
    """``study`` itself when it is already :class:`SafetyData` (with ``cutoff`` when given),
    else :func:`prepare_safety`."""
    if isinstance(study, SafetyData):
        if cutoff is None:
            return study
        return dataclasses.replace(study, cutoff=pd.Timestamp(cutoff).normalize())
    if sap is None:
        raise AnalysisError("the SAP settings are needed to prepare the safety data")
    return prepare_safety(study, sap, issues, by, cutoff)
