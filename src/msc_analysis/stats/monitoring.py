"""Bayesian beta-binomial safety monitoring (Thall, Simon & Estey 1995 style).

The event probability ``p`` of the monitored (DLT-like) event has a ``Beta(a, b)`` prior; after
``x`` events in ``n`` subjects the posterior is ``Beta(a + x, b + n - x)``. The trial stops when at
least ``min_subjects`` subjects have been evaluated and the posterior probability that ``p``
exceeds the unacceptable rate ``threshold`` is above ``prob_cutoff``:

    stop at n  <=>  n >= min_subjects  and  P(p > threshold | x, n) > prob_cutoff.

Because that posterior probability increases with ``x`` for fixed ``n``, the rule is a boundary:
the smallest ``x`` that stops at ``n`` (:meth:`MonitoringRule.boundary`).

Operating characteristics (probability of stopping, expected number of subjects treated) come
from a vectorised simulation (:func:`simulate_operating_characteristics`, about a second for a
million trials) with Monte Carlo standard errors, and exactly from a recursion over the number of
events among subjects not yet stopped (:func:`exact_operating_characteristics`).

The functions know nothing of the trial's data layout: they take event indicators and numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as sps

from msc_analysis.stats.results import StatsInputError, check_conf_level

__all__ = [
    "MonitoringRule",
    "exact_operating_characteristics",
    "monitor",
    "simulate_operating_characteristics",
    "stopping_boundaries",
]


@dataclass(frozen=True)
class MonitoringRule:
    """The stopping rule.

    Parameters
    ----------
    prior_a, prior_b : float
        Beta prior parameters (> 0).
    threshold : float
        Unacceptable event probability, in (0, 1).
    prob_cutoff : float
        Stop when ``P(p > threshold | data)`` is above this, in (0, 1).
    min_subjects : int
        The rule applies from this many evaluated subjects on (>= 1).
    max_subjects : int
        Planned number of subjects (>= min_subjects).
    """

    prior_a: float
    prior_b: float
    threshold: float
    prob_cutoff: float
    min_subjects: int
    max_subjects: int

    def __post_init__(self) -> None:
        if not (self.prior_a > 0 and self.prior_b > 0):
            raise StatsInputError("prior_a and prior_b must be > 0")
        if not 0 < self.threshold < 1:
            raise StatsInputError("threshold must lie strictly between 0 and 1")
        if not 0 < self.prob_cutoff < 1:
            raise StatsInputError("prob_cutoff must lie strictly between 0 and 1")
        if not 1 <= int(self.min_subjects) <= int(self.max_subjects):
            raise StatsInputError("need 1 <= min_subjects <= max_subjects")

    @classmethod
    def from_settings(cls, settings: object) -> MonitoringRule:
        """Build from any object with the attributes of the SAP's ``[monitoring]`` table."""
        return cls(
            prior_a=float(settings.prior_a),  # type: ignore[attr-defined]
            prior_b=float(settings.prior_b),  # type: ignore[attr-defined]
            threshold=float(settings.threshold),  # type: ignore[attr-defined]
            prob_cutoff=float(settings.prob_cutoff),  # type: ignore[attr-defined]
            min_subjects=int(settings.min_subjects),  # type: ignore[attr-defined]
            max_subjects=int(settings.max_subjects),  # type: ignore[attr-defined]
        )

    def posterior(self, x: object, n: object) -> tuple[np.ndarray, np.ndarray]:
        """Posterior Beta parameters ``(a + x, b + n - x)``."""
        xa, na = _counts(x, n)
        return self.prior_a + xa, self.prior_b + na - xa

    def prob_exceeds(self, x: object, n: object) -> np.ndarray:
        """``P(p > threshold | x events in n subjects)`` (the Beta survival function)."""
        a, b = self.posterior(x, n)
        return sps.beta.sf(self.threshold, a, b)

    def stops(self, x: object, n: object) -> np.ndarray:
        """Whether the rule stops after ``x`` events in ``n`` subjects."""
        _, na = _counts(x, n)
        return (na >= self.min_subjects) & (self.prob_exceeds(x, n) > self.prob_cutoff)

    def boundary(self) -> np.ndarray:
        """Smallest number of events that stops, for n = 1 .. max_subjects.

        Returns a float array of length ``max_subjects`` (index ``n - 1``); NaN where no
        number of events stops (``n < min_subjects``, or not even ``x = n`` stops).
        """
        out = np.full(int(self.max_subjects), np.nan)
        for n in range(1, int(self.max_subjects) + 1):
            xs = np.arange(n + 1)
            hits = np.flatnonzero(self.stops(xs, np.full(n + 1, n)))
            if hits.size:
                out[n - 1] = float(xs[hits[0]])
        return out


