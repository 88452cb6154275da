"""Units of laboratory and vital-sign parameters, and their conversion to the trial's SI units.

After loading, ADLB ``AVAL`` is in the unit :data:`~msc_analysis.io.schema.LAB_PARAMETERS` gives
for its parameter, and ADVS ``AVAL`` in the unit of
:data:`~msc_analysis.io.schema.VS_PARAMETERS`. Codes used by other studies for the same analyte
(``BILI`` for total bilirubin, ``CA`` for calcium, as in the CDISC Pilot) are recognised through
:data:`PARAMCD_ALIASES`; the data keep their own codes.

Conversion factors (multiply the value in the given unit to get the SI unit):

- bilirubin 1 mg/dL = 17.1 umol/L (molar mass 584.7 g/mol; 10 dL/L / 584.7 g/mol = 17.10);
- creatinine 1 mg/dL = 88.4 umol/L (113.12 g/mol);
- calcium 1 mg/dL = 0.2495 mmol/L (40.078 g/mol), 1 mEq/L = 0.5 mmol/L (divalent);
- sodium 1 mEq/L = 1 mmol/L (monovalent);
- albumin, haemoglobin, fibrinogen 1 g/dL = 10 g/L; 1 mg/dL = 0.01 g/L;
- haemoglobin 1 mmol/L (Fe, monomer) = 16.114 g/L (monomer molar mass 16 114 g/mol);
- CRP 1 mg/dL = 10 mg/L, 1 ug/mL = 1 mg/L;
- cytokines 1 ng/L = 1 pg/mL, 1 ng/mL = 1000 pg/mL;
- enzymes 1 IU/L = 1 U/L, 1 ukat/L = 60 U/L (1 U = 1 umol/min = 16.67 nkat);
- platelets 1 GI/L = 1 x10^9/L = 1 x10^3/uL = 1 x10^3/mm3;
- temperature F -> C: (F - 32) x 5/9.

These are the conventional factors of SI-unit conversion tables (e.g. the AMA Manual of Style SI
conversion table; Young DS, Ann Intern Med 1987;106:114-129).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from msc_analysis.io.issues import DataIssues
from msc_analysis.io.readers import FILE_COLUMN, ROW_COLUMN
from msc_analysis.io.schema import LAB_PARAMETERS, VS_PARAMETERS


@dataclass(frozen=True)
class Conversion:
    """``si = value * factor + offset``; a change (difference) converts by ``factor`` alone."""

    factor: float
    offset: float = 0.0

    @property
    def identity(self) -> bool:
        """Whether the conversion leaves values unchanged."""
        return self.factor == 1.0 and self.offset == 0.0


_SAME = Conversion(1.0)

#: Other studies' codes for the trial's parameters (code -> trial code).
PARAMCD_ALIASES: dict[str, str] = {
    "BILI": "TBIL",
    "BILTOT": "TBIL",
    "BILDIR": "DBIL",
    "DBILI": "DBIL",
    "CA": "CALCIUM",
    "NA": "SODIUM",
    "SOD": "SODIUM",
    "PLT": "PLAT",
    "HB": "HGB",
    "FIBRINOG": "FIBRINO",
    "IL-6": "IL6",
    "TNF": "TNFA",
    "HR": "PULSE",
}

_PLATELET_UNITS = ("10^9/l", "gi/l", "10^3/ul", "k/ul", "10^3/mm3", "thou/ul", "10^9cells/l")

#: Accepted units per trial parameter (normalised by :func:`normalise_unit`) -> conversion.
UNIT_CONVERSIONS: dict[str, dict[str, Conversion]] = {
    "TBIL": {"umol/l": _SAME, "mg/dl": Conversion(17.1), "mg/l": Conversion(1.71)},
    "DBIL": {"umol/l": _SAME, "mg/dl": Conversion(17.1), "mg/l": Conversion(1.71)},
    "INR": {"ratio": _SAME, "": _SAME, "1": _SAME, "inr": _SAME},
    "PTA": {"%": _SAME, "percent": _SAME},
    "IL6": {"pg/ml": _SAME, "ng/l": _SAME, "ng/ml": Conversion(1000.0)},
    "TNFA": {"pg/ml": _SAME, "ng/l": _SAME, "ng/ml": Conversion(1000.0)},
    "CRP": {"mg/l": _SAME, "ug/ml": _SAME, "mg/dl": Conversion(10.0)},
    "ALT": {"u/l": _SAME, "iu/l": _SAME, "ukat/l": Conversion(60.0)},
    "AST": {"u/l": _SAME, "iu/l": _SAME, "ukat/l": Conversion(60.0)},
    "ALB": {"g/l": _SAME, "g/dl": Conversion(10.0), "mg/dl": Conversion(0.01)},
    "CREAT": {"umol/l": _SAME, "mg/dl": Conversion(88.4), "mmol/l": Conversion(1000.0)},
    "SODIUM": {"mmol/l": _SAME, "meq/l": _SAME},
    "PLAT": {u: _SAME for u in _PLATELET_UNITS},
    "HGB": {"g/l": _SAME, "g/dl": Conversion(10.0), "mmol/l": Conversion(16.114)},
    "FIBRINO": {"g/l": _SAME, "g/dl": Conversion(10.0), "mg/dl": Conversion(0.01)},
    "CALCIUM": {"mmol/l": _SAME, "mg/dl": Conversion(0.2495), "meq/l": Conversion(0.5)},
    "SYSBP": {"mmhg": _SAME},
    "DIABP": {"mmhg": _SAME},
    "PULSE": {"beats/min": _SAME, "bpm": _SAME, "/min": _SAME, "1/min": _SAME},
    "TEMP": {"c": _SAME, "degc": _SAME, "f": Conversion(5 / 9, -32 * 5 / 9),
             "degf": Conversion(5 / 9, -32 * 5 / 9)},
}

#: Parameters whose value is a concentration or an enzyme activity measured by an assay: a
#: result of 0 (or -0) is no measurement (an assay reports a value below its limit of
#: quantitation as ``<LLOQ``, BLQFL = Y), and the SAP analyses them on the log scale.
POSITIVE_PARAMETERS: tuple[str, ...] = ("TBIL", "DBIL", "IL6", "TNFA", "CRP", "ALT", "AST",
                                        "CREAT")

#: Values no assay or device reports, per trial parameter (SI unit): each is ten times or more
#: the highest value reported in a living patient (bilirubin 1,000 umol/L, aminotransferases
#: 30,000 U/L, IL-6 10^6 pg/mL, ...). They catch values such as 1e300, which overflowed the
#: geometric statistics of the report, never a real extreme.
UPPER_LIMITS: dict[str, float] = {
    "TBIL": 10_000.0, "DBIL": 10_000.0, "INR": 100.0, "IL6": 1e7, "TNFA": 1e7, "CRP": 10_000.0,
    "ALT": 1e6, "AST": 1e6, "ALB": 1_000.0, "CREAT": 100_000.0, "SODIUM": 1_000.0,
    "PLAT": 100_000.0, "HGB": 1_000.0, "FIBRINO": 1_000.0, "CALCIUM": 100.0,
    "SYSBP": 1_000.0, "DIABP": 1_000.0, "PULSE": 1_000.0,
}

#: Physically possible analysis values per trial parameter (in its SI unit):
#: ``(lower bound, lower bound allowed?, upper bound or None)``.
VALUE_LIMITS: dict[str, tuple[float, bool, float | None]] = {
    **{code: (0.0, True, UPPER_LIMITS.get(code)) for code in LAB_PARAMETERS},
    **{code: (0.0, False, UPPER_LIMITS[code]) for code in POSITIVE_PARAMETERS},
    "INR": (0.0, False, UPPER_LIMITS["INR"]),
    "PTA": (0.0, True, 300.0),
    "SODIUM": (0.0, False, UPPER_LIMITS["SODIUM"]),
    "HGB": (0.0, False, UPPER_LIMITS["HGB"]),
    "CALCIUM": (0.0, False, UPPER_LIMITS["CALCIUM"]),
    "SYSBP": (0.0, False, UPPER_LIMITS["SYSBP"]),
    "DIABP": (0.0, False, UPPER_LIMITS["DIABP"]),
    "PULSE": (0.0, False, UPPER_LIMITS["PULSE"]),
    "TEMP": (20.0, True, 46.0),
}

_SUPERSCRIPTS = str.maketrans({"µ": "u", "μ": "u", "°": "deg", "³": "^3", "⁹": "^9"})


def si_unit(code: str) -> str:
    """The trial's unit for a trial parameter code (``TBIL`` -> ``umol/L``)."""
    if code in LAB_PARAMETERS:
        return LAB_PARAMETERS[code][1]
    return VS_PARAMETERS[code][1]


