"""Safety listings (ICH E3 16.2.7 and 16.2.8) as tidy frames, one row per record.

Listings carry no statistics and no ARD rows: each function returns the records, sorted by
group, subject and date, one column per variable (ADaM names; the group column is named by
:func:`group_column`). The renderer (:func:`msc_analysis.render.safety_tables.listing_table`)
writes these records as the listing's CSV and shows them with readable headers, the subject
as row label and related variables stacked in one column.

A missing relationship to the device, MSCs or procedure reads ``"missing"`` in ``RELATION``
(e.g. ``"AERELDEV: missing; AERELMSC: NOT RELATED"``).

- L16.2.7.1 :func:`listing_serious_aes` -- serious adverse events (all, with ``TRTEMFL``);
- L16.2.7.2 :func:`listing_deaths` -- deaths (ADSL ``DTHFL`` / ``DTHDT``, and fatal AEs);
- L16.2.7.3 :func:`listing_ae_stop` -- AEs leading to a session being stopped or to
  discontinuation of the sessions;
- L16.2.8.1 :func:`listing_lab_grade3` -- post-baseline laboratory values of CTCAE grade >= 3.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from msc_analysis.analyses.safety_data import GROUP, SafetyData, as_safety_data
from msc_analysis.io.issues import DataIssues

__all__ = [
    "LISTINGS",
    "group_column",
    "listing_ae_stop",
    "listing_deaths",
    "listing_lab_grade3",
    "listing_serious_aes",
]

_AE_COLUMNS = ("USUBJID", GROUP, "AESEQ", "AEBODSYS", "AEDECOD", "AETERM", "ASTDT", "AENDT",
               "AGRADEN", "SERCRIT", "RELATION", "AEACN", "AEOUT", "TRTEMFL")


def group_column(by: str | None) -> str:
    """Name of the group column of a listing run with grouping variable ``by``: ``by`` itself,
    or ``"Group"`` when the analysis is not grouped."""
    return by or "Group"


def _ae_frame(data: object) -> pd.DataFrame:
    ae = data.ae  # type: ignore[attr-defined]
    if ae is None:
        return pd.DataFrame(columns=list(_AE_COLUMNS))
    frame = ae.frame.copy()
    crit = [v for v in ae.seriousness_vars]
    frame["SERCRIT"] = _join_flagged(
        crit, [_as_text(frame[f"SER_{v}"]) == "Y" for v in crit]) if crit else ""
    rel = list(ae.relationship_vars)
    frame["RELATION"] = _join_texts(
        [_as_text(frame[v], lambda x, v=v: f"{v}: {x or 'missing'}") for v in rel]
    ) if rel else ""
    for col in _AE_COLUMNS:
        if col not in frame.columns:
            frame[col] = ""
    return frame


def _text(value: object) -> str:
    """A value as text; a missing value (None, NaN, NaT, NA) as ``""``."""
    return "" if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)) \
        else str(value)


def _as_text(values: pd.Series, how: Callable[[str], str] = lambda x: x) -> np.ndarray:
    """``how(text)`` of each value (object array), the text of a missing value being ``""``
    (so ``how`` sees no ``"nan"``), computed once per distinct value of a text column (other
    columns value by value)."""
    if isinstance(values.dtype, pd.StringDtype):
        codes, distinct = pd.factorize(values, use_na_sentinel=False)
        return np.array([how(_text(x)) for x in distinct], dtype=object)[codes]
    return np.array([how(_text(x)) for x in values], dtype=object)


def _join_flagged(names: list[str], flags: list[np.ndarray]) -> list[str]:
    """For each record, ``"; ".join`` of the ``names`` whose flag is set."""
    pattern = np.zeros(len(flags[0]), dtype=np.int64)
    for i, flag in enumerate(flags):
        pattern |= flag.astype(np.int64) << i
    distinct, codes = np.unique(pattern, return_inverse=True)
    texts = np.array(["; ".join(v for i, v in enumerate(names) if int(p) >> i & 1)
                      for p in distinct], dtype=object)
    return texts[codes.reshape(-1)].tolist()


def _join_texts(parts: list[np.ndarray]) -> list[str]:
    """For each record, ``"; ".join`` of its texts in ``parts`` (object arrays)."""
    joined = parts[0]
    for part in parts[1:]:
        joined = joined + "; " + part
    return list(joined)


def _finish(frame: pd.DataFrame, columns: tuple[str, ...], by: str | None,
            sort: list[str]) -> pd.DataFrame:
    out = frame.loc[:, list(columns)].sort_values(sort, kind="stable").reset_index(drop=True)
    return out.rename(columns={GROUP: group_column(by)})


def _flagged_aes(data: SafetyData, flag: str) -> pd.DataFrame:
    """The AE listing columns of the AEs whose derived ``flag`` is ``"Y"``."""
    ae = _ae_frame(data)
    chosen = ae.loc[ae.get(flag, pd.Series("", index=ae.index)) == "Y"]
    return _finish(chosen, _AE_COLUMNS, data.by, [GROUP, "USUBJID", "ASTDT", "AESEQ"])


def listing_serious_aes(study: object, sap: object = None, issues: DataIssues | None = None,
                        by: str | None = None) -> pd.DataFrame:
    """L16.2.7.1: serious adverse events."""
    return _flagged_aes(as_safety_data(study, sap, issues, by), "SERFL")


def listing_ae_stop(study: object, sap: object = None, issues: DataIssues | None = None,
                    by: str | None = None) -> pd.DataFrame:
    """L16.2.7.3: AEs leading to a session stopped or sessions discontinued."""
    return _flagged_aes(as_safety_data(study, sap, issues, by), "STOPFL")


def listing_deaths(study: object, sap: object = None, issues: DataIssues | None = None,
                   by: str | None = None) -> pd.DataFrame:
    """L16.2.7.2: deaths, from ADSL (``DTHFL = "Y"`` or a death date) and fatal AEs.

    Columns: subject, group, death date, study day of death relative to the first session
    (day 1 = first session), the fatal AE(s) and whether they were treatment-emergent.
    """
    data = as_safety_data(study, sap, issues, by)
    sl = data.adsl
    dthfl = sl["DTHFL"].astype(str).str.strip().str.upper() == "Y" if "DTHFL" in sl.columns \
        else pd.Series(False, index=sl.index)
    dthdt = pd.to_datetime(sl["DTHDT"]) if "DTHDT" in sl.columns else pd.Series(
        pd.NaT, index=sl.index)
    ae = _ae_frame(data)
    fatal = ae.loc[ae.get("FATALFL", pd.Series("", index=ae.index)) == "Y"]
    subjects = set(sl.loc[dthfl | dthdt.notna(), "USUBJID"]) | set(fatal["USUBJID"])
    # Each subject's first ADSL record and fatal AEs, located once (not by a scan per subject).
    first_row = {s: int(rows[0]) for s, rows in sl.groupby("USUBJID", sort=False).indices.items()}
    group = sl[GROUP].tolist()
    death = sl["DTHDT"].tolist() if "DTHDT" in sl.columns else None
    first_session = sl["TRTSDT"].tolist() if "TRTSDT" in sl.columns else None
    fatal_rows = fatal.groupby("USUBJID", sort=False).indices if len(fatal) else {}
    fatal_terms = fatal["AEDECOD"].astype(str).tolist()
    fatal_emergent = fatal["TRTEMFL"].astype(str).replace("", "N").tolist()
    rows = []
    for subj in sorted(subjects):
        at = first_row[subj]
        f = fatal_rows.get(subj, ())
        date = pd.to_datetime(death[at]) if death is not None else pd.NaT
        start = pd.to_datetime(first_session[at]) if first_session is not None else pd.NaT
        day = (date - start).days + 1 if pd.notna(date) and pd.notna(start) else np.nan
        rows.append({
            "USUBJID": subj,
            GROUP: group[at],
            "DTHDT": date,
            "DTHDY": day,
            "FATAL_AE": "; ".join(fatal_terms[i] for i in f),
            "TRTEMFL": "; ".join(fatal_emergent[i] for i in f),
        })
    frame = pd.DataFrame(rows, columns=["USUBJID", GROUP, "DTHDT", "DTHDY", "FATAL_AE",
                                        "TRTEMFL"])
    return _finish(frame, tuple(frame.columns), data.by, [GROUP, "USUBJID"])


def listing_lab_grade3(study: object, sap: object = None, issues: DataIssues | None = None,
                       by: str | None = None) -> pd.DataFrame:
    """L16.2.8.1: post-baseline laboratory values of CTCAE grade >= 3 (SAP grade basis)."""
    data = as_safety_data(study, sap, issues, by)
    columns = ("USUBJID", GROUP, "PARAMCD", "AVISIT", "ATPT", "ADTM", "ADT", "AVAL", "AVALU",
               "LLN", "ULN", "BASE", "ATOXTERM", "ATOXGRN", "BTOXGRN", "ATOXGRNR")
    if data.lab is None:
        return pd.DataFrame(columns=[group_column(data.by) if c == GROUP else c
                                     for c in columns])
    lab = data.lab
    sel = lab.loc[((lab["POSTFL"] == "Y") & (lab["ATOXGRN"] >= 3)).to_numpy(),
                  [c for c in columns if c in lab.columns]]
    for col in columns:
        if col not in sel.columns:
            sel[col] = ""
    when = "ADTM" if "ADTM" in lab.columns else "ADT"
    return _finish(sel, columns, data.by, [GROUP, "USUBJID", "PARAMCD", when])


#: Listing number -> (function, title).
LISTINGS = {
    "16.2.7.1": (listing_serious_aes, "Serious Adverse Events"),
    "16.2.7.2": (listing_deaths, "Deaths"),
    "16.2.7.3": (listing_ae_stop, "Adverse Events Leading to Stopping of Sessions"),
    "16.2.8.1": (listing_lab_grade3, "Laboratory Values of CTCAE Grade 3 or Higher"),
}
