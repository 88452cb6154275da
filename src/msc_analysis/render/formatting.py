"""Display formatting of numbers: SAS-style rounding and the table cell conventions.

Stored values (the ARD) are never rounded; these functions turn them into the strings shown in
tables. Every function returns ``""`` for a missing value (``None``, NaN), so that an empty cell
means "not available" and never "zero".

Rounding
--------
Display rounding is SAS's ``ROUND`` function: to the nearest multiple of ``10**-decimals``, and a
value halfway between two multiples goes to the one with the larger absolute value (half away
from zero). SAS documents that ``ROUND`` "returns the multiple with the larger absolute value
when the first argument is approximately halfway between the two nearest multiples" and that it
applies "extra computations, called fuzzing, to try to make the result agree with decimal
arithmetic" (SAS 9.4 Functions and CALL Routines Reference, ROUND / ROUNDZ functions).

Binary floating point cannot hold most decimal halves exactly: ``2.675`` is stored as
2.67499999999999982236431605997495353221893310546875, so a naive ``floor(x * 100 + 0.5)`` gives
2.67. :func:`round_half_away` treats a value as a half (and rounds it away from zero) when either

1. its shortest round-tripping decimal string (``repr``: the number as typed or read from a
   file, ``"2.675"``) is exactly a half, or
2. its exact binary value lies within a relative ``1e-12`` of a half, in the manner of SAS's
   fuzz (SAS does not publish ROUND's exact tolerance; ``1E-12`` is the one its ``FUZZ``
   function documents); this covers halves reached by arithmetic (``0.3 - 0.025`` is
   0.27499999999999997 in binary64 and shows as 0.28). Formally, with
   ``q = |x| * 10**decimals``, ``q`` rounds up when
   ``|frac(q) - 0.5| <= min(1e-12 * max(q, 1), 1e-6)``. The cap of ``1e-6`` rounding units
   matters only for huge values (``q > 1e6``), where a relative fuzz would swallow the digits
   being rounded (1e-12 of 1e15 is 1000).

Any other value is rounded to the nearest multiple from its exact binary value. Results are
exact decimals, so :func:`fmt_num` shows no binary noise (up to the 15-17 significant
digits a float carries).

Decimals rule
-------------
:func:`decimals_for` gives the number of decimals of each statistic from the number of decimals
of the raw values (the SAP's rule): mean, median, quartiles, geometric mean, estimates and
confidence limits one more than the raw value, SD and SE two more, minimum and maximum as raw,
percentages 1 and p-values 4 (see :data:`DEFAULT_DECIMALS_RULE`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from msc_analysis.rounding import round_decimal

__all__ = [
    "DEFAULT_DECIMALS_RULE",
    "MISSING",
    "NOT_ESTIMABLE",
    "DecimalsRule",
    "decimals_for",
    "fmt_ci",
    "fmt_mean_sd",
    "fmt_median_q1q3",
    "fmt_min_max",
    "fmt_n",
    "fmt_n_pct",
    "fmt_num",
    "fmt_p",
    "is_missing",
    "round_half_away",
]

#: Text of a missing cell.
MISSING = ""
#: Text of one missing part of a composite cell (e.g. the SD of a single value, a CI bound).
NOT_ESTIMABLE = "NE"



def is_missing(x: object) -> bool:
    """Return True for ``None``, NaN and ``pd.NA``-like values (anything not a finite number)."""
    if x is None:
        return True
    try:
        value = float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return True
    return math.isnan(value)


def _check_decimals(decimals: int) -> int:
    if isinstance(decimals, bool) or not isinstance(decimals, int) or decimals < 0:
        raise ValueError(f"decimals must be a non-negative integer, got {decimals!r}")
    return decimals


def round_half_away(x: float | None, decimals: int = 0) -> float:
    """Round half away from zero, as SAS ``ROUND(x, 10**-decimals)``, correct on binary floats.

    Parameters
    ----------
    x : float or None
        The value; ``None`` and NaN give NaN.
    decimals : int
        Number of decimals (>= 0).

    Returns
    -------
    float
        The rounded value (the float nearest the exact decimal result).

    Examples
    --------
    >>> round_half_away(2.675, 2), round_half_away(1.005, 2), round_half_away(-2.5)
    (2.68, 1.01, -3.0)
    """
    _check_decimals(decimals)
    if is_missing(x):
        return math.nan
    return float(round_decimal(float(x), decimals))  # type: ignore[arg-type]


def fmt_num(x: float | None, decimals: int) -> str:
    """Format a number rounded half away from zero to exactly ``decimals`` decimals.

    Missing gives ``""``. A result that rounds to zero is shown without a minus sign
    (``-0.001`` at 2 decimals is ``"0.00"``), as SAS prints it.

    Examples
    --------
    >>> fmt_num(2.675, 2), fmt_num(3, 1), fmt_num(float("nan"), 2)
    ('2.68', '3.0', '')
    """
    _check_decimals(decimals)
    if is_missing(x):
        return MISSING
    rounded = round_decimal(float(x), decimals)  # type: ignore[arg-type]
    if rounded == 0:
        rounded = abs(rounded)
    return f"{rounded:.{decimals}f}"


def fmt_n(n: float | None) -> str:
    """Format a count as an integer (``3.0`` -> ``"3"``); missing gives ``""``."""
    if is_missing(n):
        return MISSING
    value = float(n)  # type: ignore[arg-type]
    if value != round(value):
        raise ValueError(f"a count must be a whole number, got {n!r}")
    return str(int(value))


def fmt_n_pct(
    n: float | None,
    N: float | None,
    decimals: int = 1,
    *,
    pct: float | None = None,
) -> str:
    """Format a count with its percentage: ``"3 (30.0)"``.

    Conventions (documented for the reader of the tables):

    - ``n = 0`` is shown as ``"0"`` with no percentage.
    - ``n = N`` (100 %) is shown as ``"10 (100)"``, without decimals, so 100 % is never confused
      with a rounded value.
    - A percentage that is not 100 but would round to 100 is shown as ``">99.9"``, and one that is
      not 0 but would round to 0 as ``"<0.1"`` (at 1 decimal).

    Parameters
    ----------
    n, N : float
        Count and denominator. ``N`` may be None only when ``pct`` is given.
    decimals : int
        Decimals of the percentage (the SAP's rule: 1).
    pct : float, optional
        The percentage as stored in the ARD (``100 * n / N``); when given it is displayed instead
        of recomputing it, so that the cell traces to the ARD's ``pct`` row.

    Examples
    --------
    >>> fmt_n_pct(3, 10), fmt_n_pct(0, 10), fmt_n_pct(10, 10)
    ('3 (30.0)', '0', '10 (100)')
    """
    _check_decimals(decimals)
    if is_missing(n):
        return MISSING
    count = fmt_n(n)
    if pct is None or is_missing(pct):
        if is_missing(N):
            raise ValueError("fmt_n_pct needs the denominator N or the percentage pct")
        if float(N) <= 0:  # type: ignore[arg-type]
            raise ValueError(f"denominator N must be positive, got {N!r}")
        if float(n) > float(N) or float(n) < 0:  # type: ignore[arg-type]
            raise ValueError(f"count n = {n!r} is outside 0..N = {N!r}")
        value = 100.0 * float(n) / float(N)  # type: ignore[arg-type]
    else:
        value = float(pct)
    if float(n) == 0:  # type: ignore[arg-type]
        return count
    if value == 100.0:
        return f"{count} (100)"
    unit = 10.0 ** -decimals
    shown = fmt_num(value, decimals)
    if float(shown) >= 100.0:
        return f"{count} (>{fmt_num(100.0 - unit, decimals)})"
    if float(shown) == 0.0:
        return f"{count} (<{fmt_num(unit, decimals)})"
    return f"{count} ({shown})"


def fmt_ci(low: float | None, high: float | None, decimals: int) -> str:
    """Format a confidence interval ``"(0.12, 0.34)"``.

    Both limits missing gives ``""``; one missing limit is shown as ``NE`` (not estimable).
    """
    if is_missing(low) and is_missing(high):
        return MISSING
    return f"({_part(low, decimals)}, {_part(high, decimals)})"


def fmt_p(p: float | None, decimals: int = 4) -> str:
    """Format a p-value: ``"<0.0001"`` and ``">0.9999"`` at the ends (for 4 decimals).

    Below ``10**-decimals`` the text is ``"<0.0001"``, above ``1 - 10**-decimals`` ``">0.9999"``;
    otherwise the value rounded half away from zero to ``decimals`` decimals. A p-value outside
    [0, 1] is an error.

    Examples
    --------
    >>> fmt_p(0.00004), fmt_p(0.0123456), fmt_p(1.0)
    ('<0.0001', '0.0123', '>0.9999')
    """
    _check_decimals(decimals)
    if decimals == 0:
        raise ValueError("p-values need at least one decimal")
    if is_missing(p):
        return MISSING
    value = float(p)  # type: ignore[arg-type]
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"a p-value must lie in [0, 1], got {p!r}")
    unit = Decimal(1).scaleb(-decimals)
    exact = Decimal(repr(value))
    if exact < unit:
        return f"<{unit:.{decimals}f}"
    if exact > 1 - unit:
        return f">{1 - unit:.{decimals}f}"
    return fmt_num(value, decimals)


def fmt_mean_sd(
    mean: float | None, sd: float | None, decimals: int, sd_decimals: int | None = None
) -> str:
    """Format ``"mean (SD)"``: ``"12.3 (4.56)"``.

    ``decimals`` is the mean's (raw + 1 under the SAP's rule); ``sd_decimals`` defaults to
    ``decimals + 1`` (raw + 2). A missing SD (a single value) is shown as ``NE``; a missing
    mean gives ``""``.
    """
    if is_missing(mean):
        return MISSING
    sd_dec = decimals + 1 if sd_decimals is None else sd_decimals
    return f"{fmt_num(mean, decimals)} ({_part(sd, sd_dec)})"


def fmt_median_q1q3(
    median: float | None, q1: float | None, q3: float | None, decimals: int
) -> str:
    """Format ``"median (Q1, Q3)"``: ``"1.23 (0.45, 2.34)"``; missing median gives ``""``."""
    if is_missing(median):
        return MISSING
    return f"{fmt_num(median, decimals)} ({_part(q1, decimals)}, {_part(q3, decimals)})"


def fmt_min_max(low: float | None, high: float | None, decimals: int) -> str:
    """Format ``"min, max"``: ``"0.1, 9.8"``; both missing gives ``""``."""
    if is_missing(low) and is_missing(high):
        return MISSING
    return f"{_part(low, decimals)}, {_part(high, decimals)}"


def _part(x: float | None, decimals: int) -> str:
    return NOT_ESTIMABLE if is_missing(x) else fmt_num(x, decimals)


@dataclass(frozen=True)
class DecimalsRule:
    """How many decimals each statistic gets, from the decimals of the raw values.

    The same rule as the SAP settings' ``[decimals]`` table (``msc_analysis.sap.Decimals``):
    a fixed number wins over an offset, and an offset never goes beyond ``max_decimals``.

    Parameters
    ----------
    offsets : mapping
        stat_name -> decimals added to the raw decimals (mean: 1, sd: 2, min: 0, ...).
    fixed : mapping
        stat_name -> fixed number of decimals whatever the raw decimals (pct: 1, p_value: 4).
    max_decimals : int
        Upper bound of a raw + offset result.
    """

    offsets: Mapping[str, int] = field(default_factory=dict)
    fixed: Mapping[str, int] = field(default_factory=dict)
    max_decimals: int = 4

    def __post_init__(self) -> None:
        checked = {**self.offsets, **self.fixed, "max_decimals": self.max_decimals}
        for name, value in checked.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"decimals of {name!r} must be a non-negative integer")
        object.__setattr__(self, "offsets", MappingProxyType(dict(self.offsets)))
        object.__setattr__(self, "fixed", MappingProxyType(dict(self.fixed)))

    def for_stat(self, stat_name: str, raw_decimals: int) -> int:
        """Decimals of ``stat_name`` for raw values with ``raw_decimals`` decimals."""
        if stat_name in self.fixed:
            return self.fixed[stat_name]
        if stat_name in self.offsets:
            return min(raw_decimals + self.offsets[stat_name], self.max_decimals)
        raise ValueError(f"no decimals rule for stat_name {stat_name!r}")

    @classmethod
    def from_mapping(cls, rule: Mapping[str, object]) -> DecimalsRule:
        """Build a rule from a mapping.

        Either the SAP's layout ``{"relative": {...}, "fixed": {...}, "max_decimals": 4}``, or a
        flat ``{stat_name: "+1" | "raw" | 4}`` where a signed string is an offset from the raw
        decimals (``"raw"`` is ``"+0"``) and an integer a fixed number.
        """
        if "relative" in rule or "fixed" in rule:
            return cls(
                offsets=dict(rule.get("relative", {})),  # type: ignore[call-overload]
                fixed=dict(rule.get("fixed", {})),  # type: ignore[call-overload]
                max_decimals=int(rule.get("max_decimals", 4)),  # type: ignore[call-overload]
            )
        offsets: dict[str, int] = {}
        fixed: dict[str, int] = {}
        for name, spec in rule.items():
            if isinstance(spec, str):
                text = spec.strip().lower()
                if text == "raw":
                    offsets[name] = 0
                elif text.startswith(("+", "raw+")):
                    offsets[name] = int(text.removeprefix("raw").removeprefix("+"))
                else:
                    fixed[name] = int(text)
            elif isinstance(spec, int) and not isinstance(spec, bool):
                fixed[name] = spec
            else:
                raise ValueError(f"decimals rule for {name!r} must be '+k', 'raw' or an integer")
        return cls(offsets=offsets, fixed=fixed)


#: The SAP's decimals rule, as in ``sap/sap.toml`` ``[decimals]`` (SAP section 7.12): mean,
#: median, q1, q3, geo_mean, estimate and confidence limits raw + 1; sd, se raw + 2; min, max
#: raw; pct 1; p-values 4; counts 0; and the fixed decimals of the other ARD statistics. ``value``
#: (raw + 0) and ``conf_level`` (2) are additions of the render layer.
DEFAULT_DECIMALS_RULE = DecimalsRule(
    offsets={
        "mean": 1, "median": 1, "q1": 1, "q3": 1, "geo_mean": 1, "estimate": 1,
        "conf_low": 1, "conf_high": 1, "sd": 2, "se": 2, "min": 0, "max": 0, "value": 0,
    },
    fixed={
        "N": 0, "n": 0, "n_missing": 0, "n_excluded": 0, "n_events": 0, "n_sessions": 0,
        "pct": 1, "geo_cv": 1, "rate": 2, "statistic": 2, "df": 1, "p_value": 4,
        "p_value_adj": 4, "post_mean": 3, "post_prob": 3, "threshold": 2, "boundary": 0,
        "decision": 0, "prob_stop": 3, "expected_n": 2, "mcse": 4, "loglik": 2,
        "conf_level": 2,
    },
    max_decimals=4,
)


def decimals_for(
    stat_name: str,
    raw_decimals: int,
    rule: DecimalsRule | Mapping[str, object] | Any | None = None,
) -> int:
    """Number of decimals to display ``stat_name`` of a variable recorded with ``raw_decimals``.

    Parameters
    ----------
    stat_name : str
        An ARD stat name (``mean``, ``sd``, ``pct``, ...).
    raw_decimals : int
        Decimals of the raw values (``Parameter.decimals`` in the SAP settings).
    rule : DecimalsRule, the SAP's Decimals, or mapping, optional
        The rule. Pass the SAP settings' ``sap.decimals`` (any object with a
        ``for_stat(stat_name, raw_decimals)`` method is asked directly), a
        :class:`DecimalsRule`, or a mapping read by :meth:`DecimalsRule.from_mapping`. Default
        :data:`DEFAULT_DECIMALS_RULE` (the SAP's rule as written in ``sap/sap.toml``).

    Examples
    --------
    >>> decimals_for("mean", 1), decimals_for("sd", 1), decimals_for("max", 1)
    (2, 3, 1)
    >>> decimals_for("p_value", 1), decimals_for("pct", 3)
    (4, 1)
    """
    _check_decimals(raw_decimals)
    if rule is None:
        rule = DEFAULT_DECIMALS_RULE
    elif isinstance(rule, Mapping):
        rule = DecimalsRule.from_mapping(rule)
    if not hasattr(rule, "for_stat"):
        raise TypeError(f"decimals rule must have a for_stat method, got {type(rule).__name__}")
    return int(rule.for_stat(stat_name, raw_decimals))