def trial_code(paramcd: str) -> str | None:
    """The trial parameter a study's PARAMCD denotes, or None when it is not one of ours.

    Parameters
    ----------
    paramcd : str
        A parameter code as found in the data (``TBIL``, ``BILI``, ``ALT``, ``_BILI``).

    Returns
    -------
    str or None
        ``TBIL`` for ``TBIL`` and ``BILI``; None for codes of other parameters.
    """
    code = paramcd.strip().upper()
    code = PARAMCD_ALIASES.get(code, code)
    return code if code in UNIT_CONVERSIONS else None


def normalise_unit(unit: str) -> str:
    """A unit in a canonical spelling for lookup (``"µmol/L"`` -> ``"umol/l"``).

    Lower case, no blanks, ``µ`` -> ``u``, ``x10^9``, ``10*9``, ``10E9`` -> ``10^9``.
    """
    text = unit.translate(_SUPERSCRIPTS).strip().lower().replace(" ", "")
    text = re.sub(r"^x(?=10)", "", text)
    text = re.sub(r"10[*e](\d)", r"10^\1", text)
    return text


def conversion(code: str, unit: str) -> Conversion | None:
    """The conversion of ``unit`` to the SI unit of trial parameter ``code`` (None if unknown)."""
    table = UNIT_CONVERSIONS.get(code, {})
    key = normalise_unit(unit)
    if key in table:
        return table[key]
    if key == normalise_unit(si_unit(code)):
        return _SAME
    return None


