"""Analysis visits from study-day windows, and the intercurrent events that end follow-up.

Windowing rule (SAP section "Visit windows"): a scheduled sample (one not tied to a session, i.e.
``ATPT`` blank) belongs to the analysis visit whose window ``[window_low, window_high]`` (study
days, both ends included) contains its study day. Study day 1 is the date of the first session;
the day before it is day -1 (there is no day 0). When windows overlap, the sample goes to the visit
whose target day is closest, the earlier visit on ties. Within one visit window, one value per
subject and parameter is analysed (``ANL01FL = "Y"``): the one **closest to the target day, the
earlier one on ties** (then the earlier time of day). Samples outside every window and samples not
chosen are kept with ``ANL01FL = ""`` and a reason in ``WINREAS``.

Intercurrent events: values taken after a liver transplant are not analysed (they no longer
describe the native liver); a subject who died or had a transplant before a visit has no value at
that visit for that reason, which :func:`missing_reason` names.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import pandas as pd

__all__ = [
    "REASON_AFTER_TRANSPLANT",
    "REASON_DEATH",
    "REASON_NOT_CHOSEN",
    "REASON_NO_VALUE",
    "REASON_OUTSIDE",
    "REASON_TRANSPLANT",
    "VisitLike",
    "assign_visit_windows",
    "drop_after_transplant",
    "missing_reason",
    "missing_reason_at",
    "missing_reasons_at",
    "study_day",
]

REASON_OUTSIDE = "outside every visit window"
REASON_NOT_CHOSEN = "another sample in the window is closer to the target day"
REASON_AFTER_TRANSPLANT = "taken after liver transplant"
REASON_DEATH = "death before the visit"
REASON_TRANSPLANT = "liver transplant before the visit"
REASON_NO_VALUE = "no value in the visit window"


class VisitLike(Protocol):
    """What the windowing needs of a SAP visit (``msc_analysis.sap.Visit``)."""

    name: str
    avisitn: float
    target_day: int
    window_low: int
    window_high: int


def study_day(dates: pd.Series, first: pd.Series) -> pd.Series:
    """Study day of ``dates`` relative to first-session dates ``first`` (day 1; no day 0).

    Both series are aligned by index; the result is float (NaN where either date is missing).
    """
    d = pd.to_datetime(dates).dt.normalize()
    f = pd.to_datetime(first).dt.normalize()
    diff = (d - f).dt.days.astype(float)
    return diff.where(diff < 0, diff + 1)


def _days(lb: pd.DataFrame, start: pd.DataFrame) -> pd.Series:
    joined = lb[["USUBJID"]].merge(start[["USUBJID", "TRTSDT"]], on="USUBJID", how="left")
    joined.index = lb.index
    date = pd.to_datetime(lb["ADT"]) if "ADT" in lb.columns else pd.Series(pd.NaT, index=lb.index)
    if "ADTM" in lb.columns:
        date = date.fillna(lb["ADTM"])
    computed = study_day(date, joined["TRTSDT"])
    if "ADY" in lb.columns:
        return lb["ADY"].astype(float).fillna(computed)
    return computed


def assign_visit_windows(
    adlb: pd.DataFrame,
    visits: Sequence[VisitLike],
    start: pd.DataFrame,
) -> pd.DataFrame:
    """Assign scheduled samples to analysis visits and choose one value per window.

    Parameters
    ----------
    adlb : DataFrame
        Laboratory records (``USUBJID``, ``PARAMCD``, ``AVAL``, ``ADT`` or ``ADTM`` or ``ADY``;
        ``ATPT`` optional). Only records with blank ``ATPT`` and non-missing ``AVAL`` are windowed.
    visits : sequence of Visit
        The SAP's visits (``name``, ``avisitn``, ``target_day``, ``window_low``,
        ``window_high``).
    start : DataFrame
        First-session dates per subject (``USUBJID``, ``TRTSDT``), from
        :func:`msc_analysis.derive.baseline.first_session_start`.

    Returns
    -------
    DataFrame
        The scheduled records with ``ADY`` (study day), ``AVISIT`` / ``AVISITN`` replaced by the
        window assignment (``""`` / NaN outside every window), ``ANL01FL`` (``"Y"`` for the value
        analysed) and ``WINREAS`` (why a record is not analysed, else ``""``).
    """
    atpt = adlb["ATPT"].astype(str) if "ATPT" in adlb.columns else pd.Series("", index=adlb.index)
    lb = adlb.loc[(atpt == "") & adlb["AVAL"].notna()].copy()
    lb["_order"] = np.arange(len(lb))
    lb["ADY"] = _days(lb, start)
    day = lb["ADY"].to_numpy(dtype=float)
    best_visit = np.full(len(lb), -1)
    best_dist = np.full(len(lb), np.inf)
    best_target = np.full(len(lb), np.inf)
    for i, v in enumerate(visits):
        inside = (day >= v.window_low) & (day <= v.window_high)
        dist = np.abs(day - v.target_day)
        tie = (dist == best_dist) & (v.target_day < best_target)
        better = inside & ((dist < best_dist) | tie)
        best_visit = np.where(better, i, best_visit)
        best_dist = np.where(better, dist, best_dist)
        best_target = np.where(better, v.target_day, best_target)
    names = np.array([v.name for v in visits] + [""], dtype=object)
    nums = np.array([float(v.avisitn) for v in visits] + [np.nan])
    lb["AVISIT"] = names[best_visit]
    lb["AVISITN"] = nums[best_visit]
    lb["_dist"] = best_dist
    inside = best_visit >= 0
    when = lb["ADTM"] if "ADTM" in lb.columns else pd.Series(pd.NaT, index=lb.index)
    lb["_when"] = when
    order_by = ["USUBJID", "PARAMCD", "AVISITN", "_dist", "ADY", "_when", "_order"]
    ranked = lb.loc[inside, order_by].sort_values(order_by, kind="stable")
    chosen = ranked.groupby(["USUBJID", "PARAMCD", "AVISITN"], sort=False).head(1)["_order"]
    is_chosen = lb["_order"].isin(chosen).to_numpy()
    lb["ANL01FL"] = np.where(is_chosen, "Y", "")
    lb["WINREAS"] = np.select([~inside, ~is_chosen], [REASON_OUTSIDE, REASON_NOT_CHOSEN], "")
    lb["AVISIT"] = lb["AVISIT"].astype(str)
    return lb.drop(columns=["_order", "_dist", "_when"]).reset_index(drop=True)


def _event_dates(adsl: pd.DataFrame | None) -> pd.DataFrame:
    cols = ["USUBJID", "DTHDT", "LTXDT"]
    if adsl is None:
        return pd.DataFrame(columns=cols)
    sl = adsl[["USUBJID"]].copy()
    for date in ("DTHDT", "LTXDT"):
        sl[date] = pd.to_datetime(adsl[date]) if date in adsl.columns else pd.NaT
    return sl


def drop_after_transplant(
    adlb: pd.DataFrame, adsl: pd.DataFrame | None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split records into those analysed and those taken after a liver transplant.

    Records dated after the transplant date ``LTXDT`` are dropped; the transplant day itself is
    kept (the sample of that day is taken before surgery).

    Returns
    -------
    kept, dropped : DataFrame
        ``dropped`` has a ``REASON`` column (:data:`REASON_AFTER_TRANSPLANT`).
    """
    events = _event_dates(adsl)
    ltx = adlb[["USUBJID"]].merge(events[["USUBJID", "LTXDT"]], on="USUBJID", how="left")
    ltx.index = adlb.index
    date = pd.to_datetime(adlb["ADT"]) if "ADT" in adlb.columns else pd.Series(
        pd.NaT, index=adlb.index)
    if "ADTM" in adlb.columns:
        date = date.fillna(adlb["ADTM"].dt.normalize())
    after = (ltx["LTXDT"].notna() & date.notna() & (date > ltx["LTXDT"])).to_numpy()
    dropped = adlb.loc[after].copy()
    dropped["REASON"] = REASON_AFTER_TRANSPLANT
    # with nothing to drop, a (copy-on-write) copy is the same frame as selecting every row
    kept = adlb.loc[~after].copy() if after.any() else adlb.copy(deep=False)
    return kept, dropped


