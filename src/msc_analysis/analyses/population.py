"""Section 14.1 analyses: subject disposition (DISP), analysis sets (ASETS), demographics (DEMO).

Each function takes subject-level data and returns ARD rows; the tables are built from those rows.
Percentages use the column's population N as denominator (stat ``N`` is written once per column).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from msc_analysis import stats
from msc_analysis.ard import ArdBuilder, to_frame

#: ADSL population flags behind the analysis sets, in reporting order.
SET_FLAGS: dict[str, str] = {"ENRL": "ENRLFL", "SAF": "SAFFL", "FAS": "FASFL", "PP": "PPROTFL"}

ALL = "All subjects"


def _columns(adsl: pd.DataFrame, by: str | None) -> list[tuple[str, pd.DataFrame]]:
    """Split subjects into report columns: one per level of ``by`` (sorted), or one for all."""
    if by is None:
        return [(ALL, adsl)]
    return [(str(level), part) for level, part in adsl.groupby(by, sort=True)]


def _flag(adsl: pd.DataFrame, name: str) -> pd.Series:
    if name not in adsl.columns:
        return pd.Series(False, index=adsl.index)
    return adsl[name].astype(str).str.upper().eq("Y")


def analysis_sets(adsl: pd.DataFrame, by: str | None = None) -> pd.DataFrame:
    """ASETS: number of subjects in each analysis set (enrolled, safety, full analysis, PP).

    Parameters
    ----------
    adsl : DataFrame
        Subject-level data with the population flags ENRLFL, SAFFL, FASFL, PPROTFL ("Y"/"N").
        A missing ENRLFL means every subject in ADSL is enrolled.
    by : str, optional
        Grouping variable giving one column per level.
    """
    b = ArdBuilder("ASETS")
    for level, part in _columns(adsl, by):
        enrolled = (_flag(part, "ENRLFL") if "ENRLFL" in part.columns
                    else pd.Series(True, index=part.index))
        n_enrolled = int(enrolled.sum())
        col = {by or "TRT": level}
        b.add("ENRLFL", "N", n_enrolled, groups=col)
        for code, flag in SET_FLAGS.items():
            n = n_enrolled if code == "ENRL" else int((_flag(part, flag) & enrolled).sum())
            b.add(flag, "n", n, variable_level=code, groups=col)
            b.add(flag, "pct", _pct(n, n_enrolled), variable_level=code, groups=col)
    return b.frame()


def disposition(adsl: pd.DataFrame, by: str | None = None) -> pd.DataFrame:
    """DISP: enrolled, treated, completed, discontinued (with reasons), died, transplanted, ongoing.

    Percentages are of enrolled subjects. Status variables: SAFFL (treated = at least one session
    started), EOSSTT (COMPLETED / DISCONTINUED / ONGOING), DCSREAS, DTHFL, LTXFL.
    """
    b = ArdBuilder("DISP")
    for level, part in _columns(adsl, by):
        col = {by or "TRT": level}
        n_all = len(part)
        b.add("USUBJID", "N", n_all, groups=col)
        status = part.get("EOSSTT", pd.Series("", index=part.index)).astype(str)
        counts = {
            "Enrolled": n_all,
            "Treated (at least one session started)": int(_flag(part, "SAFFL").sum()),
            "Completed the study": int(status.eq("COMPLETED").sum()),
            "Discontinued the study": int(status.eq("DISCONTINUED").sum()),
            "Ongoing": int(status.eq("ONGOING").sum()),
            "Died": int(_flag(part, "DTHFL").sum()),
            "Received a liver transplant": int(_flag(part, "LTXFL").sum()),
        }
        for label, n in counts.items():
            b.add("STATUS", "n", n, variable_level=label, groups=col)
            b.add("STATUS", "pct", _pct(n, n_all), variable_level=label, groups=col)
        reasons = part.loc[status.eq("DISCONTINUED"), "DCSREAS"] if "DCSREAS" in part else None
        if reasons is not None:
            reasons = reasons.astype(str).replace("", "Not recorded")
            for reason, n in sorted(reasons.value_counts().items()):
                b.add("DCSREAS", "n", int(n), variable_level=reason, groups=col)
                b.add("DCSREAS", "pct", _pct(int(n), n_all), variable_level=reason, groups=col)
    return b.frame()


def demographics(
    adsl: pd.DataFrame,
    baseline_labs: pd.DataFrame | None = None,
    *,
    continuous: Sequence[str] = ("AGE", "MELDSCR"),
    categorical: Sequence[str] = ("SEX", "ETIOL", "LFTYPE", "HEGRBL"),
    log_params: Mapping[str, bool] | None = None,
    by: str | None = None,
) -> pd.DataFrame:
    """DEMO: demographic and baseline characteristics.

    Parameters
    ----------
    adsl : DataFrame
        The subjects of the population (already restricted to it).
    baseline_labs : DataFrame, optional
        One row per subject and parameter with USUBJID, PARAMCD and BASE (the baseline value).
    continuous, categorical : sequence of str
        ADSL variables summarised; absent ones are skipped.
    log_params : mapping, optional
        PARAMCD -> whether the parameter is analysed on the log scale (adds geo_mean, geo_cv).
    by : str, optional
        Grouping variable giving one column per level.
    """
    b = ArdBuilder("DEMO")
    log_params = dict(log_params or {})
    for level, part in _columns(adsl, by):
        col = {by or "TRT": level}
        b.add("USUBJID", "N", len(part), groups=col)
        for var in continuous:
            if var in part.columns:
                values = pd.to_numeric(part[var], errors="coerce").to_numpy(float)
                b.add_many(var, stats.describe(values), groups=col)
        for var in categorical:
            if var in part.columns:
                _add_categorical(b, part[var], var, len(part), col)
        if baseline_labs is not None and not baseline_labs.empty:
            labs = baseline_labs[baseline_labs["USUBJID"].isin(part["USUBJID"])]
            for paramcd, rows in labs.groupby("PARAMCD", sort=True):
                values = pd.to_numeric(rows["BASE"], errors="coerce").to_numpy(float)
                summary = stats.describe(values, log=log_params.get(str(paramcd), False))
                # subjects of the column with no baseline value count as missing too
                summary["n_missing"] = len(part) - int(np.isfinite(values).sum())
                b.add_many("BASE", summary, groups={**col, "PARAMCD": paramcd})
    return b.frame()


def _add_categorical(
    b: ArdBuilder, values: pd.Series, var: str, n_total: int, col: Mapping[str, object]
) -> None:
    text = values.map(_level_text)
    for level, n in sorted(text.value_counts().items(), key=lambda kv: str(kv[0])):
        b.add(var, "n", int(n), variable_level=level, groups=col)
        b.add(var, "pct", _pct(int(n), n_total), variable_level=level, groups=col)


def _level_text(value: object) -> str:
    """A category level as text: whole numbers without ``.0``; missing as ``Missing``."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value == "":
        return "Missing"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _pct(n: int, total: int) -> float:
    return float("nan") if total == 0 else 100.0 * n / total


def empty() -> pd.DataFrame:
    """An ARD frame with no rows (for callers that skip an analysis)."""
    return to_frame([])