def accepted_units(code: str) -> tuple[str, ...]:
    """The units accepted for trial parameter ``code`` (normalised spellings)."""
    return tuple(sorted(UNIT_CONVERSIONS.get(code, {})))


_PARAM_UNIT = re.compile(r"\(((?:[^()]|\([^()]*\))*)\)\s*$")


def unit_from_param(param: str) -> str:
    """The unit written at the end of a PARAM label (``"Bilirubin (umol/L)"`` -> ``"umol/L"``).

    Returns ``""`` when the label does not end in a parenthesised unit.
    """
    match = _PARAM_UNIT.search(param)
    return match.group(1).strip() if match else ""


# --------------------------------------------------------------------------------------------
# Conversion of a dataset
# --------------------------------------------------------------------------------------------

#: Columns holding values in the unit of AVAL, converted with it (a change only by the factor).
VALUE_COLUMNS: tuple[str, ...] = ("AVAL", "BASE", "ANRLO", "ANRHI", "A1LO", "A1HI", "LLOQ")
CHANGE_COLUMNS: tuple[str, ...] = ("CHG",)


def to_si(frame: pd.DataFrame, dataset: str, issues: DataIssues) -> pd.DataFrame:
    """Convert the values of the trial's parameters to their SI unit (ADLB and ADVS).

    The unit of a record is AVALU when given, else the unit written at the end of PARAM
    (``"Bilirubin (umol/L)"``, as in the CDISC Pilot). Records of a parameter the trial knows
    (directly or through :data:`PARAMCD_ALIASES`) with a unit not in :data:`UNIT_CONVERSIONS`
    are errors (rule ``unit-unknown``), one per file, parameter and unit. Converted values get
    AVALU set to the SI unit and the unit in PARAM rewritten; each conversion is recorded as a
    note. AVALU is added when absent (the unit found for each record, ``""`` if none). Records
    of other parameters are left as they are.

    Parameters
    ----------
    frame : pandas.DataFrame
        ADLB or ADVS after type coercion, with provenance columns.
    dataset : str
        ``ADLB`` or ``ADVS`` (for messages).
    issues : DataIssues
        Where errors and notes go.

    Returns
    -------
    pandas.DataFrame
        A converted copy.
    """
    if "PARAMCD" not in frame.columns or "AVAL" not in frame.columns:
        return frame
    out = frame.copy(deep=False)  # copy-on-write: the converted columns are copied on change
    given = out["AVALU"] if "AVALU" in out.columns else pd.Series("", index=out.index, dtype="str")
    given = given.astype("str").fillna("")
    from_param = "PARAM" in out.columns and (given == "").any()
    unit_column = "AVALU" if "AVALU" in out.columns else "PARAM"
    units = given
    if from_param:
        parsed = _map_distinct(out["PARAM"].astype("str").fillna(""), _cached_unit_from_param)
        units = given.where(given != "", parsed)
    codes = _map_distinct(out["PARAMCD"].astype("str").fillna(""), _cached_trial_code)
    known = codes.notna().to_numpy()
    new_units = units.to_numpy(dtype=object, copy=True)
    combos = pd.DataFrame({"code": codes, "unit": units})[known].drop_duplicates()
    code_ids, code_values = pd.factorize(codes, use_na_sentinel=True)
    unit_ids, unit_values = pd.factorize(units, use_na_sentinel=True)
    code_at = {value: i for i, value in enumerate(code_values)}
    unit_at = {value: i for i, value in enumerate(unit_values)}
    for code, unit in combos.itertuples(index=False):
        rows = (code_ids == code_at[code]) & (unit_ids == unit_at[unit])
        conv = conversion(code, unit)
        if conv is None:
            _unknown_unit(out, rows, code, unit, unit_column, dataset, issues)
            continue
        new_units[rows] = si_unit(code)
        if conv.identity:
            continue
        _apply(out, rows, conv)
        if "PARAM" in out.columns and unit:
            out.loc[rows, "PARAM"] = out.loc[rows, "PARAM"].str.replace(
                f"({unit})", f"({si_unit(code)})", regex=False)
        _note_conversion(out, rows, code, unit, conv, dataset, issues)
    out["AVALU"] = pd.Series(new_units, index=out.index).astype("str")
    return out


