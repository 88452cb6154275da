"""SAS-style rounding (half away from zero, with fuzz): the one rule of the package.

Display formatting (:mod:`msc_analysis.render.formatting`) and derivations that round by
definition (MELD scores, results in original units) both use it, so a number rounds the same way
everywhere.

The rule (SAS ``ROUND(x, 10**-decimals)``): with ``q = |x| * 10**decimals``, ``q`` goes to the
larger integer when it is a half, and to the nearest integer otherwise. A value is a half when
its shortest round-tripping decimal (``repr``, the number as typed or read) is exactly a half, or
when its exact binary value is within ``min(1e-12 * max(q, 1), 1e-6)`` of a half (SAS's fuzz;
the cap keeps huge values from swallowing the digits being rounded). So ``2.675`` rounds to
2.68 although its double is 2.67499999999999982...
"""

from __future__ import annotations

import math
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["FUZZ", "MAX_FUZZ", "round_decimal", "round_half_away_array"]

#: Relative tolerance within which a value counts as an exact half (SAS's ROUND/FUZZ use 1E-12).
FUZZ = Decimal("1e-12")
#: Largest tolerance, in rounding units (1e-12 of 1e15 would otherwise be 1000).
MAX_FUZZ = Decimal("1e-6")
_HALF = Decimal("0.5")


def round_decimal(x: float, decimals: int) -> Decimal:
    """Round a finite float half away from zero (with SAS-style fuzz) as an exact Decimal.

    Raises
    ------
    ValueError
        For an infinite value.
    """
    value = float(x)
    if math.isinf(value):
        raise ValueError(f"cannot round an infinite value ({value})")
    negative = math.copysign(1.0, value) < 0
    q_short = abs(Decimal(repr(value))).scaleb(decimals)
    q_exact = abs(Decimal(value)).scaleb(decimals)
    tolerance = min(FUZZ * max(q_exact, Decimal(1)), MAX_FUZZ)
    if q_short - q_short.to_integral_value(rounding=ROUND_FLOOR) == _HALF:
        rounded = q_short.to_integral_value(rounding=ROUND_FLOOR) + 1
    elif abs(q_exact - q_exact.to_integral_value(rounding=ROUND_FLOOR) - _HALF) <= tolerance:
        rounded = q_exact.to_integral_value(rounding=ROUND_FLOOR) + 1
    else:
        rounded = q_exact.to_integral_value(rounding=ROUND_HALF_UP)
    result = rounded.scaleb(-decimals)
    return -result if negative else result


def round_half_away_array(x: ArrayLike, decimals: int = 0) -> NDArray[np.float64]:
    """Vectorised :func:`round_decimal` as floats (NaN and infinities pass through).

    Values far from a half are rounded with numpy; the few within 1e-6 rounding units of a half
    go through the exact rule, so every element equals ``float(round_decimal(x, decimals))``.
    """
    values = np.asarray(x, dtype=float)
    scale = 10.0**decimals
    scaled = np.abs(values) * scale
    out = np.sign(values) * np.floor(scaled + 0.5) / scale
    with np.errstate(invalid="ignore"):
        near = np.isfinite(values) & (np.abs(scaled - np.floor(scaled) - 0.5) < 1e-5)
    if near.any():
        flat = out.reshape(-1)
        src = values.reshape(-1)
        for i in np.flatnonzero(near.reshape(-1)):
            flat[i] = float(round_decimal(float(src[i]), decimals))
        out = flat.reshape(values.shape)
    return out