def _counts(x: object, n: object) -> tuple[np.ndarray, np.ndarray]:
    xa = np.asarray(x, dtype=float)
    na = np.asarray(n, dtype=float)
    xa, na = np.broadcast_arrays(xa, na)
    if np.isnan(xa).any() or np.isnan(na).any():
        raise StatsInputError("event counts must not be missing")
    if (xa < 0).any() or (xa > na).any() or (xa != np.floor(xa)).any() or (
            na != np.floor(na)).any():
        raise StatsInputError("need whole numbers 0 <= x <= n")
    return xa, na


def monitor(
    events: Sequence[bool] | np.ndarray, rule: MonitoringRule, conf_level: float = 0.95
) -> pd.DataFrame:
    """The posterior after each subject, in the order the subjects were evaluated.

    Parameters
    ----------
    events : sequence of bool
        Whether each subject (in evaluation order) had the monitored event.
    rule : MonitoringRule
        The rule.
    conf_level : float
        Level of the equal-tailed credible interval.

    Returns
    -------
    DataFrame
        One row per subject: ``n``, ``x`` (events so far), ``post_a``, ``post_b``, ``post_mean``,
        ``post_prob`` (P(p > threshold)), ``conf_low``, ``conf_high``, ``boundary`` (NaN: none),
        ``decision`` (1 stop, 0 continue: the rule applied to the data up to this subject),
        ``first_stop`` (True on the first subject after which the rule stopped) and
        ``stopped_at`` (that subject's ``n`` on its row and every later row, NaN before it:
        stopping is absorbing, a later ``decision`` of 0 does not resume the trial).
    """
    level = check_conf_level(conf_level)
    ev = np.asarray(events, dtype=bool)
    n = np.arange(1, ev.size + 1, dtype=float)
    x = np.cumsum(ev).astype(float)
    a, b = rule.posterior(x, n)
    bnd = rule.boundary()
    boundary = np.array([bnd[int(k) - 1] if k <= rule.max_subjects else np.nan for k in n])
    decision = rule.stops(x, n).astype(float) if ev.size else np.array([])
    first = np.zeros(ev.size, dtype=bool)
    stopped_at = np.full(ev.size, np.nan)
    if decision.size and decision.any():
        k = int(np.argmax(decision))
        first[k] = True
        stopped_at[k:] = n[k]
    alpha = 1 - level
    return pd.DataFrame({
        "n": n.astype(int),
        "x": x.astype(int),
        "post_a": a,
        "post_b": b,
        "post_mean": a / (a + b),
        "post_prob": rule.prob_exceeds(x, n),
        "conf_low": sps.beta.ppf(alpha / 2, a, b),
        "conf_high": sps.beta.ppf(1 - alpha / 2, a, b),
        "boundary": boundary,
        "decision": decision,
        "first_stop": first,
        "stopped_at": stopped_at,
    })


def stopping_boundaries(rule: MonitoringRule) -> pd.DataFrame:
    """The boundary table for n = 1 .. max_subjects.

    Returns
    -------
    DataFrame
        ``n``, ``boundary`` (smallest stopping x, NaN when none), ``post_prob_at`` (posterior
        probability at the boundary) and ``post_prob_below`` (at one event fewer: the largest
        probability that does not stop), NaN where undefined.
    """
    bnd = rule.boundary()
    rows = []
    for n in range(1, int(rule.max_subjects) + 1):
        b = bnd[n - 1]
        at = float(rule.prob_exceeds(b, n)) if not math.isnan(b) else math.nan
        below = float(rule.prob_exceeds(b - 1, n)) if not math.isnan(b) and b >= 1 else math.nan
        rows.append({"n": n, "boundary": b, "post_prob_at": at, "post_prob_below": below})
    return pd.DataFrame(rows)


