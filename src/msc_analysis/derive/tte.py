"""Time-to-event derivation: transplant-free survival (an ADTTE-style record per subject).

Time origin is the start of the first session (ADSL.TRTSDT, Day 1). The event is death or liver
transplant, whichever comes first; subjects without either are censored at the date last known
alive. Everything is truncated at the horizon (Day 90): an event after it is censored at it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from msc_analysis.io.issues import DataIssues

TTE_COLUMNS = ("USUBJID", "PARAMCD", "STARTDT", "ADT", "AVAL", "CNSR", "EVNTDESC")
#: Follow-up horizon of transplant-free survival: days from the first session.
HORIZON_DAYS = 90


def derive_transplant_free_survival(
    adsl: pd.DataFrame, horizon_days: int = HORIZON_DAYS, issues: DataIssues | None = None
) -> pd.DataFrame:
    """Derive one transplant-free-survival record per treated subject.

    Parameters
    ----------
    adsl : DataFrame
        Subject-level data with USUBJID, TRTSDT and any of DTHDT, LTXDT, LSTALVDT (datetime64).
    horizon_days : int
        Follow-up horizon in days from the first session; later events are censored at it.
    issues : DataIssues, optional
        Subjects without a first-session date or without any follow-up date are listed here.

    Returns
    -------
    DataFrame
        Columns ``TTE_COLUMNS``: AVAL is the time in days (event or censoring date minus TRTSDT),
        CNSR is 0 for an event and 1 for a censored time (ADaM convention).
    """
    issues = issues if issues is not None else DataIssues()
    rows = []
    for rec in adsl.itertuples(index=False):
        usubjid = str(rec.USUBJID)
        start = getattr(rec, "TRTSDT", pd.NaT)
        if pd.isna(start):
            issues.add(source="SURV-TFS", rule="no-first-session", usubjid=usubjid,
                       variable="TRTSDT", severity="excluded",
                       message="no first-session date: not in the time-to-event analysis")
            continue
        event_dates = {
            "DEATH": getattr(rec, "DTHDT", pd.NaT),
            "LIVER TRANSPLANT": getattr(rec, "LTXDT", pd.NaT),
        }
        known = {k: v for k, v in event_dates.items() if not pd.isna(v)}
        last = getattr(rec, "LSTALVDT", pd.NaT)
        horizon = start + pd.Timedelta(days=horizon_days)
        if known:
            desc, date = min(known.items(), key=lambda kv: (kv[1], kv[0]))
            cnsr = 0
        elif not pd.isna(last):
            desc, date, cnsr = "LAST KNOWN ALIVE", last, 1
        else:
            issues.add(source="SURV-TFS", rule="no-follow-up-date", usubjid=usubjid,
                       variable="LSTALVDT", severity="excluded",
                       message="no death, transplant or last-known-alive date")
            continue
        if date > horizon:
            desc, date, cnsr = f"CENSORED AT DAY {horizon_days}", horizon, 1
        rows.append((usubjid, "TFS", start, date, float((date - start).days), cnsr, desc))
    frame = pd.DataFrame(rows, columns=list(TTE_COLUMNS))
    frame["CNSR"] = frame["CNSR"].astype(np.int64)
    return frame
