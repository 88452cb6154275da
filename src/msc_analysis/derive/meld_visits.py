"""MELD, MELD-Na and MELD 3.0 at baseline and at each analysis visit.

The scores are computed with :mod:`msc_analysis.derive.meld` (OPTN rounding, bounded to 6-40) from
values derived elsewhere: each component's baseline
(:func:`msc_analysis.derive.baseline.derive_baseline`) and the values analysed in each visit window
(:func:`msc_analysis.derive.visits.assign_visit_windows`, ``ANL01FL = "Y"``). No dialysis
information is collected in this trial, so the dialysis rule of the formulas is not applied.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from msc_analysis.derive import meld as meld_mod
from msc_analysis.derive.baseline import derive_change
from msc_analysis.errors import AnalysisError

__all__ = ["MELD_COMPONENTS", "MELD_SCORES", "meld_by_visit"]

#: Score code -> laboratory parameters the score needs.
MELD_COMPONENTS: dict[str, tuple[str, ...]] = {
    "MELD": ("TBIL", "INR", "CREAT"),
    "MELDNA": ("TBIL", "INR", "CREAT", "SODIUM"),
    "MELD3": ("TBIL", "INR", "CREAT", "SODIUM", "ALB"),
}
#: Score codes known to :func:`meld_by_visit`.
MELD_SCORES: tuple[str, ...] = tuple(MELD_COMPONENTS)


def _score(code: str, values: pd.DataFrame, female: pd.Series) -> np.ndarray:
    col = {p: values[p].to_numpy(dtype=float) if p in values.columns
           else np.full(len(values), np.nan) for p in MELD_COMPONENTS["MELD3"]}
    if code == "MELD":
        out = meld_mod.meld(col["TBIL"], col["INR"], col["CREAT"])
    elif code == "MELDNA":
        out = meld_mod.meld_na(col["TBIL"], col["INR"], col["CREAT"], col["SODIUM"])
    else:
        out = meld_mod.meld_3(col["TBIL"], col["INR"], col["CREAT"], col["SODIUM"], col["ALB"],
                              female.to_numpy(dtype=bool))
    return np.atleast_1d(np.asarray(out, dtype=float))


def _missing_components(values: pd.DataFrame, needed: Sequence[str]) -> list[str]:
    """Per row, the comma-separated components of ``needed`` that are absent or missing.

    Each row's pattern of missing components is coded as a bit mask, and each distinct mask is
    spelt out once.
    """
    mask = np.zeros(len(values), dtype=np.int64)
    for bit, p in enumerate(needed):
        absent = (values[p].isna().to_numpy(dtype=bool) if p in values.columns
                  else np.ones(len(values), dtype=bool))
        mask |= absent.astype(np.int64) << bit
    text = {int(m): ",".join(p for bit, p in enumerate(needed) if (int(m) >> bit) & 1)
            for m in np.unique(mask)}
    return [text[m] for m in mask.tolist()]


def meld_by_visit(
    subjects: Sequence[str],
    adsl: pd.DataFrame,
    base: pd.DataFrame,
    windows: pd.DataFrame,
    scores: Sequence[str],
    visits: Sequence[str],
    *,
    baseline: str = "Baseline",
) -> pd.DataFrame:
    """MELD scores at baseline and at each analysis visit, with change from baseline.

    Parameters
    ----------
    subjects : sequence of str
        Subjects to score (one row each per score and time point).
    adsl : DataFrame
        ``USUBJID`` and ``SEX`` (``F`` adds the MELD 3.0 female term).
    base : DataFrame
        Baselines: ``USUBJID``, ``PARAMCD``, ``BASE``.
    windows : DataFrame
        Windowed scheduled samples: ``USUBJID``, ``PARAMCD``, ``AVISIT``, ``AVAL``, ``ANL01FL``.
    scores : sequence of str
        Score codes (``MELD``, ``MELDNA``, ``MELD3``).
    visits : sequence of str
        Visit names to score besides baseline.
    baseline : str
        ``AVISIT`` label of the baseline rows.

    At baseline the components are each parameter's derived baseline; at a visit, the values
    analysed in that visit's window (``ANL01FL = "Y"``). A score with a missing component is
    missing, and ``MISSING`` names the absent components. The formulas are those of
    :mod:`msc_analysis.derive.meld` with the OPTN rounding and the 6-40 bounds; no dialysis
    information is collected, so the dialysis rule is not applied.

    Returns
    -------
    DataFrame
        ``USUBJID, PARAMCD, AVISIT, AVAL, BASE, CHG, PCHG, MISSING`` for every subject, score
        and time point (``AVISIT`` ``baseline`` or a visit name).

    Raises
    ------
    AnalysisError
        For a score code without a formula.
    """
    unknown = [s for s in scores if s not in MELD_COMPONENTS]
    if unknown:
        raise AnalysisError(f"no MELD formula for score parameter(s) {unknown}; "
                            f"known: {list(MELD_SCORES)}")
    columns = ["USUBJID", "PARAMCD", "AVISIT", "AVAL", "BASE", "CHG", "PCHG", "MISSING"]
    if not len(subjects):  # e.g. no subject treated by an early cut-off
        return pd.DataFrame(columns=columns)
    frame = pd.DataFrame({"USUBJID": list(subjects)})
    sex = adsl.set_index("USUBJID")["SEX"] if "SEX" in adsl.columns else pd.Series(dtype=str)
    female = frame["USUBJID"].map(sex).astype(str).str.upper().eq("F")
    base_wide = base.pivot(index="USUBJID", columns="PARAMCD", values="BASE")
    chosen = windows.loc[windows["ANL01FL"] == "Y"]
    frames: list[pd.DataFrame] = []
    points = [(baseline, base_wide)]
    for v in visits:
        at = chosen.loc[chosen["AVISIT"] == v]
        points.append((v, at.pivot(index="USUBJID", columns="PARAMCD", values="AVAL")))
    for code in scores:
        needed = MELD_COMPONENTS[code]
        for visit, wide in points:
            values = frame.join(wide, on="USUBJID")
            missing = _missing_components(values, needed)
            frames.append(pd.DataFrame({
                "USUBJID": frame["USUBJID"], "PARAMCD": code, "AVISIT": visit,
                "AVAL": _score(code, values, female), "MISSING": missing,
            }))
    out = pd.concat(frames, ignore_index=True)
    first = out.loc[out["AVISIT"] == baseline, ["USUBJID", "PARAMCD", "AVAL"]].rename(
        columns={"AVAL": "BASE"})
    out = out.merge(first, on=["USUBJID", "PARAMCD"], how="left")
    out = derive_change(out)
    out.loc[out["AVISIT"] == baseline, ["CHG", "PCHG"]] = np.nan
    return out[columns]
