"""Descriptive statistics with SAS-default quartiles, and Holm's multiplicity adjustment."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from msc_analysis.stats.results import FloatArray, StatsInputError, as_float_array


def sas_quantile(values: ArrayLike, prob: float) -> float:
    """Quantile by SAS's default definition, ``QNTLDEF=5`` (equal to R ``type = 2``).

    With the sorted values ``x_(1) <= ... <= x_(n)`` and ``n * prob = j + g`` (``j`` the
    integer part, ``g`` the fraction): the quantile is ``(x_(j) + x_(j+1)) / 2`` when
    ``g = 0`` and ``x_(j+1)`` when ``g > 0`` (SAS/STAT, PROC UNIVARIATE, "Calculating
    Percentiles", definition 5, the default; PROC MEANS uses the same default).
    Missing values are ignored; NaN when no value is left.
    """
    arr = as_float_array(values, "values")
    arr = np.sort(arr[~np.isnan(arr)])
    n = arr.size
    if n == 0:
        return math.nan
    if not 0.0 <= prob <= 1.0:
        raise StatsInputError(f"quantile probability must be in [0, 1], got {prob}")
    np_ = n * prob
    j = math.floor(np_)
    g = np_ - j
    if g > 0:
        return float(arr[min(j, n - 1)])
    if j == 0:
        return float(arr[0])
    if j >= n:
        return float(arr[-1])
    return float((arr[j - 1] + arr[j]) / 2)


def describe(values: ArrayLike, log: bool = False) -> dict[str, float]:
    """Summary statistics named as the ARD stat names.

    Parameters
    ----------
    values : array_like
        The values; NaN / None / ``pd.NA`` count as missing.
    log : bool
        Also return the geometric mean and geometric CV (values must then be > 0).

    Returns
    -------
    dict
        ``n``, ``n_missing``, ``mean``, ``sd`` (n - 1 denominator), ``median``, ``q1``, ``q3``
        (SAS ``QNTLDEF=5``, see :func:`sas_quantile`), ``min``, ``max``; with ``log`` also
        ``geo_mean = exp(mean(log x))`` and ``geo_cv = 100 * sqrt(exp(s^2) - 1)`` with ``s``
        the SD of ``log x``. Statistics undefined for the sample size are NaN (all but
        ``n`` / ``n_missing`` when n = 0; ``sd`` and ``geo_cv`` when n = 1).

    Raises
    ------
    StatsInputError
        Non-numeric values, or values <= 0 with ``log``.
    """
    arr = as_float_array(values, "values")
    missing = np.isnan(arr)
    x: FloatArray = arr[~missing]
    n = int(x.size)
    out: dict[str, float] = {"n": float(n), "n_missing": float(missing.sum())}
    nan = math.nan
    out["mean"] = float(np.mean(x)) if n else nan
    out["sd"] = float(np.std(x, ddof=1)) if n > 1 else nan
    out["median"] = sas_quantile(x, 0.5)
    out["q1"] = sas_quantile(x, 0.25)
    out["q3"] = sas_quantile(x, 0.75)
    out["min"] = float(np.min(x)) if n else nan
    out["max"] = float(np.max(x)) if n else nan
    if log:
        bad = x[x <= 0]
        if bad.size:
            raise StatsInputError(
                f"values: geometric statistics need values > 0; found {bad.size} value(s) <= 0"
            )
        lx = np.log(x)
        out["geo_mean"] = float(np.exp(np.mean(lx))) if n else nan
        s = float(np.std(lx, ddof=1)) if n > 1 else nan
        out["geo_cv"] = 100 * math.sqrt(math.expm1(s * s)) if n > 1 else nan
    return out


def holm(pvalues: ArrayLike) -> FloatArray:
    """Holm's step-down adjusted p-values, as R ``p.adjust(p, method = "holm")``.

    ``p_adj[o] = min(1, cummax((m - i + 1) * p[o]))`` with ``o`` the ascending order and
    ``m`` the number of non-missing p-values; missing p-values stay NaN (R's ``n = length(p)``
    default counts only non-NA values once they are removed).
    """
    p = as_float_array(pvalues, "pvalues")
    ok = ~np.isnan(p)
    pv = p[ok]
    if ((pv < 0) | (pv > 1)).any():
        raise StatsInputError("pvalues must lie in [0, 1]")
    out = np.full(p.shape, np.nan)
    m = pv.size
    if m == 0:
        return out
    order = np.argsort(pv, kind="stable")
    mult = m - np.arange(m)
    adj = np.minimum(1.0, np.maximum.accumulate(mult * pv[order]))
    res = np.empty(m)
    res[order] = adj
    out[ok] = res
    return out
