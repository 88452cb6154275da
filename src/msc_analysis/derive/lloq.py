"""Substitution of values below the lower limit of quantitation (LLOQ).

SAP rule (``[lloq]`` of ``sap/sap.toml``): a value reported below the LLOQ is analysed as LLOQ/2
(primary, rule ``"half"``) or as the LLOQ itself (sensitivity, rule ``"lloq"``).

A record is below the LLOQ when ``BLQFL = "Y"``, or when its ``AVAL`` is below its LLOQ. The LLOQ
of a record is its own ``LLOQ`` when given, else the parameter's ``lloq`` from the SAP.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from msc_analysis.errors import DataError, SettingsError

__all__ = ["LLOQ_RULES", "substitute_lloq", "substitution_factor"]

#: Rule name -> multiple of the LLOQ substituted for a value below it.
LLOQ_RULES: dict[str, float] = {"half": 0.5, "lloq": 1.0}


def substitution_factor(rule: str) -> float:
    """The multiple of the LLOQ that the SAP rule ``rule`` substitutes.

    Raises
    ------
    SettingsError
        For a rule other than ``"half"`` or ``"lloq"``.
    """
    try:
        return LLOQ_RULES[rule]
    except KeyError:
        raise SettingsError(
            f"sap.toml [lloq]: unknown rule {rule!r}; allowed: {sorted(LLOQ_RULES)}") from None


def substitute_lloq(
    adlb: pd.DataFrame,
    rule: str,
    lloq_by_param: Mapping[str, float | None] | None = None,
    *,
    file: str = "adlb",
) -> pd.DataFrame:
    """Replace values below the LLOQ by the SAP's substitute.

    Parameters
    ----------
    adlb : DataFrame
        Laboratory records with ``PARAMCD`` and ``AVAL`` (``LLOQ`` and ``BLQFL`` optional).
    rule : {"half", "lloq"}
        Substitute LLOQ/2 or the LLOQ.
    lloq_by_param : mapping, optional
        Parameter code -> LLOQ from the SAP, used where a record has no ``LLOQ`` of its own.
    file : str
        File name used in error messages.

    Returns
    -------
    DataFrame
        A copy with ``AVAL`` substituted, ``BLQFL = "Y"`` on every record below the LLOQ,
        ``AVALORIG`` (the value before substitution) and ``AVALIMP`` (``"LLOQ/2"`` or ``"LLOQ"``
        on substituted records, else ``""``).

    Raises
    ------
    DataError
        When a record flagged below the LLOQ has no LLOQ, neither its own nor the SAP's.
    """
    factor = substitution_factor(rule)
    out = adlb.copy(deep=False)  # copy-on-write: the columns set below never reach adlb
    sap_lloq = _parameter_lloq(out["PARAMCD"], lloq_by_param or {})
    own = out["LLOQ"].astype(float) if "LLOQ" in out.columns else pd.Series(np.nan, index=out.index)
    limit = own.fillna(sap_lloq)
    aval = out["AVAL"].astype(float)
    flagged = out["BLQFL"].astype(str) == "Y" if "BLQFL" in out.columns else pd.Series(
        False, index=out.index)
    below = flagged | (aval.notna() & limit.notna() & (aval < limit))
    no_limit = below & limit.isna()
    if no_limit.any():
        first = int(np.flatnonzero(no_limit.to_numpy())[0])
        raise DataError(
            f"{file}: row {first + 1}: PARAMCD {out['PARAMCD'].iloc[first]} is flagged below the "
            f"LLOQ (BLQFL) but has no LLOQ, neither in variable LLOQ nor in sap.toml "
            f"[parameters] lloq ({int(no_limit.sum())} such records)")
    out["AVALORIG"] = aval
    out["AVAL"] = aval.where(~below, limit * factor)
    if "BLQFL" not in out.columns:
        out["BLQFL"] = ""
    out["BLQFL"] = np.where(below.to_numpy(), "Y", out["BLQFL"].astype(str).to_numpy())
    out["AVALIMP"] = np.where(below.to_numpy(), "LLOQ/2" if factor == 0.5 else "LLOQ", "")
    return out


def _parameter_lloq(paramcd: pd.Series, lloq_by_param: Mapping[str, float | None]) -> pd.Series:
    """The SAP's LLOQ of each record's parameter (NaN when it has none).

    The same as ``paramcd.map(lloq_by_param).astype(float)``, looked up once per distinct
    parameter rather than once per record.
    """
    codes, distinct = pd.factorize(paramcd)
    per_parameter = pd.Series(list(distinct), dtype=object).map(dict(lloq_by_param))
    # code -1 (a missing PARAMCD) picks the NaN appended at the end
    limits = np.append(per_parameter.astype(float).to_numpy(), np.nan)
    return pd.Series(limits[codes], index=paramcd.index)
