"""The data cut-off: only what was known on the cut-off date counts.

:func:`apply_cutoff` returns a copy of the study as it stood at the end of the cut-off day:

- subjects enrolled after it are not in the report, nor any of their records;
- sessions, samples and vital signs after it are removed, and AEs starting after it;
- an AE still going on at the cut-off (end date after it) is ongoing: its end date is cleared and
  its outcome set to NOT RECOVERED/NOT RESOLVED, with ``AEONGO = "Y"``;
- each subject's status is re-derived: a death or transplant after the cut-off did not yet happen,
  the date last known alive is capped at the cut-off, a study end after the cut-off is ONGOING,
  and the number of sessions and the first and last session dates count sessions up to it.

The analysis-set flags of ADSL are used as given (SAP section 3: the analyses read the flags),
except where the cut-off takes away what a flag rests on (SAP section 6.13): a subject with no
session started by the cut-off is not (yet) in the Safety Set, a subject not in the Safety Set
is not in the Full Analysis Set, and a subject whose planned sessions were not all started by the
cut-off is not (yet) in the Per-Protocol Set. A ``SAFFL = "N"`` while ADEX has a session started
by the cut-off is kept, with a warning.

Every removed record and every changed flag is listed in the data issues (severity
``excluded``, one line per record or per subject and flag, old and new value) with the reason.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pandas as pd

from msc_analysis.errors import DataError
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
        raise DataError("no date in any dataset of the study, so there is no default data "
                        "cut-off: give it explicitly (--cutoff YYYY-MM-DD)")
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
        Receives one ``excluded`` line per removed subject, per removed record and per changed
        analysis-set flag, and a warning per ``SAFFL = "N"`` kept although a session started.

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
    late_ids = set(adsl.loc[late, "USUBJID"])
    adsl = adsl.loc[~late].reset_index(drop=True)

    changes: dict[str, pd.DataFrame | None] = {}
    for name, date_var in RECORD_DATES.items():
        frame = getattr(study, name, None)
        if frame is None:
            changes[name] = None
            continue
        of_late = frame["USUBJID"].isin(late_ids)
        for idx in frame.index[of_late]:
            file, row = _origin(frame, idx, name)
            issues.add(source=SOURCE, rule="subject-enrolled-after-cutoff", file=file, row=row,
                       usubjid=str(frame.at[idx, "USUBJID"]), variable="USUBJID",
                       severity="excluded",
                       message=f"{name.upper()} record of a subject enrolled after the cut-off "
                               f"{day.date()}: not in the report")
        frame = frame.loc[~of_late]
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
    adsl = _status_at_cutoff(adsl, changes.get("adex"), day, end)
    changes["adsl"] = _flags_at_cutoff(adsl, study.adex, changes.get("adex"), day, issues)
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
            adsl["NSESS"] = _by_subject(adsl, sessions.size()).fillna(0).astype(int)
        if "TRTSDT" in adsl.columns:
            adsl.loc[adsl["TRTSDT"] >= end, "TRTSDT"] = pd.NaT
        if "TRTEDT" in adsl.columns:
            adsl["TRTEDT"] = _by_subject(adsl, sessions.max().dt.normalize())
    return adsl


def _by_subject(adsl: pd.DataFrame, per_subject: pd.Series) -> pd.Series:
    """``per_subject`` (indexed by USUBJID) aligned with the rows of ADSL (missing: NaN/NaT).

    (``Series.map`` with an empty datetime Series fails in pandas: it casts it to float.)
    """
    return pd.Series(per_subject.reindex(adsl["USUBJID"]).to_numpy(), index=adsl.index)


def _flags_at_cutoff(
    adsl: pd.DataFrame,
    adex_all: pd.DataFrame | None,
    adex: pd.DataFrame | None,
    day: pd.Timestamp,
    issues: DataIssues,
) -> pd.DataFrame:
    """The analysis-set flags at the cut-off (see the module's description), each change listed.

    ``adex_all`` is ADEX before the cut-off, ``adex`` after it. Nothing changes without ADEX
    (or its ASTDTM) or without the flag.
    """
    if adex is None or adex_all is None or "ASTDTM" not in adex.columns:
        return adsl
    adsl = adsl.copy()
    started = adex.groupby("USUBJID")["ASTDTM"].min()
    first_ever = adex_all.groupby("USUBJID")["ASTDTM"].min()
    treated = adsl["USUBJID"].isin(started.index)
    if "SAFFL" in adsl.columns:
        for idx in adsl.index[(adsl["SAFFL"] == "N") & treated]:
            subj = adsl.at[idx, "USUBJID"]
            file, row = _origin(adsl, idx, "adsl")
            issues.add(source=SOURCE, rule="flag-disagrees-with-adex", file=file, row=row,
                       usubjid=str(subj), variable="SAFFL", severity="warning",
                       message=f"SAFFL is N although ADEX has a session started on "
                               f"{started[subj].date()}: the flag is used as given")
        for idx in adsl.index[(adsl["SAFFL"] == "Y") & ~treated]:
            subj = adsl.at[idx, "USUBJID"]
            first = first_ever.get(subj)
            why = ("no session started by the cut-off" if pd.isna(first) else
                   f"no session started by the cut-off (the first started on {first.date()})")
            _change_flag(adsl, idx, "SAFFL", day, why, issues)
    if "FASFL" in adsl.columns and "SAFFL" in adsl.columns:
        for idx in adsl.index[(adsl["FASFL"] == "Y") & (adsl["SAFFL"] != "Y")]:
            _change_flag(adsl, idx, "FASFL", day, "not in the Safety Set at the cut-off", issues)
    if "PPROTFL" in adsl.columns:
        later = set(adex_all.loc[adex_all["ASTDTM"] >= day + pd.Timedelta(days=1), "USUBJID"])
        for idx in adsl.index[adsl["PPROTFL"] == "Y"]:
            subj = adsl.at[idx, "USUBJID"]
            if "FASFL" in adsl.columns and adsl.at[idx, "FASFL"] != "Y":
                why = "not in the Full Analysis Set at the cut-off"
            elif subj in later:
                why = "sessions started after the cut-off (planned sessions not yet completed)"
            else:
                continue
            _change_flag(adsl, idx, "PPROTFL", day, why, issues)
    return adsl


def _change_flag(adsl: pd.DataFrame, idx: object, flag: str, day: pd.Timestamp, why: str,
                 issues: DataIssues) -> None:
    """Set ``flag`` of row ``idx`` from Y to N, listed as a data issue with the reason."""
    file, row = _origin(adsl, idx, "adsl")
    issues.add(source=SOURCE, rule="flag-at-cutoff", file=file, row=row,
               usubjid=str(adsl.at[idx, "USUBJID"]), variable=flag, severity="excluded",
               message=f"{flag} Y in ADSL, N in this report (cut-off {day.date()}): {why}")
    adsl.at[idx, flag] = "N"


def _later(a: pd.Series, b: pd.Series) -> pd.Series:
    """The later of two dates of each record, a missing date ignored (missing when both are)."""
    return a.where(b.isna() | (a >= b), b)
