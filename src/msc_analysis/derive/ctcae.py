"""CTCAE v5.0 grades of laboratory values, from a criteria table kept as data.

The criteria live in ``ctcae_v5_lab_criteria.csv`` beside this module, one row per CTCAE term,
baseline condition and grade, transcribed from the NCI CTCAE v5.0 spreadsheet
(``CTCAE_v5.0_2017-11-27.xlsx``) and cross-checked against the machine-readable copy kept by
the pharmaverse *admiral* package (``data-raw/adlb_grading/ncictcaev5.json``). Columns:

``term``
    CTCAE term (``Blood bilirubin increased``).
``direction``
    ``high`` (an increase is toxic) or ``low`` (a decrease is).
``baseline``
    Which subjects the row applies to: ``any``, ``normal`` (baseline within the normal range)
    or ``abnormal`` (baseline beyond the normal range in the toxic direction). This carries
    CTCAE's *abnormal-baseline rule* (bilirubin and the aminotransferases as multiples of
    baseline, fibrinogen as a percentage fall from baseline).
``grade``
    1 to 4.
``lower, lower_ref, lower_op`` and ``upper, upper_ref, upper_op``
    The interval of the grade: a bound is ``factor x reference`` with reference ``ABS`` (an
    absolute value in ``unit``), ``ULN``, ``LLN`` or ``BASE`` (the baseline value); the
    operators say whether the bound is included (``>=``, ``<=``) or not (``>``, ``<``). A blank
    bound is open.
``unit``
    Unit of the absolute (``ABS``) bounds.
``ctcae_text``
    The CTCAE wording of the grade.

A value gets the highest grade whose interval contains it (among the rows that apply to the
subject's baseline condition); a value in no interval is grade 0. When a reference needed to
decide a grade is missing (no ULN, say) and no higher grade is certain, the grade is missing.
Without a baseline value the subject is graded as having a normal baseline and rows relative to
``BASE`` do not apply.

Every comparison is made on values rounded to ``digits`` significant digits (default 6) on both
sides, ``signif(AVAL) > signif(3 * ULN)``, as admiral does with its ``signif_dig``: floating
point noise such as ``3.0000001 x ULN`` does not change a grade.

Grading choices for this trial (stated in the SAP and in table footnotes): INR is graded on the
absolute cut-offs only (the "x baseline if on anticoagulation" criteria are for patients on
vitamin-K antagonists); calcium is graded as measured (total calcium, not corrected for
albumin); creatinine uses both its ULN and its baseline criteria, as CTCAE lists them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from msc_analysis.errors import SettingsError

__all__ = [
    "CRITERIA_FILE",
    "PARAMCD_TERMS",
    "baseline_abnormal",
    "convert_to_criteria_unit",
    "criteria_unit",
    "grade_values",
    "load_criteria",
    "normalise_unit",
    "signif",
    "term_direction",
]

#: The criteria table shipped with the package.
CRITERIA_FILE = Path(__file__).with_name("ctcae_v5_lab_criteria.csv")

#: Default PARAMCD -> CTCAE term: this trial's codes and the CDISC pilot's (``BILI``, ``CA``).
#: The SAP's ``[parameters.X].ctcae_term`` takes precedence.
PARAMCD_TERMS: dict[str, str] = {
    "TBIL": "Blood bilirubin increased",
    "BILI": "Blood bilirubin increased",
    "ALT": "Alanine aminotransferase increased",
    "AST": "Aspartate aminotransferase increased",
    "INR": "INR increased",
    "PLAT": "Platelet count decreased",
    "HGB": "Anemia",
    "FIBRINO": "Fibrinogen decreased",
    "CALCIUM": "Hypocalcemia",
    "CA": "Hypocalcemia",
    "CREAT": "Creatinine increased",
}

_REFS = ("ABS", "ULN", "LLN", "BASE")
_LOWER_OPS = (">", ">=")
_UPPER_OPS = ("<", "<=")
_COLUMNS = ("term", "direction", "baseline", "grade", "lower", "lower_ref", "lower_op", "upper",
            "upper_ref", "upper_op", "unit", "ctcae_text")

#: Spellings of the same unit, normalised (lower case, no blanks) -> canonical lower-case form.
_UNIT_ALIASES: dict[str, str] = {
    "gi/l": "10^9/l", "10**9/l": "10^9/l", "10e9/l": "10^9/l", "x10^9/l": "10^9/l",
    "10^3/ul": "10^9/l", "10^3/mm3": "10^9/l", "k/ul": "10^9/l", "10*9/l": "10^9/l",
    "": "", "ratio": "ratio", "inr": "ratio", "1": "ratio",
}

#: Conversion factors into the criteria unit: (term, normalised unit) -> factor.
#: Haemoglobin: 1 mmol/L (monomer, 16 114.5 g/mol) = 16.1145 g/L, so CTCAE's 100 g/L is its
#: 6.2 mmol/L; fibrinogen 1 mg/dL = 0.01 g/L; calcium 1 mg/dL = 0.2495 mmol/L (clinical brief 1.4).
_CONVERSIONS: dict[tuple[str, str], float] = {
    ("Anemia", "g/dl"): 10.0,
    ("Anemia", "mmol/l"): 16.1145,
    ("Fibrinogen decreased", "mg/dl"): 0.01,
    ("Hypocalcemia", "mg/dl"): 0.2495,
}


def signif(x: object, digits: int = 6) -> np.ndarray:
    """Round to ``digits`` significant digits, like R's ``signif`` (NaN stays NaN).

    Examples
    --------
    >>> float(signif(3.0000001 * 21.0, 6)[()]) == float(signif(63.0, 6)[()])
    True
    """
    if digits < 1:
        raise ValueError(f"digits must be >= 1, got {digits}")
    arr = np.asarray(x, dtype=float)
    out = np.array(arr, dtype=float, copy=True)
    finite = np.isfinite(arr) & (arr != 0)
    if finite.any():
        vals = arr[finite]
        mag = np.floor(np.log10(np.abs(vals)))
        decimals = (digits - 1 - mag).astype(int)
        rounded = np.empty_like(vals)
        # Each number of decimals present, in increasing order (a range scan, not a sort).
        for d in range(int(decimals.min()), int(decimals.max()) + 1):
            sel = decimals == d
            if sel.any():
                rounded[sel] = np.round(vals[sel], d)
        out[finite] = rounded
    return out


def _check_criteria(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    missing = [c for c in _COLUMNS if c not in frame.columns]
    if missing:
        raise SettingsError(f"{source}: criteria table lacks columns {missing}")
    for i, row in enumerate(frame.itertuples(index=False), start=2):
        where = f"{source}, line {i} ({row.term}, grade {row.grade})"
        if row.direction not in ("high", "low"):
            raise SettingsError(f"{where}: direction must be high or low, got {row.direction!r}")
        if row.baseline not in ("any", "normal", "abnormal"):
            raise SettingsError(f"{where}: baseline must be any, normal or abnormal")
        if row.grade not in (1, 2, 3, 4, 5):
            raise SettingsError(f"{where}: grade must be 1 to 5, got {row.grade!r}")
        for side, ops in (("lower", _LOWER_OPS), ("upper", _UPPER_OPS)):
            value, ref, op = getattr(row, side), getattr(row, f"{side}_ref"), getattr(
                row, f"{side}_op")
            if pd.isna(value):
                if ref or op:
                    raise SettingsError(f"{where}: open {side} bound must have no ref / op")
                continue
            if ref not in _REFS:
                raise SettingsError(f"{where}: {side}_ref must be one of {_REFS}, got {ref!r}")
            if op not in ops:
                raise SettingsError(f"{where}: {side}_op must be one of {ops}, got {op!r}")
        if pd.isna(row.lower) and pd.isna(row.upper):
            raise SettingsError(f"{where}: a grade needs at least one bound")
    directions = frame.groupby("term")["direction"].nunique()
    if (directions > 1).any():
        raise SettingsError(f"{source}: terms with two directions: "
                            f"{sorted(directions[directions > 1].index)}")
    return frame


@lru_cache(maxsize=4)
def _load(path: str) -> pd.DataFrame:
    frame = pd.read_csv(path, dtype={c: str for c in _COLUMNS if c not in (
        "grade", "lower", "upper")}, keep_default_na=False, na_values={"lower": [""],
                                                                      "upper": [""]})
    frame["grade"] = frame["grade"].astype(int)
    frame["lower"] = pd.to_numeric(frame["lower"]).astype(float)
    frame["upper"] = pd.to_numeric(frame["upper"]).astype(float)
    return _check_criteria(frame, Path(path).name)


def load_criteria(path: str | Path | None = None) -> pd.DataFrame:
    """Read and check the criteria table (default: the one shipped with the package).

    Raises
    ------
    SettingsError
        When a row breaks the table's rules (unknown reference or operator, no bound, ...).
    """
    return _load(str(Path(path) if path is not None else CRITERIA_FILE)).copy()


def _rows(criteria: pd.DataFrame, term: str) -> pd.DataFrame:
    rows = criteria[criteria["term"] == term]
    if rows.empty:
        raise SettingsError(f"CTCAE term {term!r} is not in the criteria table; known terms: "
                            f"{sorted(criteria['term'].unique())}")
    return rows


def term_direction(term: str, criteria: pd.DataFrame | None = None) -> str:
    """``high`` or ``low``: the toxic direction of ``term``."""
    crit = load_criteria() if criteria is None else criteria
    return str(_rows(crit, term)["direction"].iloc[0])


def criteria_unit(term: str, criteria: pd.DataFrame | None = None) -> str:
    """Unit of the absolute bounds of ``term`` (``""`` when all bounds are relative)."""
    crit = load_criteria() if criteria is None else criteria
    units = [u for u in _rows(crit, term)["unit"] if u]
    return units[0] if units else ""


def normalise_unit(unit: str) -> str:
    """Lower case, blanks removed, common spellings merged (``GI/L`` -> ``10^9/l``)."""
    key = re.sub(r"\s+", "", str(unit)).lower().replace("µ", "u")
    return _UNIT_ALIASES.get(key, key)


def convert_to_criteria_unit(term: str, unit: str,
                             criteria: pd.DataFrame | None = None) -> float | None:
    """Factor that turns values in ``unit`` into the unit of ``term``'s absolute bounds.

    1.0 when the units agree or the term has only relative bounds; None when no conversion is
    known (the caller records the values as not gradable).
    """
    crit = load_criteria() if criteria is None else criteria
    target = criteria_unit(term, crit)
    rows = _rows(crit, term)
    if not (rows["lower_ref"] == "ABS").any() and not (rows["upper_ref"] == "ABS").any():
        return 1.0
    have = normalise_unit(unit)
    if have == normalise_unit(target):
        return 1.0
    if target == "ratio" and have == "":
        return 1.0
    return _CONVERSIONS.get((term, have))


def baseline_abnormal(term: str, base: object, lln: object = None, uln: object = None, *,
                      criteria: pd.DataFrame | None = None, digits: int = 6) -> np.ndarray:
    """Whether each baseline is beyond the normal range in the term's toxic direction.

    Returns a float array: 1.0 abnormal, 0.0 normal, NaN unknown (baseline or the needed limit
    missing). For a ``high`` term abnormal means ``BASE > ULN``, for a ``low`` term
    ``BASE < LLN`` (both rounded to ``digits`` significant digits).
    """
    crit = load_criteria() if criteria is None else criteria
    b = signif(base, digits)
    if term_direction(term, crit) == "high":
        limit = signif(np.broadcast_to(np.asarray(uln if uln is not None else np.nan, float),
                                       b.shape), digits)
        out = np.where(b > limit, 1.0, 0.0)
    else:
        limit = signif(np.broadcast_to(np.asarray(lln if lln is not None else np.nan, float),
                                       b.shape), digits)
        out = np.where(b < limit, 1.0, 0.0)
    out[np.isnan(b) | np.isnan(limit)] = np.nan
    return out


def _rounded_bound(factor: float, ref: str, refs: Mapping[str, np.ndarray], n: int,
                   digits: int) -> np.ndarray:
    """The bound ``factor x reference`` of each value, rounded with :func:`signif`; an
    absolute (``ABS``) bound is the same for every value and is rounded once."""
    if ref == "ABS":
        return np.full(n, float(signif(factor, digits)))
    return signif(factor * refs[ref], digits)


def _compare_rounded(v: np.ndarray, b: np.ndarray, op: str) -> np.ndarray:
    """1.0 / 0.0 / NaN (bound or value missing) for ``v op b``, both already rounded with
    :func:`signif`."""
    with np.errstate(invalid="ignore"):
        res = {">": v > b, ">=": v >= b, "<": v < b, "<=": v <= b}[op].astype(float)
    res[np.isnan(v) | np.isnan(b)] = np.nan
    return res


def _and(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Three-valued AND: False wins over unknown, unknown over True."""
    out = np.where((a == 0) | (b == 0), 0.0, np.where(np.isnan(a) | np.isnan(b), np.nan, 1.0))
    return out


