"""Paired t-test (arithmetic or log scale) and exact sign test."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats as sps

from msc_analysis.stats.results import (
    PairedTResult,
    SignTestResult,
    StatsInputError,
    check_conf_level,
    paired_differences,
)


def paired_t(
    x: ArrayLike,
    y: ArrayLike | None = None,
    log: bool = False,
    conf_level: float = 0.95,
) -> PairedTResult:
    """Paired t-test of ``x - y``, as R's ``t.test(x, y, paired = TRUE)`` (two-sided).

    With ``log=True`` the differences are ``log(x) - log(y)``; the estimate and confidence
    limits are back-transformed with ``exp`` to the geometric mean ratio x / y, while the
    statistic, df and p-value are those of the log-scale test.

    Parameters
    ----------
    x, y : array_like
        Paired measurements. With ``y`` None, ``x`` holds the differences (or, with ``log``,
        the ratios x / y, whose logs are tested).
    log : bool
        Analyse on the log scale (all values must be > 0).
    conf_level : float
        Confidence level of the interval.

    Returns
    -------
    PairedTResult

    Raises
    ------
    StatsInputError
        Fewer than 2 complete pairs, constant differences (R: "data are essentially
        constant"), or values <= 0 with ``log``.
    """
    level = check_conf_level(conf_level)
    d, n_missing = paired_differences(x, y, log=log)
    n = int(d.size)
    if n < 2:
        raise StatsInputError(f"paired t-test needs at least 2 complete pairs, got {n}")
    mean = float(np.mean(d))
    sd = float(np.std(d, ddof=1))
    se = sd / math.sqrt(n)
    # R: if(stderr < 10 *.Machine$double.eps * abs(mx)) stop("data are essentially constant")
    if se < 10 * np.finfo(float).eps * abs(mean) or se == 0:
        raise StatsInputError("paired t-test: the differences are essentially constant")
    df = n - 1
    tstat = mean / se
    pvalue = float(2 * sps.t.sf(abs(tstat), df))
    half = float(sps.t.ppf(1 - (1 - level) / 2, df)) * se
    low, high = mean - half, mean + half
    if log:
        estimate, low, high = math.exp(mean), math.exp(low), math.exp(high)
        method = "Paired t-test on log scale (geometric mean ratio)"
    else:
        estimate = mean
        method = "Paired t-test"
    return PairedTResult(
        statistic=float(tstat), df=float(df), pvalue=pvalue, estimate=estimate,
        conf_int=(low, high), conf_level=level, method=method, n=n, n_missing=n_missing,
        mean_diff=mean, sd_diff=sd, se=se, log=log,
    )


def sign_test(
    x: ArrayLike, y: ArrayLike | None = None, conf_level: float = 0.95
) -> SignTestResult:
    """Exact sign test of ``x - y`` with the distribution-free interval for the median.

    Conventions (documented because software differ):

    * Test: zero differences are dropped; with ``n_pos`` positive out of ``m`` non-zero
      differences the two-sided p-value is R's ``binom.test(n_pos, m, 0.5)$p.value``, i.e.
      ``min(1, 2 * min(P(B <= n_pos), P(B >= n_pos)))`` with ``B ~ Binomial(m, 1/2)``.
    * Estimate: the median of all ``n`` non-missing differences, zeros included (a zero is an
      observed difference of the median being estimated).
    * Interval: order statistics ``(d_(k), d_(n+1-k))`` of the sorted differences with ``k``
      the largest integer >= 1 such that the coverage ``1 - 2 P(B_n <= k - 1)``,
      ``B_n ~ Binomial(n, 1/2)``, is at least ``conf_level`` (Hollander & Wolfe,
      *Nonparametric Statistical Methods*, sect. 3.6; SAS PROC UNIVARIATE's distribution-free
      interval for the median). The achieved coverage is reported in ``conf_level``. When no
      ``k`` reaches the requested level (small ``n``), ``k = 1`` (min, max) is used and its
      smaller coverage is reported.

    Raises
    ------
    StatsInputError
        No complete pair, or all differences zero.
    """
    level = check_conf_level(conf_level)
    d, n_missing = paired_differences(x, y)
    n_pos = int((d > 0).sum())
    n_neg = int((d < 0).sum())
    n_zero = int((d == 0).sum())
    m = n_pos + n_neg
    if m == 0:
        raise StatsInputError(f"all {n_zero} non-missing differences are zero: sign test undefined")
    p_low = float(sps.binom.cdf(n_pos, m, 0.5))
    p_high = float(sps.binom.sf(n_pos - 1, m, 0.5))
    pvalue = min(1.0, 2 * min(p_low, p_high))

    n = int(d.size)
    srt = np.sort(d)
    k, coverage = _order_statistic_rank(n, level)
    return SignTestResult(
        statistic=float(n_pos), pvalue=pvalue, estimate=float(np.median(d)),
        conf_int=(float(srt[k - 1]), float(srt[n - k])), conf_level=coverage,
        method="Exact sign test", n=m, n_pos=n_pos, n_neg=n_neg, n_zero=n_zero,
        n_missing=n_missing,
    )


def _order_statistic_rank(n: int, level: float) -> tuple[int, float]:
    """Rank ``k`` of the sign test's interval ``(d_(k), d_(n+1-k))`` and its coverage.

    ``k`` is the largest integer >= 1 such that every ``j = 2 .. k`` has coverage
    ``1 - 2 P(B_n <= j - 1)`` >= ``level`` (``B_n ~ Binomial(n, 1/2)``); ``k = 1`` (min, max)
    when none has. The coverages of all candidates ``j = 2 .. n // 2`` are computed in one
    vectorised call of the binomial CDF (element by element the same computation as one call
    per candidate).

    Returns
    -------
    k : int
        The rank.
    coverage : float
        The achieved coverage of ``(d_(k), d_(n+1-k))``.
    """
    candidates = np.arange(2, n // 2 + 1)
    coverages = 1 - 2 * sps.binom.cdf(candidates - 1, n, 0.5)
    reached = coverages >= level
    # the candidates before the first one that falls short (the coverage decreases with j)
    n_ok = int(np.argmin(reached)) if not reached.all() else int(reached.size)
    if n_ok == 0:
        return 1, 1 - 2 * float(sps.binom.cdf(0, n, 0.5))
    return int(candidates[n_ok - 1]), float(coverages[n_ok - 1])