_unit_cache: dict[str, str] = {}
_code_cache: dict[str, str | None] = {}


def _map_distinct(values: pd.Series, func: Callable[[str], str | None]) -> pd.Series:
    """``values.map(func)``, calling ``func`` once per distinct value rather than per record.

    The distinct values are mapped (so the result's dtype is inferred from the same values as
    ``values.map`` would) and spread to the records by their codes.
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    distinct = pd.Series(uniques)
    mapped = distinct.map({value: func(value) for value in distinct})
    return pd.Series(mapped.array.take(codes), index=values.index, name=values.name)


def _cached_unit_from_param(param: str) -> str:
    if param not in _unit_cache:
        _unit_cache[param] = unit_from_param(param)
    return _unit_cache[param]


def _cached_trial_code(paramcd: str) -> str | None:
    if paramcd not in _code_cache:
        _code_cache[paramcd] = trial_code(paramcd)
    return _code_cache[paramcd]


def _apply(out: pd.DataFrame, rows: np.ndarray, conv: Conversion) -> None:
    for name in VALUE_COLUMNS:
        if name in out.columns and pd.api.types.is_numeric_dtype(out[name]):
            out.loc[rows, name] = out.loc[rows, name] * conv.factor + conv.offset
    for name in CHANGE_COLUMNS:
        if name in out.columns and pd.api.types.is_numeric_dtype(out[name]):
            out.loc[rows, name] = out.loc[rows, name] * conv.factor


def _unknown_unit(
    out: pd.DataFrame, rows: np.ndarray, code: str, unit: str, unit_column: str, dataset: str,
    issues: DataIssues,
) -> None:
    flagged = out.loc[rows, [FILE_COLUMN, ROW_COLUMN, "PARAMCD"]]
    accepted = ", ".join(repr(u) for u in accepted_units(code))
    for (file, paramcd), group in flagged.groupby([FILE_COLUMN, "PARAMCD"], sort=False):
        count = len(group)
        more = "" if count == 1 else f" ({count - 1} more row(s) alike)"
        shown = repr(unit) if unit else "no unit"
        alias = "" if paramcd == code else f" (the trial's {code})"
        issues.add(
            source="validate", severity="error", file=str(file),
            row=int(group[ROW_COLUMN].iloc[0]), variable=unit_column, rule="unit-unknown",
            message=(f"{dataset} PARAMCD {paramcd}{alias} has {shown}, which cannot be converted "
                     f"to {si_unit(code)}; accepted units: {accepted}{more}"),
        )


def _note_conversion(
    out: pd.DataFrame, rows: np.ndarray, code: str, unit: str, conv: Conversion, dataset: str,
    issues: DataIssues,
) -> None:
    flagged = out.loc[rows, [FILE_COLUMN, ROW_COLUMN, "PARAMCD"]]
    how = f"x {conv.factor:g}" if conv.offset == 0 else f"x {conv.factor:g} + {conv.offset:g}"
    for (file, paramcd), group in flagged.groupby([FILE_COLUMN, "PARAMCD"], sort=False):
        issues.add(
            source="validate", severity="note", file=str(file),
            row=int(group[ROW_COLUMN].iloc[0]), variable="AVAL", rule="unit-converted",
            message=(f"{dataset} PARAMCD {paramcd}: {len(group)} value(s) converted from "
                     f"{unit} to {si_unit(code)} ({how})"),
        )


def check_values(frame: pd.DataFrame, dataset: str, issues: DataIssues) -> None:
    """Rule ``impossible-value`` for the trial's parameters: :data:`VALUE_LIMITS` on AVAL.

    Applied after :func:`to_si`, so the limits are in SI units (a negative concentration, an
    INR of 0).
    """
    if "PARAMCD" not in frame.columns or "AVAL" not in frame.columns:
        return
    codes = _map_distinct(frame["PARAMCD"].astype("str").fillna(""), _cached_trial_code)
    values = frame["AVAL"]
    bad = pd.Series(False, index=frame.index)
    for code, (low, low_ok, high) in VALUE_LIMITS.items():
        mine = codes == code
        if not mine.any():
            continue
        under = values < low if low_ok else values <= low
        over = values > high if high is not None else pd.Series(False, index=frame.index)
        bad |= mine & (under | over).fillna(False)
    flagged = frame.loc[bad.to_numpy()]
    for _, record in flagged.iterrows():
        code = _cached_trial_code(str(record["PARAMCD"])) or ""
        low, low_ok, high = VALUE_LIMITS[code]
        limit = f"must be {'at least' if low_ok else 'above'} {low:g}"
        if high is not None:
            limit += f" and at most {high:g}"
        subject = record.get("USUBJID", "")
        issues.add(
            source="validate", severity="error", file=str(record[FILE_COLUMN]),
            row=int(record[ROW_COLUMN]), usubjid=subject if isinstance(subject, str) else "",
            variable="AVAL", rule="impossible-value",
            message=(f"{dataset} PARAMCD {record['PARAMCD']} value {record['AVAL']:g} "
                     f"{si_unit(code)} is impossible ({limit})"),
        )
