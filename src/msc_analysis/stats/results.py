"""Shared pieces of the statistics core: result containers, input checks and the input error.

Every test function of :mod:`msc_analysis.stats` returns a small frozen result object in the
style of :mod:`scipy.stats` (``res.statistic``, ``res.pvalue``, ``res.estimate``,
``res.conf_int``, ``res.confidence_interval()``, ``res.method``, ``res.n``). The objects hold
unrounded values; rounding belongs to rendering.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from msc_analysis.errors import AnalysisError

FloatArray = NDArray[np.float64]


class StatsInputError(AnalysisError, ValueError):
    """Input that a statistic cannot be computed from (empty, all zero, non-positive for logs).

    It is both an :class:`~msc_analysis.errors.AnalysisError` (so the command line shows the
    message, not a traceback) and a :class:`ValueError` (the usual Python signal for a bad
    argument value).
    """


class ConfidenceInterval(NamedTuple):
    """A confidence interval ``(low, high)``; infinite ends mark one-sided intervals."""

    low: float
    high: float


@dataclass(frozen=True)
class _IntervalMixin:
    conf_int: tuple[float, float]

    def confidence_interval(self) -> ConfidenceInterval:
        """Return the confidence interval as a ``(low, high)`` named tuple."""
        return ConfidenceInterval(float(self.conf_int[0]), float(self.conf_int[1]))


@dataclass(frozen=True)
class SignedRankResult(_IntervalMixin):
    """Result of :func:`msc_analysis.stats.wilcoxon_signed_rank` (R ``wilcox.test``, paired).

    Attributes
    ----------
    statistic : float
        V, the sum of the ranks of the positive differences (zeros dropped).
    pvalue : float
        p-value for ``alternative``.
    estimate : float
        Hodges-Lehmann (pseudo)median: the median of the Walsh averages on the exact path,
        the root of the uncorrected standardised statistic on the normal path (as R).
    conf_int : tuple of float
        Confidence limits (Bauer's exact interval, or R's asymptotic interval).
    conf_level : float
        Confidence level of ``conf_int``: the requested level, or the achieved level when
        the requested one cannot be reached (R then warns and reports the achieved level).
    method : str
        R's method title, e.g. ``"Wilcoxon signed rank exact test"``.
    alternative : str
        ``"two-sided"``, ``"greater"`` or ``"less"``.
    n : int
        Number of non-zero differences used in the ranking.
    n_zero : int
        Number of zero differences dropped.
    n_ties : int
        Number of non-zero differences whose absolute value is shared with another one.
    n_missing : int
        Number of pairs dropped because x or y was missing.
    exact : bool
        True when the p-value and interval come from the exact signed-rank distribution.
    zstat : float
        Standardised (continuity-corrected when ``correct``) statistic on the normal path;
        NaN on the exact path.
    """

    statistic: float
    pvalue: float
    estimate: float
    conf_level: float
    method: str
    alternative: str
    n: int
    n_zero: int
    n_ties: int
    n_missing: int
    exact: bool
    zstat: float


@dataclass(frozen=True)
class PairedTResult(_IntervalMixin):
    """Result of :func:`msc_analysis.stats.paired_t` (R ``t.test(x, y, paired = TRUE)``).

    Attributes
    ----------
    statistic : float
        t statistic of the mean (log) difference.
    df : float
        Degrees of freedom, n - 1.
    pvalue : float
        Two-sided p-value.
    estimate : float
        Mean difference x - y, or, when ``log``, the geometric mean ratio x / y.
    conf_int : tuple of float
        Confidence limits of ``estimate`` (back-transformed when ``log``).
    conf_level : float
        Confidence level.
    method : str
        ``"Paired t-test"`` or ``"Paired t-test on log scale (geometric mean ratio)"``.
    n : int
        Number of complete pairs.
    n_missing : int
        Number of pairs dropped because x or y was missing.
    mean_diff : float
        Mean of the differences on the analysis scale (log scale when ``log``).
    sd_diff : float
        Standard deviation of those differences.
    se : float
        Standard error of ``mean_diff``.
    log : bool
        True when the analysis was on the log scale.
    """

    statistic: float
    df: float
    pvalue: float
    estimate: float
    conf_level: float
    method: str
    n: int
    n_missing: int
    mean_diff: float
    sd_diff: float
    se: float
    log: bool


@dataclass(frozen=True)
class SignTestResult(_IntervalMixin):
    """Result of :func:`msc_analysis.stats.sign_test`.

    Attributes
    ----------
    statistic : float
        Number of positive differences.
    pvalue : float
        Exact two-sided binomial p-value, as R ``binom.test(n_pos, n_pos + n_neg)``.
    estimate : float
        Median of all non-missing differences (zeros included).
    conf_int : tuple of float
        Distribution-free order-statistic interval for the median difference.
    conf_level : float
        Achieved confidence level of ``conf_int`` (at least the requested level when
        possible; see :func:`msc_analysis.stats.sign_test`).
    method : str
        ``"Exact sign test"``.
    n : int
        Number of non-zero differences (the binomial size).
    n_pos, n_neg, n_zero : int
        Counts of positive, negative and zero differences.
    n_missing : int
        Number of pairs dropped because x or y was missing.
    """

    statistic: float
    pvalue: float
    estimate: float
    conf_level: float
    method: str
    n: int
    n_pos: int
    n_neg: int
    n_zero: int
    n_missing: int


def as_float_array(values: ArrayLike, name: str) -> FloatArray:
    """Convert array-like input (list, numpy array, pandas Series) to a 1-D float array.

    Missing values (None, NaN, ``pd.NA``) become NaN.

    Raises
    ------
    StatsInputError
        If the values are not numeric or not one-dimensional.
    """
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        to_numpy = getattr(values, "to_numpy", None)
        if to_numpy is None:
            raise StatsInputError(f"{name}: values must be numeric") from None
        try:
            arr = np.asarray(to_numpy(dtype=float, na_value=np.nan), dtype=float)
        except (TypeError, ValueError):
            raise StatsInputError(f"{name}: values must be numeric") from None
    arr = np.atleast_1d(arr)
    if arr.ndim != 1:
        raise StatsInputError(f"{name}: expected a one-dimensional sequence, got shape {arr.shape}")
    if np.isinf(arr).any():
        raise StatsInputError(f"{name}: infinite values are not allowed")
    return arr


def paired_differences(
    x: ArrayLike, y: ArrayLike | None, *, log: bool = False
) -> tuple[FloatArray, int]:
    """Differences ``x - y`` of the complete pairs (``log(x) - log(y)`` when ``log``).

    Pairs with a missing x or y are dropped, as R's ``complete.cases``; their number is
    returned with the differences. With ``y=None``, ``x`` holds the differences already.

    Returns
    -------
    diffs : numpy.ndarray
        The differences of the complete pairs.
    n_missing : int
        The number of pairs dropped.

    Raises
    ------
    StatsInputError
        On unequal lengths, no complete pair, or non-positive values when ``log``.
    """
    xa = as_float_array(x, "x")
    if y is None:
        ok = ~np.isnan(xa)
        xs = xa[ok]
        ys = None
    else:
        ya = as_float_array(y, "y")
        if xa.shape != ya.shape:
            raise StatsInputError(
                f"x and y must have the same length for a paired analysis "
                f"(x has {xa.size}, y has {ya.size})"
            )
        ok = ~(np.isnan(xa) | np.isnan(ya))
        xs, ys = xa[ok], ya[ok]
    n_missing = int((~ok).sum())
    if xs.size == 0:
        raise StatsInputError(
            f"not enough (non-missing) observations: 0 complete pairs ({n_missing} missing)"
        )
    if log:
        _check_positive(xs, "x")
        if ys is not None:
            _check_positive(ys, "y")
        diffs = np.log(xs) if ys is None else np.log(xs) - np.log(ys)
    else:
        diffs = xs.copy() if ys is None else xs - ys
    return diffs, n_missing


def _check_positive(values: FloatArray, name: str) -> None:
    bad = values[values <= 0]
    if bad.size:
        shown = ", ".join(f"{v:g}" for v in bad[:5])
        raise StatsInputError(
            f"{name}: log-scale analysis needs values > 0; found {bad.size} value(s) <= 0 "
            f"({shown})"
        )


def check_conf_level(conf_level: float) -> float:
    """Return ``conf_level`` as float after checking 0 < conf_level < 1."""
    level = float(conf_level)
    if not 0.0 < level < 1.0:
        raise StatsInputError(f"conf_level must be strictly between 0 and 1, got {conf_level!r}")
    return level


def check_alternative(alternative: str, allowed: Sequence[str]) -> str:
    """Normalise ``alternative`` (R's ``two.sided`` is accepted) and check it."""
    alt = "two-sided" if alternative == "two.sided" else alternative
    if alt not in allowed:
        raise StatsInputError(
            f"alternative must be one of {', '.join(allowed)}; got {alternative!r}"
        )
    return alt