def _boundary_for_sim(rule: MonitoringRule) -> np.ndarray:
    bnd = rule.boundary()
    return np.where(np.isnan(bnd), np.iinfo(np.int16).max, bnd).astype(np.int16)


def simulate_operating_characteristics(
    rule: MonitoringRule,
    true_rates: Sequence[float],
    n_sim: int,
    seed: int,
    *,
    chunk: int = 250_000,
) -> pd.DataFrame:
    """Probability of stopping and expected number treated, by simulation.

    For each true rate, ``n_sim`` trials of ``max_subjects`` subjects are drawn as a matrix of
    Bernoulli outcomes (numpy ``Generator(PCG64(seed))``, one stream used for the rates in
    order, drawn in blocks of ``chunk`` trials); cumulative sums along each trial are compared
    with the boundary and the first crossing is the stopping point.

    Returns
    -------
    DataFrame
        ``true_rate``, ``n_sim``, ``prob_stop``, ``prob_stop_mcse`` (``sqrt(P(1-P)/n_sim)``),
        ``expected_n``, ``expected_n_mcse`` (SD of the number treated / ``sqrt(n_sim)``).
    """
    if int(n_sim) < 2:
        raise StatsInputError("n_sim must be at least 2")
    rng = np.random.default_rng(int(seed))
    bnd = _boundary_for_sim(rule)
    m = int(rule.max_subjects)
    rows = []
    for p in true_rates:
        if not 0 <= float(p) <= 1:
            raise StatsInputError(f"true rate {p!r} outside [0, 1]")
        stopped_total = 0
        sum_n = 0.0
        sum_n2 = 0.0
        left = int(n_sim)
        while left > 0:
            size = min(chunk, left)
            left -= size
            draws = rng.random((size, m)) < float(p)
            cum = np.cumsum(draws, axis=1, dtype=np.int16)
            cross = cum >= bnd[None, :]
            stopped = cross.any(axis=1)
            n_treated = np.where(stopped, cross.argmax(axis=1) + 1, m).astype(float)
            stopped_total += int(stopped.sum())
            sum_n += float(n_treated.sum())
            sum_n2 += float(np.square(n_treated).sum())
        total = int(n_sim)
        prob = stopped_total / total
        mean_n = sum_n / total
        var_n = max(sum_n2 - total * mean_n**2, 0.0) / (total - 1)
        rows.append({
            "true_rate": float(p),
            "n_sim": total,
            "prob_stop": prob,
            "prob_stop_mcse": math.sqrt(prob * (1 - prob) / total),
            "expected_n": mean_n,
            "expected_n_mcse": math.sqrt(var_n / total),
        })
    return pd.DataFrame(rows)


def exact_operating_characteristics(
    rule: MonitoringRule, true_rates: Sequence[float]
) -> pd.DataFrame:
    """Exact probability of stopping and expected number treated.

    A forward recursion over the distribution of the number of events among trials not yet
    stopped: after each subject the mass at or above the boundary stops and is removed.

    Returns
    -------
    DataFrame
        ``true_rate``, ``prob_stop``, ``expected_n``.
    """
    bnd = rule.boundary()
    m = int(rule.max_subjects)
    rows = []
    for p in true_rates:
        p = float(p)
        alive = np.zeros(m + 1)
        alive[0] = 1.0
        prob_stop = 0.0
        expected = 0.0
        for n in range(1, m + 1):
            nxt = alive * (1 - p)
            nxt[1:] += alive[:-1] * p
            alive = nxt
            if not math.isnan(bnd[n - 1]):
                b = int(bnd[n - 1])
                mass = float(alive[b:].sum())
                alive[b:] = 0.0
                prob_stop += mass
                expected += n * mass
        expected += m * (1 - prob_stop)
        rows.append({"true_rate": p, "prob_stop": prob_stop, "expected_n": expected})
    return pd.DataFrame(rows)
