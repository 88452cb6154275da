"""Pre/post pairs of each purification session.

One row per subject, parameter and session: the value before (``ATPT = "PRE"``) and after
(``ATPT = "POST"``) the session, with

* ``CHG = POST - PRE``,
* ``PCHG = 100 * (POST - PRE) / PRE``,
* ``RR = (PRE - POST) / PRE`` (the reduction ratio; positive when the session lowered the value).

Rules: when a session has several non-missing pre samples the **last** one is used, when it has
several post samples the **first** one (the ones closest to the session). Sessions known from ADEX
with no sample at all still get a row, so that the analysis can count them. A pair that cannot be
formed keeps its row with ``REASON`` saying why (``"no pre-session value"``, ``"no post-session
value"``, ``"no pre- or post-session value"``, followed by ``" (session stopped)"`` or
``" (session interrupted)"`` when ADEX ``SESSSTAT`` says so); ``RR`` and ``PCHG`` are missing
when ``PRE`` is 0.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["REASON_NO_POST", "REASON_NO_PRE", "REASON_NO_SAMPLES", "derive_session_pairs"]

REASON_NO_PRE = "no pre-session value"
REASON_NO_POST = "no post-session value"
REASON_NO_SAMPLES = "no pre- or post-session value"

_COLUMNS = ("USUBJID", "PARAMCD", "SESSNUM", "PRE", "POST", "CHG", "PCHG", "RR",
            "PREDTM", "POSTDTM", "REASON")


def _pick(lb: pd.DataFrame, atpt: str, last: bool) -> pd.DataFrame:
    rows = lb.loc[(lb["ATPT"] == atpt) & lb["AVAL"].notna()]
    rows = rows.sort_values(["USUBJID", "PARAMCD", "SESSNUM", "_when", "_order"], kind="stable")
    grouped = rows.groupby(["USUBJID", "PARAMCD", "SESSNUM"], sort=False)
    chosen = grouped.tail(1) if last else grouped.head(1)
    name = "PRE" if atpt == "PRE" else "POST"
    return chosen[["USUBJID", "PARAMCD", "SESSNUM", "AVAL", "_when"]].rename(
        columns={"AVAL": name, "_when": f"{name}DTM"})


def derive_session_pairs(
    adlb: pd.DataFrame,
    parameters: Sequence[str],
    adex: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Pair the pre- and post-session values of each session.

    Parameters
    ----------
    adlb : DataFrame
        Laboratory records with ``USUBJID``, ``PARAMCD``, ``AVAL``, ``ATPT``, ``SESSNUM`` and
        ``ADTM`` (values already LLOQ-substituted if wanted).
    parameters : sequence of str
        Parameter codes to pair; other parameters are ignored.
    adex : DataFrame, optional
        Sessions (``USUBJID``, ``SESSNUM``); sessions listed here without samples get a row.

    Returns
    -------
    DataFrame
        Columns ``USUBJID, PARAMCD, SESSNUM, PRE, POST, CHG, PCHG, RR, PREDTM, POSTDTM, REASON``
        sorted by subject, parameter and session; ``REASON`` is ``""`` for a complete pair.
    """
    params = list(dict.fromkeys(parameters))
    # only the variables read are carried through the filters and sorts below
    read = [c for c in ("USUBJID", "PARAMCD", "AVAL", "ATPT", "SESSNUM", "ADTM", "ADT")
            if c in adlb.columns]
    lb = adlb.loc[adlb["PARAMCD"].isin(params), read].copy()
    lb["_order"] = np.arange(len(lb))
    if "ATPT" not in lb.columns:
        lb["ATPT"] = ""
    lb["ATPT"] = lb["ATPT"].astype(str).str.upper()
    if "SESSNUM" not in lb.columns:
        lb["SESSNUM"] = np.nan
    lb = lb.loc[lb["SESSNUM"].notna() & lb["ATPT"].isin(["PRE", "POST"])]
    when = lb["ADTM"] if "ADTM" in lb.columns else pd.Series(pd.NaT, index=lb.index)
    if "ADT" in lb.columns:
        when = when.fillna(pd.to_datetime(lb["ADT"]))
    lb["_when"] = when
    lb["SESSNUM"] = lb["SESSNUM"].astype(int)

    keys = lb[["USUBJID", "SESSNUM"]].drop_duplicates()
    if adex is not None and len(adex) and "SESSNUM" in adex.columns:
        ex = adex.loc[adex["SESSNUM"].notna(), ["USUBJID", "SESSNUM"]].astype({"SESSNUM": int})
        keys = pd.concat([keys, ex], ignore_index=True).drop_duplicates()
    grid = keys.merge(pd.DataFrame({"PARAMCD": params}), how="cross")
    # A subject with no sample at all of a parameter gets rows only if ADEX lists sessions.
    pre = _pick(lb, "PRE", last=True)
    post = _pick(lb, "POST", last=False)
    out = grid.merge(pre, on=["USUBJID", "PARAMCD", "SESSNUM"], how="left")
    out = out.merge(post, on=["USUBJID", "PARAMCD", "SESSNUM"], how="left")
    out["PRE"] = out["PRE"].astype(float)
    out["POST"] = out["POST"].astype(float)
    out["CHG"] = out["POST"] - out["PRE"]
    nonzero = out["PRE"] != 0
    with np.errstate(divide="ignore", invalid="ignore"):
        out["PCHG"] = (100.0 * out["CHG"] / out["PRE"]).where(nonzero)
        out["RR"] = ((out["PRE"] - out["POST"]) / out["PRE"]).where(nonzero)
    has_pre = out["PRE"].notna()
    has_post = out["POST"].notna()
    out["REASON"] = np.select(
        [~has_pre & ~has_post, ~has_pre, ~has_post],
        [REASON_NO_SAMPLES, REASON_NO_PRE, REASON_NO_POST],
        default="",
    )
    if adex is not None and "SESSSTAT" in adex.columns:
        status = adex[["USUBJID", "SESSNUM", "SESSSTAT"]].dropna(subset=["SESSNUM"])
        status = status.astype({"SESSNUM": int}).drop_duplicates(["USUBJID", "SESSNUM"])
        out = out.merge(status, on=["USUBJID", "SESSNUM"], how="left")
        stat = out["SESSSTAT"].fillna("").astype(str).str.upper()
        note = (out["REASON"] != "") & ~stat.isin(["", "COMPLETED"])
        out.loc[note, "REASON"] = (out.loc[note, "REASON"] + " (session "
                                   + stat[note].str.lower() + ")")
    order = {p: i for i, p in enumerate(params)}
    out["_p"] = out["PARAMCD"].map(order)
    out = out.sort_values(["_p", "USUBJID", "SESSNUM"], kind="stable").drop(columns="_p")
    return out[list(_COLUMNS)].reset_index(drop=True)