def grade_values(
    term: str,
    aval: object,
    *,
    base: object = None,
    lln: object = None,
    uln: object = None,
    use_baseline: bool = True,
    criteria: pd.DataFrame | None = None,
    digits: int = 6,
) -> np.ndarray:
    """CTCAE v5.0 grade of each value (float array: 0-4, NaN when it cannot be decided).

    Parameters
    ----------
    term : str
        CTCAE term of the criteria table.
    aval : array_like
        Values, in the unit of the term's absolute bounds (see :func:`convert_to_criteria_unit`).
    base, lln, uln : array_like, optional
        Baseline value and normal-range limits of each value (same unit); scalars broadcast.
    use_baseline : bool
        Apply the abnormal-baseline rule and the baseline criteria (True), or grade against
        the normal range and absolute cut-offs only (False: every baseline counts as normal and
        rows relative to ``BASE`` are ignored).
    criteria : DataFrame, optional
        Criteria table (default :func:`load_criteria`).
    digits : int
        Significant digits of the comparisons.

    Examples
    --------
    Platelets 49 x 10^9/L are grade 3 (``<50 - 25``), 50 grade 2:

    >>> grade_values("Platelet count decreased", [49.0, 50.0], lln=150.0).tolist()
    [3.0, 2.0]
    """
    crit = load_criteria() if criteria is None else criteria
    rows = _rows(crit, term)
    value = np.atleast_1d(np.asarray(aval, dtype=float))
    n = value.size

    def arr(x: object) -> np.ndarray:
        if x is None:
            return np.full(n, np.nan)
        return np.broadcast_to(np.asarray(x, dtype=float), (n,)).astype(float)

    refs = {"BASE": arr(base), "LLN": arr(lln), "ULN": arr(uln)}
    if use_baseline:
        abnormal = baseline_abnormal(term, refs["BASE"], refs["LLN"], refs["ULN"],
                                     criteria=crit, digits=digits)
        # No baseline: grade against the normal range (admiral's rule); only an unknown limit
        # with a known baseline leaves the condition unknown.
        abnormal = np.where(np.isnan(refs["BASE"]), 0.0, abnormal)
    else:
        abnormal = np.zeros(n)
    grade = np.zeros(n)
    unknown_max = np.full(n, -math.inf)
    rounded = signif(value, digits)  # the same for every criterion: rounded once
    # A grade's upper bound is often the next grade's lower bound: each distinct bound
    # (factor x reference) is rounded once.
    bounds: dict[tuple[float, str], np.ndarray] = {}

    def bound(factor: float, ref: str) -> np.ndarray:
        if (factor, ref) not in bounds:
            bounds[(factor, ref)] = _rounded_bound(factor, ref, refs, n, digits)
        return bounds[(factor, ref)]

    for row in rows.itertuples(index=False):
        uses_base = "BASE" in (row.lower_ref, row.upper_ref)
        if not use_baseline and (uses_base or row.baseline == "abnormal"):
            continue
        if row.baseline == "any":
            applies = np.ones(n)
        elif row.baseline == "abnormal":
            applies = abnormal.copy()
        else:
            applies = np.where(np.isnan(abnormal), np.nan, 1.0 - abnormal)
        if uses_base:
            # Criteria relative to baseline are an alternative route (creatinine, fibrinogen):
            # without a baseline they do not apply (admiral: ``!is.na(BASE) & ...``).
            applies = np.where(np.isnan(refs["BASE"]), 0.0, applies)
        hit = applies
        if not pd.isna(row.lower):
            hit = _and(hit, _compare_rounded(rounded, bound(row.lower, row.lower_ref),
                                             row.lower_op))
        if not pd.isna(row.upper):
            hit = _and(hit, _compare_rounded(rounded, bound(row.upper, row.upper_ref),
                                             row.upper_op))
        grade = np.where(hit == 1.0, np.maximum(grade, row.grade), grade)
        unknown_max = np.where(np.isnan(hit), np.maximum(unknown_max, row.grade), unknown_max)
    out = np.where(unknown_max > grade, np.nan, grade)
    out[np.isnan(value)] = np.nan
    return out
