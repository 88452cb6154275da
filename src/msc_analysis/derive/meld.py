"""MELD, MELD-Na and MELD 3.0 scores from SI laboratory values.

Pure, vectorised functions (scalars or array-likes in, float or ``numpy.ndarray`` out) following
the clinical brief, section 1, which cites the OPTN policy as coded in the SAS macro
``meld.sas`` of CU-Anschutz-DOS-CORP/sas-macros [S3] and Kim et al. 2021 [S5]:

* MELD (original, UNOS "MELD(i)")::

      MELD = 10 * round(0.957 ln(creat) + 0.378 ln(bili) + 1.120 ln(INR) + 0.643, 0.1)

  with bilirubin, INR and creatinine below 1.0 set to 1.0, creatinine capped at 4.0 mg/dL and set
  to 4.0 when the dialysis rule is met.
* MELD-Na (OPTN 2016-2023)::

      MELD-Na = round(MELD + 1.32 (137 - Na) - 0.033 MELD (137 - Na))

  using the *rounded* MELD (as the SAS macro does), sodium bounded to 125-137 mmol/L; OPTN
  applied the sodium term only when MELD > 11 (``sodium_threshold=True``, the default).
* MELD 3.0 (OPTN from 13 July 2023)::

      1.33 female + 4.56 ln(bili) + 0.82 (137 - Na) - 0.24 (137 - Na) ln(bili)
      + 9.09 ln(INR) + 11.14 ln(creat) + 1.85 (3.5 - alb) - 1.83 (3.5 - alb) ln(creat) + 6

  rounded to an integer, creatinine capped at 3.0 mg/dL (3.0 with dialysis), albumin bounded to
  1.5-3.5 g/dL, sodium to 125-137 mmol/L. The female term applies to adults (this trial enrols
  18-65 year olds only).

Inputs are in the SI units of the trial's data (bilirubin and creatinine in umol/L, albumin in
g/L); they are converted to the conventional units of the formulas with the brief's factors
(bilirubin 17.1, creatinine 88.4, albumin 10). Rounding is half away from zero (SAS ``round``).
``cap=True`` bounds each score to 6-40 as OPTN allocation does; ``rounded=False`` returns the
unrounded score (the bracketed MELD sum times 10 without rounding) for sensitivity work.
Missing inputs (NaN) give NaN.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from msc_analysis.rounding import round_half_away_array

#: umol/L per mg/dL of bilirubin (brief section 1.4).
BILIRUBIN_UMOL_PER_MG_DL = 17.1
#: umol/L per mg/dL of creatinine (brief section 1.4).
CREATININE_UMOL_PER_MG_DL = 88.4
#: g/L per g/dL of albumin (brief section 1.4).
ALBUMIN_G_L_PER_G_DL = 10.0

FloatOrArray = float | NDArray[np.float64]


def round_half_away(x: ArrayLike, decimals: int = 0) -> NDArray[np.float64]:
    """Round half away from zero, as SAS ``round`` does (the package's one rule,
    :func:`msc_analysis.rounding.round_half_away_array`); NaN stays NaN."""
    return round_half_away_array(x, decimals)


def _out(values: NDArray[np.float64]) -> FloatOrArray:
    return float(values) if values.ndim == 0 else values


def _cap(values: NDArray[np.float64], cap: bool) -> NDArray[np.float64]:
    return np.clip(values, 6.0, 40.0) if cap else values


def _meld_inputs(
    bilirubin: ArrayLike, inr: ArrayLike, creatinine: ArrayLike, dialysis: ArrayLike,
    creat_cap: float,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    bili = np.maximum(np.asarray(bilirubin, dtype=float) / BILIRUBIN_UMOL_PER_MG_DL, 1.0)
    inr_b = np.maximum(np.asarray(inr, dtype=float), 1.0)
    creat = np.asarray(creatinine, dtype=float) / CREATININE_UMOL_PER_MG_DL
    dial = np.asarray(dialysis, dtype=bool)
    creat_b = np.where(dial | (creat > creat_cap), creat_cap, np.maximum(creat, 1.0))
    creat_b = np.where(np.isnan(creat), np.nan, creat_b)
    return bili, inr_b, creat_b


def meld(
    bilirubin: ArrayLike,
    inr: ArrayLike,
    creatinine: ArrayLike,
    dialysis: ArrayLike = False,
    *,
    rounded: bool = True,
    cap: bool = True,
) -> FloatOrArray:
    """Original MELD score (OPTN "MELD(i)").

    Parameters
    ----------
    bilirubin : array_like
        Total bilirubin in umol/L.
    inr : array_like
        Prothrombin INR.
    creatinine : array_like
        Serum creatinine in umol/L.
    dialysis : array_like of bool
        Two or more dialysis treatments in the 7 days before the creatinine test, or 24 h of
        CVVHD: creatinine is then set to 4.0 mg/dL.
    rounded : bool
        Round the bracketed sum to 0.1 before multiplying by 10 (OPTN); ``False`` gives the
        unrounded score.
    cap : bool
        Bound the score to 6-40.

    Returns
    -------
    float or numpy.ndarray
        The score.

    Examples
    --------
    The brief's worked check (TBil 300 umol/L, INR 2.0, creatinine 80 umol/L):

    >>> meld(300, 2.0, 80)
    25.0
    """
    bili, inr_b, creat = _meld_inputs(bilirubin, inr, creatinine, dialysis, 4.0)
    inner = 0.957 * np.log(creat) + 0.378 * np.log(bili) + 1.120 * np.log(inr_b) + 0.643
    score = round_half_away(inner, 1) * 10 if rounded else inner * 10
    return _out(_cap(score, cap))


def meld_na(
    bilirubin: ArrayLike,
    inr: ArrayLike,
    creatinine: ArrayLike,
    sodium: ArrayLike,
    dialysis: ArrayLike = False,
    *,
    rounded: bool = True,
    cap: bool = True,
    sodium_threshold: bool = True,
) -> FloatOrArray:
    """MELD-Na score (OPTN, January 2016 - July 2023).

    Parameters
    ----------
    bilirubin, inr, creatinine, dialysis
        As for :func:`meld` (SI units).
    sodium : array_like
        Serum sodium in mmol/L, bounded to 125-137.
    rounded : bool
        Use the rounded MELD and round the result to an integer (OPTN); ``False`` uses the
        unrounded MELD and does not round.
    cap : bool
        Bound the score to 6-40.
    sodium_threshold : bool
        Apply the sodium term only when MELD > 11 (OPTN policy); ``False`` always applies it.

    Returns
    -------
    float or numpy.ndarray
        The score.

    Examples
    --------
    >>> meld_na(300, 2.0, 80, 130)
    28.0
    """
    base = np.asarray(meld(bilirubin, inr, creatinine, dialysis, rounded=rounded, cap=False))
    na = np.clip(np.asarray(sodium, dtype=float), 125.0, 137.0)
    raw = base + 1.32 * (137 - na) - 0.033 * base * (137 - na)
    score = round_half_away(raw) if rounded else raw
    if sodium_threshold:
        score = np.where(base > 11, score, base)
    return _out(_cap(np.asarray(score, dtype=float), cap))


def meld_3(
    bilirubin: ArrayLike,
    inr: ArrayLike,
    creatinine: ArrayLike,
    sodium: ArrayLike,
    albumin: ArrayLike,
    female: ArrayLike,
    dialysis: ArrayLike = False,
    *,
    rounded: bool = True,
    cap: bool = True,
) -> FloatOrArray:
    """MELD 3.0 score (Kim et al. 2021; OPTN from 13 July 2023), for adults.

    Parameters
    ----------
    bilirubin, inr, creatinine, dialysis
        As for :func:`meld` (SI units); creatinine is capped at 3.0 mg/dL here.
    sodium : array_like
        Serum sodium in mmol/L, bounded to 125-137.
    albumin : array_like
        Serum albumin in g/L, bounded to 15-35 g/L (1.5-3.5 g/dL).
    female : array_like of bool
        Female sex (adds 1.33).
    rounded : bool
        Round to an integer.
    cap : bool
        Bound the score to 6-40 (OPTN reporting; Kim et al. impose no cap).

    Returns
    -------
    float or numpy.ndarray
        The score.

    Examples
    --------
    >>> meld_3(300, 2.0, 80, 130, 30, True)
    29.0
    """
    bili, inr_b, creat = _meld_inputs(bilirubin, inr, creatinine, dialysis, 3.0)
    na = np.clip(np.asarray(sodium, dtype=float), 125.0, 137.0)
    alb = np.clip(np.asarray(albumin, dtype=float) / ALBUMIN_G_L_PER_G_DL, 1.5, 3.5)
    fem = np.asarray(female, dtype=float)
    raw = (
        1.33 * fem
        + 4.56 * np.log(bili)
        + 0.82 * (137 - na)
        - 0.24 * (137 - na) * np.log(bili)
        + 9.09 * np.log(inr_b)
        + 11.14 * np.log(creat)
        + 1.85 * (3.5 - alb)
        - 1.83 * (3.5 - alb) * np.log(creat)
        + 6
    )
    score = round_half_away(raw) if rounded else raw
    return _out(_cap(np.asarray(score, dtype=float), cap))
