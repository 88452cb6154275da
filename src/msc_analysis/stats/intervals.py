"""Exact confidence intervals for a binomial proportion and a Poisson rate."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats as sps

from msc_analysis.stats.results import StatsInputError, check_conf_level


def _as_counts(values: ArrayLike, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if np.isnan(arr).any():
        raise StatsInputError(f"{name}: missing values are not allowed")
    if (arr < 0).any() or (arr != np.floor(arr)).any():
        raise StatsInputError(f"{name}: must be non-negative whole numbers")
    return arr


def clopper_pearson(
    x: ArrayLike, n: ArrayLike, conf_level: float = 0.95
) -> tuple[float, float] | tuple[np.ndarray, np.ndarray]:
    """Clopper-Pearson exact interval for ``x`` successes out of ``n``.

    Equals R's ``binom.test(x, n, conf.level = conf_level)$conf.int``:
    ``low = qbeta(alpha/2, x, n - x + 1)`` (0 when ``x = 0``) and
    ``high = qbeta(1 - alpha/2, x + 1, n - x)`` (1 when ``x = n``).

    Parameters
    ----------
    x, n : int or array_like of int
        Successes and trials (broadcast together), ``0 <= x <= n``, ``n >= 1``.
    conf_level : float
        Confidence level.

    Returns
    -------
    (low, high)
        Floats for scalar input, arrays otherwise.
    """
    level = check_conf_level(conf_level)
    xa, na = np.broadcast_arrays(_as_counts(x, "x"), _as_counts(n, "n"))
    if (na < 1).any() or (xa > na).any():
        raise StatsInputError("clopper_pearson: need n >= 1 and 0 <= x <= n")
    alpha = 1 - level
    with np.errstate(invalid="ignore", divide="ignore"):
        low = np.where(xa == 0, 0.0, sps.beta.ppf(alpha / 2, xa, na - xa + 1))
        high = np.where(xa == na, 1.0, sps.beta.ppf(1 - alpha / 2, xa + 1, na - xa))
    if np.ndim(x) == 0 and np.ndim(n) == 0:
        return float(low), float(high)
    return low, high


def poisson_exact_ci(
    events: ArrayLike, exposure: ArrayLike = 1.0, conf_level: float = 0.95
) -> tuple[float, float] | tuple[np.ndarray, np.ndarray]:
    """Exact (Garwood) interval for a Poisson rate, per unit of ``exposure``.

    Equals R's ``poisson.test(events, exposure, conf.level = conf_level)$conf.int``:
    ``low = qgamma(alpha/2, events) / exposure`` (0 when ``events = 0``) and
    ``high = qgamma(1 - alpha/2, events + 1) / exposure``.

    Parameters
    ----------
    events : int or array_like of int
        Observed event counts.
    exposure : float or array_like
        Exposure (time base) > 0, e.g. the number of sessions; multiply the limits by 100
        for a rate per 100 sessions.
    conf_level : float
        Confidence level.
    """
    level = check_conf_level(conf_level)
    ev = _as_counts(events, "events")
    expo = np.asarray(exposure, dtype=float)
    if np.isnan(expo).any() or (expo <= 0).any():
        raise StatsInputError("poisson_exact_ci: exposure must be > 0")
    ev, expo = np.broadcast_arrays(ev, expo)
    alpha = 1 - level
    with np.errstate(invalid="ignore", divide="ignore"):
        low = np.where(ev == 0, 0.0, sps.gamma.ppf(alpha / 2, ev)) / expo
        high = sps.gamma.ppf(1 - alpha / 2, ev + 1) / expo
    if np.ndim(events) == 0 and np.ndim(exposure) == 0:
        return float(low), float(high)
    return low, high
