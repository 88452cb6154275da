"""Baseline and change from baseline of laboratory records.

Rule (SAP section "Baseline"): the baseline of a subject and parameter is the **last non-missing
value taken on or before the start of the subject's first purification session**. A sample taken
at exactly the session start (the pre-session draw at cannulation) counts as before it; a sample
taken after the start never counts, whatever its ``ATPT`` says. When only the date of a sample is
known (``ADTM`` missing), the sample counts as before the first session when its date is earlier
than the first session's date, or on that date with ``ATPT = "PRE"`` and session 1.

The first session start is the earliest ``ASTDTM`` of the subject in ADEX; when ADEX lacks the
subject, the first-session date ``ADSL.TRTSDT`` is used (then only whole earlier days, or the
session-1 pre sample, qualify).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from msc_analysis.errors import DataError

__all__ = ["derive_baseline", "derive_change", "first_session_start"]


def first_session_start(adsl: pd.DataFrame | None, adex: pd.DataFrame | None) -> pd.DataFrame:
    """Start of each subject's first purification session.

    Parameters
    ----------
    adsl : DataFrame or None
        Subject-level data with ``USUBJID`` and, optionally, ``TRTSDT`` (first-session date).
    adex : DataFrame or None
        Exposure data with ``USUBJID`` and ``ASTDTM`` (session start datetime).

    Returns
    -------
    DataFrame
        One row per subject with a known start: ``USUBJID``, ``TRTSDTM`` (datetime, NaT when
        only the date is known), ``TRTSDT`` (the date, normalised to midnight).
    """
    parts: list[pd.DataFrame] = []
    if adex is not None and len(adex) and "ASTDTM" in adex.columns:
        ex = adex.loc[adex["ASTDTM"].notna(), ["USUBJID", "ASTDTM"]]
        first = ex.groupby("USUBJID", sort=True)["ASTDTM"].min().rename("TRTSDTM").reset_index()
        first["TRTSDT"] = first["TRTSDTM"].dt.normalize()
        parts.append(first)
    if adsl is not None and "TRTSDT" in adsl.columns:
        known = set(parts[0]["USUBJID"]) if parts else set()
        sl = adsl.loc[adsl["TRTSDT"].notna() & ~adsl["USUBJID"].isin(known), ["USUBJID", "TRTSDT"]]
        sl = sl.assign(TRTSDTM=pd.NaT, TRTSDT=pd.to_datetime(sl["TRTSDT"]).dt.normalize())
        parts.append(sl[["USUBJID", "TRTSDTM", "TRTSDT"]])
    if not parts:
        return pd.DataFrame({"USUBJID": pd.Series(dtype=str),
                             "TRTSDTM": pd.Series(dtype="datetime64[ns]"),
                             "TRTSDT": pd.Series(dtype="datetime64[ns]")})
    out = pd.concat(parts, ignore_index=True)
    out["TRTSDTM"] = pd.to_datetime(out["TRTSDTM"])
    out["TRTSDT"] = pd.to_datetime(out["TRTSDT"])
    return out.sort_values("USUBJID", kind="stable").reset_index(drop=True)


#: The ADLB variables :func:`derive_baseline` reads.
_READ = ("USUBJID", "PARAMCD", "AVAL", "ADTM", "ADT", "ATPT", "SESSNUM")


def _before_start(lb: pd.DataFrame) -> pd.Series:
    """Whether each record (joined with TRTSDTM / TRTSDT) was taken before the first session."""
    adtm = lb["ADTM"] if "ADTM" in lb.columns else pd.Series(pd.NaT, index=lb.index)
    if "ADT" in lb.columns:
        adt = pd.to_datetime(lb["ADT"]).dt.normalize()
    else:
        adt = pd.Series(pd.NaT, index=lb.index)
    adt = adt.fillna(adtm.dt.normalize())
    atpt = lb["ATPT"].astype(str) if "ATPT" in lb.columns else pd.Series("", index=lb.index)
    sess = lb["SESSNUM"] if "SESSNUM" in lb.columns else pd.Series(np.nan, index=lb.index)
    pre_s1 = (atpt == "PRE") & (sess == 1)
    by_time = adtm.notna() & lb["TRTSDTM"].notna() & (adtm <= lb["TRTSDTM"])
    # With a datetime on either side missing, fall back to dates.
    by_date = (adtm.isna() | lb["TRTSDTM"].isna()) & adt.notna() & lb["TRTSDT"].notna() & (
        (adt < lb["TRTSDT"]) | ((adt == lb["TRTSDT"]) & pre_s1)
    )
    return (by_time | by_date).fillna(False).astype(bool)


def derive_baseline(adlb: pd.DataFrame, start: pd.DataFrame) -> pd.DataFrame:
    """Flag the baseline record and carry the baseline value to every record.

    Parameters
    ----------
    adlb : DataFrame
        Laboratory records with ``USUBJID``, ``PARAMCD``, ``AVAL`` and ``ADTM`` (and optionally
        ``ADT``, ``ATPT``, ``SESSNUM``).
    start : DataFrame
        First-session start per subject, from :func:`first_session_start`.

    Returns
    -------
    DataFrame
        A copy of ``adlb`` (same row order) with ``ABLFL`` (``"Y"`` on the baseline record, else
        ``""``), ``BASE`` (the baseline value, NaN when the subject and parameter have none),
        ``BASEDTM`` (when the baseline sample was taken) and ``PREFL`` (``"Y"`` when the record
        was taken before the first session).

    Raises
    ------
    DataError
        When a needed variable is missing.
    """
    missing = [c for c in ("USUBJID", "PARAMCD", "AVAL") if c not in adlb.columns]
    if missing or ("ADTM" not in adlb.columns and "ADT" not in adlb.columns):
        raise DataError(f"ADLB: baseline derivation needs USUBJID, PARAMCD, AVAL and ADTM or ADT; "
                        f"missing {missing or ['ADTM/ADT']}")
    # The merges and sorts run on the variables read only (much cheaper than on the whole
    # ADLB); the derived variables are then put on the records, whose order is unchanged.
    lb = adlb[[c for c in _READ if c in adlb.columns]].reset_index(drop=True)
    lb["_order"] = np.arange(len(lb))
    joined = lb.merge(start[["USUBJID", "TRTSDTM", "TRTSDT"]], on="USUBJID", how="left")
    joined = joined.sort_values("_order", kind="stable").reset_index(drop=True)
    before = _before_start(joined)
    candidates = joined.loc[before.to_numpy() & joined["AVAL"].notna().to_numpy()].copy()
    time = candidates["ADTM"] if "ADTM" in candidates.columns else pd.Series(
        pd.NaT, index=candidates.index)
    day = pd.to_datetime(candidates["ADT"]) if "ADT" in candidates.columns else time
    candidates["_when"] = time.fillna(day)
    candidates = candidates.sort_values(["USUBJID", "PARAMCD", "_when", "_order"], kind="stable")
    last = candidates.groupby(["USUBJID", "PARAMCD"], sort=False).tail(1)
    base = last[["USUBJID", "PARAMCD", "AVAL", "_when"]].rename(
        columns={"AVAL": "BASE", "_when": "BASEDTM"})
    # one baseline per subject and parameter, so the left merge keeps the records' order
    carried = lb[["USUBJID", "PARAMCD"]].merge(base, on=["USUBJID", "PARAMCD"], how="left")
    out = adlb.reset_index(drop=True)
    out["PREFL"] = np.where(before.to_numpy(), "Y", "")
    out["ABLFL"] = np.where(lb["_order"].isin(last["_order"]), "Y", "")
    out["BASE"] = carried["BASE"].astype(float).to_numpy()
    out["BASEDTM"] = carried["BASEDTM"].to_numpy()
    return out


def derive_change(frame: pd.DataFrame, value: str = "AVAL", base: str = "BASE") -> pd.DataFrame:
    """Change and percent change from baseline.

    ``CHG = AVAL - BASE`` and ``PCHG = 100 * CHG / BASE`` on records taken after the first
    session start (``PREFL`` not ``"Y"``); missing on the baseline record, on earlier records,
    and where ``AVAL`` or ``BASE`` is missing. ``PCHG`` is missing when ``BASE`` is 0.

    Parameters
    ----------
    frame : DataFrame
        Output of :func:`derive_baseline` (or any frame with ``value`` and ``base`` columns; when
        ``PREFL`` is absent every record gets a change).
    value, base : str
        Column names of the analysis value and of the baseline.

    Returns
    -------
    DataFrame
        A copy with ``CHG`` and ``PCHG``.
    """
    out = frame.copy(deep=False)  # copy-on-write: the columns set below never reach frame
    post = out["PREFL"] != "Y" if "PREFL" in out.columns else pd.Series(True, index=out.index)
    aval = out[value].astype(float)
    bval = out[base].astype(float)
    chg = (aval - bval).where(post)
    with np.errstate(divide="ignore", invalid="ignore"):
        pchg = (100.0 * chg / bval).where(bval != 0)
    out["CHG"] = chg
    out["PCHG"] = pchg
    return out
