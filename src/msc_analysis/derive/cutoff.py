"""The data cut-off: only what was known on the cut-off date counts.

:func:`apply_cutoff` returns a copy of the study as it stood at the end of the cut-off day:

- subjects enrolled after it are not in the report;
- sessions, samples and vital signs after it are removed, and AEs starting after it;
- an AE still going on at the cut-off (end date after it) is ongoing: its end date is cleared and
  its outcome set to NOT RECOVERED/NOT RESOLVED, with ``AEONGO = "Y"``;
- each subject's status is re-derived: a death or transplant after the cut-off did not yet happen,
  the date last known alive is capped at the cut-off, a study end after the cut-off is ONGOING,
  and the number of sessions, the last-session date and the safety flag count sessions up to it.

Every removed record is listed in the data issues (severity ``excluded``) with the reason.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pandas as pd

from msc_analysis.io.issues import DataIssues

SOURCE = "cut-off"

#: Per dataset: the date (or datetime) variable that decides whether a record is after cut-off.
RECORD_DATES: dict[str, str] = {"adex": "ASTDTM", "adlb": "ADTM", "advs": "ADTM", "adae": "ASTDT"}


def last_date(study: Any) -> pd.Timestamp:
    """The last date anywhere in the study data (the default cut-off)."""
    candidates: list[pd.Timestamp] = []
    for name in ("adsl", "adex", "adlb", "adae", "advs"):
        frame = getattr(study, name, None)
        if frame is None:
            continue
        for col in frame.columns:
            if pd.api.types.is_datetime64_any_dtype(frame[col]) and frame[col].notna().any():
                candidates.append(frame[col].max())
    if not candidates:
        raise ValueError("no dates in the data: give the cut-off explicitly")
    return max(candidates).normalize()


def apply_cutoff(
    study: Any, cutoff: pd.Timestamp | str | None, issues: DataIssues
) -> tuple[Any, pd.Timestamp]:
    """Return the study as known at the end of ``cutoff``, and the cut-off date used.

    Parameters
    ----------
    study : Study
        A dataclass with DataFrame attributes adsl, adex, adlb, adae, advs (None when absent).
    cutoff : Timestamp, str or None
        The cut-off date (YYYY-MM-DD); data dated on that day count.
    issues : DataIssues
        Receives one ``excluded`` line per removed subject or record.

    Returns
    -------
    (Study, Timestamp)
        A copy of the study (``dataclasses.replace``) and the cut-off date (None: the last date).
    """
    day = last_date(study) if cutoff is None else pd.Timestamp(cutoff).normalize()
    end = day + pd.Timedelta(days=1)  # records strictly before the next midnight count
    adsl = study.adsl.copy()
    late = _enrolment_date(adsl) >= end
    for usubjid in adsl.loc[late, "USUBJID"]:
        issues.add(source=SOURCE, rule="enrolled-after-cutoff", usubjid=str(usubjid),
                   variable="ENRLDT", severity="excluded",
                   message=f"enrolled after the cut-off {day.date()}: not in the report")
    kept = set(adsl.loc[~late, "USUBJID"])
    adsl = adsl.loc[~late].reset_index(drop=True)

    changes: dict[str, pd.DataFrame | None] = {}
    for name, date_var in RECORD_DATES.items():
        frame = getattr(study, name, None)
        if frame is None:
            changes[name] = None
            continue
        frame = frame[frame["USUBJID"].isin(kept)]
        if date_var in frame.columns:
            after = frame[date_var] >= end
            for idx in frame.index[after]:
                file, row = _origin(frame, idx, name)
                issues.add(source=SOURCE, rule="after-cutoff", file=file, row=row,
                           usubjid=str(frame.at[idx, "USUBJID"]), variable=date_var,
                           severity="excluded",
                           message=f"{date_var} {frame.at[idx, date_var]} is after the cut-off "
                                   f"{day.date()}")
            frame = frame.loc[~after]
        changes[name] = frame.reset_index(drop=True)

    if changes.get("adae") is not None:
        changes["adae"] = _ongoing_aes(changes["adae"], end)
    changes["adsl"] = _status_at_cutoff(adsl, changes.get("adex"), day, end)
    return dataclasses.replace(study, **changes), day


def _origin(frame: pd.DataFrame, idx: object, dataset: str) -> tuple[str, int | None]:
    """File and 1-based data row of a record: the loader's ``_file``/``_row`` when present."""
    if "_file" in frame.columns and "_row" in frame.columns:
        return str(frame.at[idx, "_file"]), int(frame.at[idx, "_row"])
    return dataset, None


def _enrolment_date(adsl: pd.DataFrame) -> pd.Series:
    for var in ("ENRLDT", "RFICDT", "TRTSDT"):
        if var in adsl.columns:
            return adsl[var].fillna(pd.Timestamp.min)
    return pd.Series(pd.Timestamp.min, index=adsl.index)


def _ongoing_aes(adae: pd.DataFrame, end: pd.Timestamp) -> pd.DataFrame:
    adae = adae.copy()
    if "AENDT" not in adae.columns:
        return adae
    ongoing = adae["AENDT"] >= end
    adae["AEONGO"] = ongoing.map({True: "Y", False: ""})
    adae.loc[ongoing, "AENDT"] = pd.NaT
    if "AEOUT" in adae.columns:
        adae.loc[ongoing, "AEOUT"] = "NOT RECOVERED/NOT RESOLVED"
    return adae


def _status_at_cutoff(
    adsl: pd.DataFrame, adex: pd.DataFrame | None, day: pd.Timestamp, end: pd.Timestamp
) -> pd.DataFrame:
    adsl = adsl.copy()
    last_contact = pd.Series(pd.NaT, index=adsl.index, dtype="datetime64[ns]")
    for var in ("DTHDT", "LTXDT", "LSTALVDT"):
        if var in adsl.columns:
            last_contact = _later(last_contact, adsl[var])
    for date_var, flag in (("DTHDT", "DTHFL"), ("LTXDT", "LTXFL")):
        if date_var in adsl.columns:
            later = adsl[date_var] >= end
            adsl.loc[later, date_var] = pd.NaT
            if flag in adsl.columns:
                adsl.loc[later, flag] = ""
    if "LSTALVDT" in adsl.columns:
        adsl["LSTALVDT"] = adsl["LSTALVDT"].where(adsl["LSTALVDT"] < end, day)
    if "EOSSTT" in adsl.columns:
        still_on = adsl["EOSSTT"].isin(["COMPLETED", "DISCONTINUED"]) & (last_contact >= end)
        adsl.loc[still_on, "EOSSTT"] = "ONGOING"
        if "DCSREAS" in adsl.columns:
            adsl.loc[still_on, "DCSREAS"] = ""
    if adex is not None and {"USUBJID", "ASTDTM"} <= set(adex.columns):
        sessions = adex.groupby("USUBJID")["ASTDTM"]
        if "NSESS" in adsl.columns:
            adsl["NSESS"] = adsl["USUBJID"].map(sessions.size()).fillna(0).astype(int)
        if "TRTEDT" in adsl.columns:
            adsl["TRTEDT"] = adsl["USUBJID"].map(sessions.max().dt.normalize())
        if "SAFFL" in adsl.columns:
            treated = adsl["USUBJID"].isin(adex["USUBJID"])
            adsl["SAFFL"] = treated.map({True: "Y", False: "N"})
    return adsl


def _later(a: pd.Series, b: pd.Series) -> pd.Series:
    """The later of two dates of each record, a missing date ignored (missing when both are)."""
    return a.where(b.isna() | (a >= b), b)