def missing_reason(
    adsl: pd.DataFrame | None,
    usubjid: str,
    visit: VisitLike,
    start: pd.DataFrame,
) -> str:
    """Why a subject has no analysable value at ``visit``.

    Death or transplant dated on or before the end of the visit window (study day
    ``window_high``) is named; otherwise :data:`REASON_NO_VALUE`. The earlier event wins, a
    transplant over a death on the same day.
    """
    if adsl is None:
        return REASON_NO_VALUE
    subject = adsl.loc[adsl["USUBJID"] == usubjid]
    first = start.loc[start["USUBJID"] == usubjid, "TRTSDT"]
    if subject.empty or first.empty:
        return REASON_NO_VALUE

    def date(column: str) -> pd.Timestamp:
        return pd.to_datetime(subject[column].iloc[0]) if column in subject.columns else pd.NaT

    return missing_reason_at(visit, first.iloc[0], date("DTHDT"), date("LTXDT"))


def missing_reason_at(
    visit: VisitLike,
    first_session: object,
    death: object = pd.NaT,
    transplant: object = pd.NaT,
) -> str:
    """:func:`missing_reason` from the subject's dates (first session, death, transplant)."""
    if pd.isna(first_session):
        return REASON_NO_VALUE
    high = int(visit.window_high)
    window_end = pd.Timestamp(first_session) + pd.Timedelta(
        days=high - 1 if high >= 1 else high)
    hits = []
    for when, reason in ((transplant, REASON_TRANSPLANT), (death, REASON_DEATH)):
        if pd.notna(when) and pd.Timestamp(when) <= window_end:
            hits.append((pd.Timestamp(when), reason != REASON_TRANSPLANT, reason))
    if not hits:
        return REASON_NO_VALUE
    return min(hits)[2]


def missing_reasons_at(
    visit: VisitLike,
    first_session: pd.Series,
    death: pd.Series,
    transplant: pd.Series,
) -> np.ndarray:
    """:func:`missing_reason_at` for many subjects at once.

    Parameters
    ----------
    visit : Visit
        The visit (its ``window_high`` ends the window).
    first_session, death, transplant : Series of datetime64
        Each subject's first-session date, death date and transplant date (NaT when none),
        aligned by position.

    Returns
    -------
    ndarray of str
        Per subject: :data:`REASON_TRANSPLANT` when the transplant falls on or before the end of
        the window and not after a death in it, else :data:`REASON_DEATH` when the death does,
        else :data:`REASON_NO_VALUE` (also when the first-session date is missing), the same
        rule as :func:`missing_reason_at`.
    """
    high = int(visit.window_high)
    window_end = (first_session + pd.Timedelta(days=high - 1 if high >= 1 else high)).to_numpy()
    when_death = death.to_numpy()
    when_transplant = transplant.to_numpy()
    # comparisons with NaT are False, so a missing date (or first session) never hits
    by_death = death.notna().to_numpy() & (when_death <= window_end)
    by_transplant = transplant.notna().to_numpy() & (when_transplant <= window_end)
    transplant_first = by_transplant & (~by_death | (when_transplant <= when_death))
    reasons = np.select([transplant_first, by_death], [REASON_TRANSPLANT, REASON_DEATH],
                        REASON_NO_VALUE)
    return reasons.astype(object)
