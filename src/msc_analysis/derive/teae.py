"""Adverse-event derivations: treatment emergence, grade, relationship, seriousness, actions.

One verb per derivation, each returning a copy of ADAE with the new variables, each recording in
:class:`~msc_analysis.io.issues.DataIssues` every record it cannot derive (never dropping it):

- :func:`derive_teae_flag` -- ``TRTEMFL``: onset on or after the first session's date and no later
  than the SAP's follow-up window after the last session (``teae_window_days``). A ``TRTEMFL``
  already in the data is used as given. A worsening of a pre-existing condition is recorded,
  under the CDISC convention, as a new AE record starting on the day of the worsening, so the
  onset rule covers it.
- :func:`derive_ae_grade` -- ``AGRADEN`` (1-5, NaN when missing) from ``ATOXGR`` / ``AETOXGR``
  (CTCAE grade) or, in data without a toxicity grade (the CDISC pilot), from ``AESEV``
  (mild 1, moderate 2, severe 3).
- :func:`derive_relationship` -- one ``REL_<var>`` flag per relationship variable (device
  ``AERELDEV``, MSC ``AERELMSC``, procedure ``AERELPRC``, or a single ``AEREL``) and ``RELANYFL``;
  related = possibly, probably or definitely related.
- :func:`derive_seriousness` -- ``SERFL`` and one ``SER_<criterion>`` flag per criterion present.
- :func:`derive_action` -- ``INTRFL`` (session interrupted) and ``STOPFL`` (session stopped or
  sessions discontinued).
- :func:`derive_fatal` -- ``FATALFL``: outcome fatal, results in death, or grade 5.
- :func:`attribute_to_sessions` -- ``ASESSNUM``: the session during which, or within the SAP's
  window after which (24 h), the AE began.
- :func:`prepare_adae` runs them all; :func:`worst_grade` gives the maximum grade per subject
  and term.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from msc_analysis.errors import DataError
from msc_analysis.io.issues import DataIssues

__all__ = [
    "RELATED_VALUES",
    "RELATIONSHIP_LABELS",
    "SERIOUSNESS_CRITERIA",
    "SEVERITY_GRADES",
    "AeDerivation",
    "attribute_to_sessions",
    "derive_action",
    "derive_ae_grade",
    "derive_fatal",
    "derive_relationship",
    "derive_seriousness",
    "derive_teae_flag",
    "prepare_adae",
    "worst_grade",
]

#: Relationship values counted as related (this trial's terms and common CDISC spellings).
RELATED_VALUES: frozenset[str] = frozenset({
    "POSSIBLY RELATED", "PROBABLY RELATED", "DEFINITELY RELATED",
    "POSSIBLE", "PROBABLE", "DEFINITE", "POSSIBLY", "PROBABLY", "DEFINITELY", "RELATED",
})
#: Relationship values counted as not related.
NOT_RELATED_VALUES: frozenset[str] = frozenset({
    "NOT RELATED", "UNLIKELY RELATED", "UNLIKELY", "NONE", "REMOTE", "NOT", "UNRELATED",
})
#: Relationship variables, in display order, and what they refer to.
RELATIONSHIP_LABELS: dict[str, str] = {
    "AERELDEV": "device",
    "AERELMSC": "MSC",
    "AERELPRC": "procedure",
    "AEREL": "study treatment",
}
#: Seriousness criteria (ADAE variable -> label), in display order.
SERIOUSNESS_CRITERIA: dict[str, str] = {
    "AESDTH": "Results in death",
    "AESLIFE": "Life-threatening",
    "AESHOSP": "Requires or prolongs hospitalisation",
    "AESDISAB": "Persistent or significant disability/incapacity",
    "AESCONG": "Congenital anomaly or birth defect",
    "AESMIE": "Other medically important event",
    "AESCAN": "Cancer",
    "AESOD": "Overdose",
}
#: AESEV -> grade, for data without a CTCAE toxicity grade.
SEVERITY_GRADES: dict[str, int] = {"MILD": 1, "MODERATE": 2, "SEVERE": 3}

_INTERRUPT = frozenset({"SESSION INTERRUPTED", "DRUG INTERRUPTED"})
_STOP = frozenset({"SESSION STOPPED", "SESSIONS DISCONTINUED", "DRUG WITHDRAWN"})
_SOURCE = "derive.teae"


@dataclass(frozen=True)
class AeDerivation:
    """ADAE with every derived variable, and what the variables were derived from.

    Attributes
    ----------
    frame : DataFrame
        ADAE with ``TRTEMFL``, ``AGRADEN``, ``REL_*``, ``RELANYFL``, ``SERFL``, ``SER_*``,
        ``INTRFL``, ``STOPFL``, ``FATALFL`` (flags ``"Y"`` / ``""``).
    grade_source : str
        Variable the grade came from (``ATOXGR``, ``AETOXGR``, ``AESEV``), ``""`` when none.
    grade_label : str
        ``"CTCAE grade"`` or ``"Severity"``.
    relationship_vars : tuple of str
        Relationship variables present, in display order.
    seriousness_vars : tuple of str
        Seriousness criteria present, in display order.
    teae_source : str
        ``"data"`` (TRTEMFL as given) or ``"derived"``.
    """

    frame: pd.DataFrame
    grade_source: str
    grade_label: str
    relationship_vars: tuple[str, ...] = ()
    seriousness_vars: tuple[str, ...] = ()
    teae_source: str = "derived"
    notes: tuple[str, ...] = field(default=())


def _text(frame: pd.DataFrame, name: str) -> pd.Series:
    if name not in frame.columns:
        return pd.Series("", index=frame.index, dtype=object)
    return frame[name].fillna("").astype(str).str.strip().str.upper()


def _flag(mask: pd.Series | np.ndarray) -> np.ndarray:
    return np.where(np.asarray(mask, dtype=bool), "Y", "")


def _row_of(frame: pd.DataFrame, i: int) -> int | None:
    """1-based data row of record ``i`` when the loader kept it (``_row``), else None."""
    if "_row" in frame.columns:
        value = frame["_row"].iloc[i]
        return None if pd.isna(value) or value == "" else int(value)
    return None


def _file_of(frame: pd.DataFrame, i: int, default: str) -> str:
    """File of record ``i`` when the loader kept it (``_file``), else ``default``."""
    if "_file" in frame.columns and str(frame["_file"].iloc[i]):
        return str(frame["_file"].iloc[i])
    return default


def _date(frame: pd.DataFrame, name: str) -> pd.Series:
    if name not in frame.columns:
        return pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns]")
    return pd.to_datetime(frame[name], errors="coerce").dt.normalize()


def derive_teae_flag(
    adae: pd.DataFrame,
    adsl: pd.DataFrame,
    *,
    window_days: int,
    issues: DataIssues | None = None,
    file: str = "adae",
) -> tuple[pd.DataFrame, str]:
    """Flag treatment-emergent AEs (``TRTEMFL = "Y"``).

    Parameters
    ----------
    adae : DataFrame
        AEs with ``USUBJID``, ``ASTDT`` (onset date), optionally ``AENDT`` and ``TRTEMFL``.
    adsl : DataFrame
        Subjects with ``USUBJID``, ``TRTSDT`` (first session date), optionally ``TRTEDT``.
    window_days : int
        An AE is treatment-emergent up to this many days after the last session
        (``TRTEDT``; no upper limit when it is missing).
    issues : DataIssues, optional
        Receives a warning for each AE with a missing onset date (counted treatment-emergent
        unless its end date is before the first session: the conservative rule) and for AEs of
        subjects without a first-session date.

    Returns
    -------
    (DataFrame, str)
        The copy with ``TRTEMFL`` and ``"data"`` or ``"derived"``.
    """
    out = adae.copy()
    given = _text(out, "TRTEMFL")
    if "TRTEMFL" in out.columns and (given != "").any():
        out["TRTEMFL"] = _flag(given == "Y")
        return out, "data"
    if "ASTDT" not in out.columns:
        raise DataError(f"{file}: TRTEMFL is absent and ASTDT (onset date) is missing, so "
                        "treatment emergence cannot be derived")
    dates = adsl[["USUBJID"]].copy()
    dates["_TRTSDT"] = _date(adsl, "TRTSDT")
    dates["_TRTEDT"] = _date(adsl, "TRTEDT")
    merged = out[["USUBJID"]].merge(dates, on="USUBJID", how="left")
    start = pd.Series(merged["_TRTSDT"].to_numpy(), index=out.index)
    end = pd.Series(merged["_TRTEDT"].to_numpy(), index=out.index)
    onset = _date(out, "ASTDT")
    stop = _date(out, "AENDT")
    limit = end + pd.Timedelta(days=int(window_days))
    within = (onset >= start) & (limit.isna() | (onset <= limit))
    no_onset = onset.isna() & start.notna() & (stop.isna() | (stop >= start))
    teae = (within | no_onset).fillna(False).to_numpy(dtype=bool)
    if issues is not None:
        for i in np.flatnonzero(onset.isna().to_numpy()):
            issues.add(source=_SOURCE, file=_file_of(out, i, file), row=_row_of(out, i),
                       usubjid=str(out["USUBJID"].iloc[i]), variable="ASTDT",
                       rule="missing-onset-date", severity="warning",
                       message=("AE onset date missing: counted as treatment-emergent (its end "
                                "date does not precede the first session)" if teae[i] else
                                "AE onset date missing and the AE ended before the first "
                                "session: not treatment-emergent"))
        for i in np.flatnonzero(start.isna().to_numpy()):
            issues.add(source=_SOURCE, file=_file_of(out, i, file), row=_row_of(out, i),
                       usubjid=str(out["USUBJID"].iloc[i]), variable="TRTSDT",
                       rule="no-first-session", severity="warning",
                       message="subject has no first-session date: AE not treatment-emergent")
    out["TRTEMFL"] = _flag(teae)
    return out, "derived"


def derive_ae_grade(
    adae: pd.DataFrame, *, issues: DataIssues | None = None, file: str = "adae"
) -> tuple[pd.DataFrame, str, str]:
    """Numeric grade ``AGRADEN`` (NaN when missing) and where it came from.

    The CTCAE toxicity grade (``ATOXGR``, else ``AETOXGR``) is used when present on any record;
    otherwise the severity ``AESEV`` (mild 1, moderate 2, severe 3). A record without a grade
    stays in every count (it is shown as "missing" in the by-grade table) and is listed in
    ``issues``.

    Returns
    -------
    (DataFrame, str, str)
        The copy, the source variable and the label (``"CTCAE grade"`` or ``"Severity"``).
    """
    out = adae.copy()
    source, label = "", "CTCAE grade"
    grade = pd.Series(np.nan, index=out.index)
    for var in ("ATOXGR", "AETOXGR"):
        text = _text(out, var)
        if var in out.columns and (text != "").any():
            grade = pd.to_numeric(text.str.replace(r"^GRADE\s*", "", regex=True),
                                  errors="coerce")
            grade = grade.where(grade.isin([1, 2, 3, 4, 5]))
            source = var
            break
    if not source and "AESEV" in out.columns:
        grade = _text(out, "AESEV").map(SEVERITY_GRADES).astype(float)
        source, label = "AESEV", "Severity"
    out["AGRADEN"] = grade.astype(float).to_numpy()
    if issues is not None:
        for i in np.flatnonzero(out["AGRADEN"].isna().to_numpy()):
            issues.add(source=_SOURCE, file=_file_of(out, i, file), row=_row_of(out, i),
                       usubjid=str(out["USUBJID"].iloc[i]), variable=source or "ATOXGR",
                       rule="missing-grade", severity="warning",
                       message=f"AE {out.get('AEDECOD', pd.Series('', index=out.index)).iloc[i]!r}"
                               f" has no {label.lower()}: counted in every table, shown under "
                               "'Missing' in the by-grade table and not as grade >= 3")
    return out, source, label


def _refuse_relationship(frame: pd.DataFrame, var: str, text: pd.Series, unknown: list[str],
                         related: frozenset[str], file: str) -> None:
    """Raise the DataError for relationship values that are neither related nor not related,
    naming the file and data row of the first, the variable, the rule and every value."""
    bad = np.flatnonzero(text.isin(unknown).to_numpy())
    first = int(bad[0])
    row = _row_of(frame, first)
    where = f"{_file_of(frame, first, file)}" + (f" data row {row}" if row is not None else "")
    raise DataError(f"{where}: variable {var}, rule relationship-term: {text.iloc[first]!r} is "
                    f"neither a related nor a not-related term ({len(bad)} record(s); values "
                    f"{unknown}; related: {sorted(related)}, not related: "
                    f"{sorted(NOT_RELATED_VALUES)})")


def derive_relationship(
    adae: pd.DataFrame,
    variables: Sequence[str] | None = None,
    *,
    related_values: Iterable[str] = RELATED_VALUES,
    issues: DataIssues | None = None,
    file: str = "adae",
) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """Relationship flags ``REL_<var>`` and ``RELANYFL`` (related to any of them).

    A missing relationship counts as related (the conservative rule) and is listed in
    ``issues``; a value that is neither a known related nor a known unrelated term is an error.

    Returns
    -------
    (DataFrame, tuple of str)
        The copy and the relationship variables used.
    """
    out = adae.copy()
    wanted = tuple(variables) if variables is not None else tuple(RELATIONSHIP_LABELS)
    present = tuple(v for v in wanted if v in out.columns)
    related = frozenset(v.upper() for v in related_values)
    anyrel = np.zeros(len(out), dtype=bool)
    for var in present:
        text = _text(out, var)
        unknown = sorted(set(text) - related - NOT_RELATED_VALUES - {""})
        if unknown:
            _refuse_relationship(out, var, text, unknown, related, file)
        missing = (text == "").to_numpy()
        flag = text.isin(related).to_numpy() | missing
        if issues is not None:
            for i in np.flatnonzero(missing):
                issues.add(source=_SOURCE, file=_file_of(out, i, file), row=_row_of(out, i),
                           usubjid=str(out["USUBJID"].iloc[i]), variable=var,
                           rule="missing-relationship", severity="warning",
                           message=f"{var} missing: counted as related "
                                   f"({RELATIONSHIP_LABELS.get(var, var)})")
        out[f"REL_{var}"] = _flag(flag)
        anyrel |= flag
    out["RELANYFL"] = _flag(anyrel)
    return out, present


def derive_seriousness(adae: pd.DataFrame) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """``SERFL`` (``AESER = "Y"``) and ``SER_<criterion>`` for each criterion present."""
    out = adae.copy()
    serious = (_text(out, "AESER") == "Y").to_numpy()
    out["SERFL"] = _flag(serious)
    present = tuple(v for v in SERIOUSNESS_CRITERIA if v in out.columns)
    for var in present:
        out[f"SER_{var}"] = _flag(serious & (_text(out, var) == "Y").to_numpy())
    return out, present


def derive_action(adae: pd.DataFrame) -> pd.DataFrame:
    """``INTRFL`` (session interrupted) and ``STOPFL`` (session stopped, sessions discontinued)."""
    out = adae.copy()
    action = _text(out, "AEACN")
    out["INTRFL"] = _flag(action.isin(_INTERRUPT))
    out["STOPFL"] = _flag(action.isin(_STOP))
    return out


def derive_fatal(adae: pd.DataFrame, *, grade_is_ctcae: bool = True) -> pd.DataFrame:
    """``FATALFL``: outcome fatal, ``AESDTH = "Y"``, or CTCAE grade 5."""
    out = adae.copy()
    fatal = (_text(out, "AEOUT") == "FATAL") | (_text(out, "AESDTH") == "Y")
    if grade_is_ctcae and "AGRADEN" in out.columns:
        fatal |= out["AGRADEN"] == 5
    out["FATALFL"] = _flag(fatal)
    return out


def attribute_to_sessions(
    adae: pd.DataFrame, adex: pd.DataFrame, *, hours: float = 24.0
) -> pd.DataFrame:
    """Session during which, or within ``hours`` after the end of which, each AE began.

    With an onset datetime (``ASTDTM``) the rule is ``ASTDTM`` in [session start, session end +
    ``hours``]. With only an onset date (``ASTDT``) it is applied on dates: the onset day lies
    between the session's start day and the day of (session end + ``hours``), so an AE starting
    on the calendar day after a session counts even when more than 24 h had passed (the
    date-level rule is stated in the table footnote). The earliest matching session wins.

    Returns
    -------
    DataFrame
        A copy of ``adae`` with ``ASESSNUM`` (float, NaN when no session matches).
    """
    out = adae.copy()
    out["ASESSNUM"] = np.nan
    if adex is None or adex.empty or out.empty:
        return out
    ex = adex.loc[adex["ASTDTM"].notna(), ["USUBJID", "SESSNUM", "ASTDTM", "AENDTM"]].copy()
    ex["AENDTM"] = ex["AENDTM"].fillna(ex["ASTDTM"])
    ex["_WEND"] = ex["AENDTM"] + pd.Timedelta(hours=float(hours))
    ae = out[["USUBJID"]].copy()
    ae["_i"] = np.arange(len(out))
    has_time = "ASTDTM" in out.columns
    ae["_ONSETDTM"] = pd.to_datetime(out["ASTDTM"]).to_numpy() if has_time else pd.NaT
    ae["_ONSET"] = _date(out, "ASTDT").to_numpy()
    pairs = ae.merge(ex, on="USUBJID", how="inner")
    by_time = pairs["_ONSETDTM"].notna() & (pairs["_ONSETDTM"] >= pairs["ASTDTM"]) & (
        pairs["_ONSETDTM"] <= pairs["_WEND"])
    by_date = pairs["_ONSETDTM"].isna() & pairs["_ONSET"].notna() & (
        pairs["_ONSET"] >= pairs["ASTDTM"].dt.normalize()) & (
        pairs["_ONSET"] <= pairs["_WEND"].dt.normalize())
    hits = pairs.loc[by_time | by_date].sort_values(["_i", "SESSNUM"], kind="stable")
    first = hits.groupby("_i", sort=True)["SESSNUM"].min()
    out.loc[out.index[first.index.to_numpy()], "ASESSNUM"] = first.to_numpy(dtype=float)
    return out


def prepare_adae(
    adae: pd.DataFrame,
    adsl: pd.DataFrame,
    *,
    window_days: int,
    issues: DataIssues | None = None,
    relationship_vars: Sequence[str] | None = None,
    file: str = "adae",
) -> AeDerivation:
    """Run every AE derivation (see the module docstring) and return an :class:`AeDerivation`."""
    for var in ("USUBJID", "AEDECOD", "AEBODSYS"):
        if var not in adae.columns:
            raise DataError(f"{file}: variable {var} is required for the AE analyses")
    frame = adae.copy()
    for var in ("AEDECOD", "AEBODSYS"):
        text = frame[var].fillna("").astype(str).str.strip()
        missing = (text == "").to_numpy()
        if issues is not None:
            for i in np.flatnonzero(missing):
                issues.add(source=_SOURCE, file=_file_of(frame, i, file), row=_row_of(frame, i),
                           usubjid=str(frame["USUBJID"].iloc[i]), variable=var,
                           rule="uncoded-term", severity="warning",
                           message=f"{var} is blank: the AE is counted under 'Uncoded'")
        frame[var] = np.where(missing, "Uncoded", text)
    frame, teae_source = derive_teae_flag(frame, adsl, window_days=window_days, issues=issues,
                                          file=file)
    frame, grade_source, grade_label = derive_ae_grade(frame, issues=issues, file=file)
    frame, rel_vars = derive_relationship(frame, relationship_vars, issues=issues, file=file)
    frame, ser_vars = derive_seriousness(frame)
    frame = derive_action(frame)
    frame = derive_fatal(frame, grade_is_ctcae=grade_source != "AESEV")
    return AeDerivation(frame=frame, grade_source=grade_source, grade_label=grade_label,
                        relationship_vars=rel_vars, seriousness_vars=ser_vars,
                        teae_source=teae_source)


def worst_grade(
    adae: pd.DataFrame, keys: Sequence[str] = ("USUBJID", "AEBODSYS", "AEDECOD")
) -> pd.DataFrame:
    """Maximum ``AGRADEN`` per ``keys`` (NaN when every record of the group lacks a grade)."""
    if "AGRADEN" not in adae.columns:
        raise DataError("worst_grade needs AGRADEN (run derive_ae_grade first)")
    return (adae.groupby(list(keys), sort=True, dropna=False)["AGRADEN"].max()
            .rename("WORSTGRN").reset_index())
