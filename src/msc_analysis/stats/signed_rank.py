"""Wilcoxon signed-rank test with Hodges-Lehmann estimate, as R's ``wilcox.test``.

This is a line-by-line port of the one-sample / paired branch of R's
``stats::wilcox.test.default`` (file ``src/library/stats/R/wilcox.test.R``) as it behaves in
the released R versions up to 4.5, called as
``wilcox.test(x, y, paired = TRUE, conf.int = TRUE)``:

* differences ``d = x - y`` of complete pairs; zero differences are dropped (Wilcoxon's
  convention, R's only one); V is the sum of the ranks of ``|d|`` of the positive ``d``;
* exact path (default when fewer than 50 non-zero differences, no ties and no zeros): p-value
  from the signed-rank distribution (R's ``psignrank``), Bauer's (1972) exact interval from
  the sorted Walsh averages with R's ``qsignrank``, estimate = median of the Walsh averages;
* otherwise the normal approximation with tie-corrected variance and (by default) continuity
  correction; the interval and estimate are R's asymptotic ones, found by R's ``uniroot``
  (Brent's zeroin, ported from ``R_zeroin2``, tolerance 1e-4) on the standardised statistic
  of ``d - mu`` as a function of ``mu``. The estimate is the root of the uncorrected
  statistic, as R (it is close to, but not exactly, the Hodges-Lehmann median).

scipy.stats.wilcoxon differs from R (it reports min(W+, W-) and keeps an exact path with
ties), so it is not used.

Note: R-devel (2025) reworked this code: it computes exact conditional p-values with ties
(Streitberg-Roehmel shift algorithm) and keeps zeros in the asymptotic interval. This module
follows the released behaviour the CAMIS project published (see the tests).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats as sps

from msc_analysis.stats.results import (
    FloatArray,
    SignedRankResult,
    StatsInputError,
    check_alternative,
    check_conf_level,
    paired_differences,
)

_DBL_EPS = float(np.finfo(float).eps)
_ALTERNATIVES = ("two-sided", "greater", "less")


# --------------------------------------------------------------------------- distribution


def signrank_pmf(n: int) -> FloatArray:
    """Null distribution of V for ``n`` untied non-zero differences.

    Returns the probabilities ``P(V = k)``, ``k = 0 .. n(n+1)/2`` (R's ``dsignrank``), by the
    recursion of R's ``csignrank``: the count of subsets of ``{1..n}`` with sum ``k``.
    """
    total = n * (n + 1) // 2
    pmf = np.zeros(total + 1)
    pmf[0] = 1.0
    for i in range(1, n + 1):
        top = i * (i + 1) // 2
        # include rank i or not, each with probability 1/2
        shifted = pmf[: top - i + 1].copy()
        pmf[: top + 1] *= 0.5
        pmf[i : top + 1] += 0.5 * shifted
    return pmf


def psignrank(q: float, n: int, lower_tail: bool = True) -> float:
    """R's ``psignrank(q, n, lower.tail)``: P(V <= q), or P(V > q) when not ``lower_tail``."""
    total = n * (n + 1) // 2
    x = math.floor(q + 1e-7)
    if x < 0:
        return 1.0 if not lower_tail else 0.0
    if x >= total:
        return 0.0 if not lower_tail else 1.0
    pmf = signrank_pmf(n)
    if lower_tail:
        return float(pmf[: x + 1].sum())
    return float(pmf[x + 1 :].sum())


def qsignrank(p: float, n: int) -> float:
    """R's ``qsignrank(p, n)`` (lower tail), including R's 10-epsilon fuzz."""
    total = n * (n + 1) // 2
    if p <= 0.0:
        return 0.0
    if p >= 1.0:
        return float(total)
    cdf = np.cumsum(signrank_pmf(n))
    if p <= 0.5:
        target = p - 10 * _DBL_EPS
        q = int(np.argmax(cdf >= target))
        return float(q)
    target = 1 - p + 10 * _DBL_EPS
    q = int(np.argmax(cdf > target))
    return float(total - q)


# --------------------------------------------------------------------------- root finding


def r_zeroin(
    f: Callable[[float], float],
    ax: float,
    bx: float,
    fa: float,
    fb: float,
    tol: float = 1e-4,
    maxit: int = 1000,
) -> float:
    """Brent's root finder exactly as R's ``R_zeroin2`` (used by ``uniroot``).

    The signed-rank statistic is a step function of the shift, so the root R reports is
    wherever its iterations stop inside the jump; porting the algorithm reproduces R's digits.
    """
    a, b = ax, bx
    c, fc = a, fa
    if fa == 0.0:
        return a
    if fb == 0.0:
        return b
    for _ in range(maxit + 1):
        prev_step = b - a
        if abs(fc) < abs(fb):
            a, b, c = b, c, b
            fa, fb, fc = fb, fc, fb
        tol_act = 2 * _DBL_EPS * abs(b) + tol / 2
        new_step = (c - b) / 2
        if abs(new_step) <= tol_act or fb == 0.0:
            return b
        if abs(prev_step) >= tol_act and abs(fa) > abs(fb):
            cb = c - b
            if a == c:
                t1 = fb / fa
                p = cb * t1
                q = 1.0 - t1
            else:
                q = fa / fc
                t1 = fb / fc
                t2 = fb / fa
                p = t2 * (cb * q * (q - t1) - (b - a) * (t1 - 1.0))
                q = (q - 1.0) * (t1 - 1.0) * (t2 - 1.0)
            if p > 0:
                q = -q
            else:
                p = -p
            if p < (0.75 * cb * q - abs(tol_act * q) / 2) and p < abs(prev_step * q / 2):
                new_step = p / q
        if abs(new_step) < tol_act:
            new_step = tol_act if new_step > 0 else -tol_act
        a, fa = b, fb
        b += new_step
        fb = f(b)
        if (fb > 0 and fc > 0) or (fb < 0 and fc < 0):
            c, fc = a, fa
    return b


def _uniroot(
    f: Callable[[float], float], lower: float, upper: float, f_lower: float, f_upper: float,
    tol: float,
) -> float:
    """R's ``uniroot`` without interval extension: checks the signs, then ``R_zeroin2``."""
    if f_lower * f_upper > 0:
        raise StatsInputError("signed-rank interval: f() values at end points not of opposite sign")
    return r_zeroin(f, lower, upper, f_lower, f_upper, tol=tol)


# --------------------------------------------------------------------------- the test


def _ranks_abs(d: FloatArray) -> FloatArray:
    return sps.rankdata(np.abs(d), method="average")


def _tie_term(ranks: FloatArray) -> float:
    _, counts = np.unique(ranks, return_counts=True)
    return float(np.sum(counts.astype(float) ** 3 - counts))


def _shifted_rank_sums(d_sorted: FloatArray, shift: float) -> tuple[int, float, float]:
    """Rank sums of ``d - shift`` as ``w_stat`` of R's asymptotic interval needs them.

    The non-zero values of ``d - shift`` are ranked by absolute value (average ranks on ties),
    as :func:`_ranks_abs` would, but from the sorted ``d`` without sorting anew: the absolute
    values of the negative part, reversed, and the positive part are two ascending runs, which
    a stable sort (timsort) merges in linear time. The rank of a value ``v`` among the sorted
    absolute values ``a`` is ``(#(a < v) + 1 + #(a <= v)) / 2`` (its tie group's average).

    Parameters
    ----------
    d_sorted : ndarray
        The non-zero differences, sorted ascending.
    shift : float
        The location ``mu`` subtracted.

    Returns
    -------
    n : int
        Number of non-zero values of ``d - shift``.
    rank_sum : float
        Sum of the ranks of the positive ones (R's ``sum(dr[x > 0])``).
    tie_term : float
        ``sum(t^3 - t)`` over the tie groups of the absolute values (R's ``NTIES``).

    Notes
    -----
    Every rank is a multiple of 1/2 and every tie count an integer, so both sums are exact in
    floating point whatever the order of summation: the results equal those of ranking with
    :func:`scipy.stats.rankdata` to the last bit.
    """
    xd = d_sorted - shift  # still ascending: subtracting a constant keeps the order
    negative = -xd[xd < 0][::-1]  # |x| of the negative values, ascending
    positive = xd[xd > 0]
    magnitudes = np.sort(np.concatenate((negative, positive)), kind="stable")
    n = int(magnitudes.size)
    below = np.searchsorted(magnitudes, positive, side="left")
    up_to = np.searchsorted(magnitudes, positive, side="right")
    rank_sum = float(int(below.sum()) + int(up_to.sum()) + int(positive.size)) / 2
    starts = np.flatnonzero(np.diff(magnitudes)) + 1
    counts = np.diff(np.concatenate(([0], starts, [n])))  # tie-group sizes
    tie_term = float(np.sum(counts.astype(float) ** 3 - counts))
    return n, rank_sum, tie_term


def wilcoxon_signed_rank(
    x: ArrayLike,
    y: ArrayLike | None = None,
    conf_level: float = 0.95,
    alternative: str = "two-sided",
    correct: bool = True,
    exact: bool | None = None,
    tol_root: float = 1e-4,
) -> SignedRankResult:
    """Wilcoxon signed-rank test of ``x - y`` with Hodges-Lehmann estimate and interval.

    Equals R's ``wilcox.test(x, y, paired = TRUE, conf.int = TRUE, conf.level = conf_level,
    alternative = alternative, correct = correct, exact = exact)`` (R up to 4.5).

    Parameters
    ----------
    x : array_like
        First measurements (or the differences themselves when ``y`` is None).
    y : array_like, optional
        Second measurements, paired with ``x`` by position.
    conf_level : float
        Confidence level of the interval.
    alternative : {"two-sided", "greater", "less"}
        Alternative hypothesis about the location of ``x - y`` (R's "two.sided" accepted).
    correct : bool
        Continuity correction on the normal path (p-value and interval).
    exact : bool or None
        None: exact when fewer than 50 non-zero differences. The exact path needs no ties and
        no zeros; otherwise the normal approximation is used (R warns; here ``exact`` of the
        result is False).
    tol_root : float
        Tolerance of the root finder on the normal path (R's ``tol.root``).

    Returns
    -------
    SignedRankResult

    Raises
    ------
    StatsInputError
        No complete pair, or all differences zero (the statistic has no variance).
    """
    level = check_conf_level(conf_level)
    alt = check_alternative(alternative, _ALTERNATIVES)
    d_all, n_missing = paired_differences(x, y)
    zero = d_all == 0
    n_zero = int(zero.sum())
    d = d_all[~zero]
    n = int(d.size)
    if n == 0:
        raise StatsInputError(
            f"all {n_zero} non-missing differences are zero: the signed-rank test is undefined"
        )
    ranks = _ranks_abs(d)
    statistic = float(ranks[d > 0].sum())
    _, counts = np.unique(ranks, return_counts=True)
    n_ties = int(counts[counts > 1].sum())
    ties = n_ties > 0
    use_exact = (n < 50) if exact is None else bool(exact)

    if use_exact and not ties and n_zero == 0:
        pvalue = _exact_pvalue(statistic, n, alt)
        low, high, achieved, estimate = _exact_interval(d, n, alt, level)
        return SignedRankResult(
            statistic=statistic, pvalue=pvalue, estimate=estimate, conf_int=(low, high),
            conf_level=achieved, method="Wilcoxon signed rank exact test", alternative=alt,
            n=n, n_zero=n_zero, n_ties=n_ties, n_missing=n_missing, exact=True,
            zstat=math.nan,
        )

    z_raw = statistic - n * (n + 1) / 4
    sigma = math.sqrt(n * (n + 1) * (2 * n + 1) / 24 - _tie_term(ranks) / 48)
    correction = _correction(z_raw, alt) if correct else 0.0
    zstat = (z_raw - correction) / sigma if sigma > 0 else math.nan
    if alt == "less":
        pvalue = float(sps.norm.cdf(zstat))
    elif alt == "greater":
        pvalue = float(sps.norm.sf(zstat))
    else:
        pvalue = float(2 * min(sps.norm.cdf(zstat), sps.norm.sf(zstat)))
    low, high, achieved, estimate = _asymptotic_interval(d, alt, level, correct, tol_root)
    method = "Wilcoxon signed rank test" + (" with continuity correction" if correct else "")
    return SignedRankResult(
        statistic=statistic, pvalue=pvalue, estimate=estimate, conf_int=(low, high),
        conf_level=achieved, method=method, alternative=alt, n=n, n_zero=n_zero,
        n_ties=n_ties, n_missing=n_missing, exact=False, zstat=float(zstat),
    )


def _correction(z: float, alternative: str) -> float:
    if alternative == "two-sided":
        return float(np.sign(z)) * 0.5
    return 0.5 if alternative == "greater" else -0.5


def _exact_pvalue(statistic: float, n: int, alternative: str) -> float:
    if alternative == "two-sided":
        if statistic > n * (n + 1) / 4:
            p = psignrank(statistic - 1, n, lower_tail=False)
        else:
            p = psignrank(statistic, n)
        return min(2 * p, 1.0)
    if alternative == "greater":
        return psignrank(statistic - 1, n, lower_tail=False)
    return psignrank(statistic, n)


def _exact_interval(
    d: FloatArray, n: int, alternative: str, conf_level: float
) -> tuple[float, float, float, float]:
    """Bauer's exact interval and the Hodges-Lehmann estimate (R's exact branch)."""
    alpha = 1 - conf_level
    i, j = np.triu_indices(n)
    walsh = np.sort(d[i] + d[j]) / 2
    total = n * (n + 1) // 2
    # w[k] is the statistic V at shift walsh[k] (no ties): total, total - 1, ..., 1
    w = np.arange(total, 0, -1, dtype=float)

    def lower_limit(qu: float) -> float:
        ql = total - qu
        return float(walsh.min() if ql >= w.max() else walsh[w > ql].max())

    def upper_limit(qu: float) -> float:
        return float(walsh.max() if qu <= w.min() else walsh[w <= qu].min())

    if alternative == "two-sided":
        qu = qsignrank(alpha / 2, n)
        low, high = lower_limit(qu), upper_limit(qu)
        qu = 1.0 if qu == 0 else qu
        achieved_alpha = 2 * psignrank(math.trunc(qu) - 1, n)
    elif alternative == "greater":
        qu = qsignrank(alpha, n)
        low, high = lower_limit(qu), math.inf
        qu = 1.0 if qu == 0 else qu
        achieved_alpha = psignrank(math.trunc(qu) - 1, n)
    else:
        qu = qsignrank(alpha, n)
        low, high = -math.inf, upper_limit(qu)
        qu = 1.0 if qu == 0 else qu
        achieved_alpha = psignrank(math.trunc(qu) - 1, n)
    level = conf_level
    if achieved_alpha - alpha > alpha / 2:
        # R: warning("requested conf.level not achievable"); conf.level <- 1 - signif(., 2)
        level = 1 - float(f"{achieved_alpha:.2g}")
    return low, high, level, float(np.median(walsh))


def _asymptotic_interval(
    d: FloatArray, alternative: str, conf_level: float, correct: bool, tol: float
) -> tuple[float, float, float, float]:
    """R's asymptotic interval and estimate (uniroot on the standardised statistic)."""
    alpha = 1 - conf_level
    mumin, mumax = float(d.min()), float(d.max())
    d_sorted = np.sort(d)

    def w_stat(shift: float, use_correction: bool) -> float:
        nx, rank_sum, ties = _shifted_rank_sums(d_sorted, shift)
        zd = rank_sum - nx * (nx + 1) / 4
        sigma = math.sqrt(nx * (nx + 1) * (2 * nx + 1) / 24 - ties / 48)
        if sigma == 0:
            return math.nan
        corr = _correction(zd, alternative) if use_correction else 0.0
        return (zd - corr) / sigma

    w_min = w_stat(mumin, correct)
    w_max = w_stat(mumax, correct) if math.isfinite(w_min) else math.nan
    if not (math.isfinite(w_min) and math.isfinite(w_max)):
        # R: "cannot compute confidence interval when all observations are zero or tied"
        low = -math.inf if alternative == "less" else math.nan
        high = math.inf if alternative == "greater" else math.nan
        return low, high, 0.0, (mumin + mumax) / 2

    def root(zq: float) -> float:
        return _uniroot(
            lambda s: w_stat(s, correct) - zq, mumin, mumax, w_min - zq, w_max - zq, tol
        )

    level = conf_level
    if alternative == "two-sided":
        while (w_min - sps.norm.isf(alpha / 2) < 0) or (w_max - sps.norm.ppf(alpha / 2) > 0):
            alpha *= 2
        if alpha >= 1 or 1 - conf_level < alpha * 0.75:
            level = 1 - min(1.0, alpha)
        if alpha < 1:
            low = root(float(sps.norm.isf(alpha / 2)))
            high = root(float(sps.norm.ppf(alpha / 2)))
        else:
            low = high = float(np.median(d))
    elif alternative == "greater":
        while w_min - sps.norm.isf(alpha) < 0:
            alpha *= 2
        if alpha >= 1 or 1 - conf_level < alpha * 0.75:
            level = 1 - min(1.0, alpha)
        low = root(float(sps.norm.isf(alpha))) if alpha < 1 else float(np.median(d))
        high = math.inf
    else:
        while w_max - sps.norm.ppf(alpha / 2) > 0:
            alpha *= 2
        if alpha >= 1 or 1 - conf_level < alpha * 0.75:
            level = 1 - min(1.0, alpha)
        low = -math.inf
        high = root(float(sps.norm.ppf(alpha))) if alpha < 1 else float(np.median(d))

    # R: correct <- FALSE before uniroot(W, ...) for the estimate
    e_min = w_stat(mumin, False)
    e_max = w_stat(mumax, False)
    estimate = _uniroot(lambda s: w_stat(s, False), mumin, mumax, e_min, e_max, tol)
    return float(low), float(high), level, float(estimate)
