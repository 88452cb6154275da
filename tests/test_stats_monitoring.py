"""Bayesian beta-binomial monitoring against independent calculations.

References written in this file, not taken from the module under test:

- the posterior probability P(p > t) by numerical integration of the Beta density written out
  with ``math.lgamma`` (``scipy.integrate.quad``), and for integer parameters by the classical
  identity P(Beta(a, b) > t) = P(Binomial(a + b - 1, t) <= a - 1), summed by hand;
- the stopping boundary by scanning x = 0..n with those probabilities;
- the exact operating characteristics by enumerating all 2^10 outcome sequences of 10 subjects.
"""

from __future__ import annotations

import itertools
import math
import time

import numpy as np
import pytest
from scipy import integrate

from msc_analysis.stats.monitoring import (
    MonitoringRule,
    exact_operating_characteristics,
    monitor,
    simulate_operating_characteristics,
    stopping_boundaries,
)
from msc_analysis.stats.results import StatsInputError

# The SAP's rule (sap/sap.toml [monitoring]).
SAP_RULE = MonitoringRule(prior_a=0.3, prior_b=2.7, threshold=0.20, prob_cutoff=0.80,
                          min_subjects=2, max_subjects=10)


def beta_tail(a: float, b: float, t: float) -> float:
    """P(p > t) for p ~ Beta(a, b), by integrating the density written out by hand."""
    log_norm = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)

    def density(p: float) -> float:
        return math.exp(log_norm + (a - 1) * math.log(p) + (b - 1) * math.log1p(-p))

    value, _ = integrate.quad(density, t, 1.0, limit=200, epsabs=1e-13, epsrel=1e-12)
    return value


def hand_boundary(a: float, b: float, t: float, cutoff: float, n_min: int,
                  n_max: int) -> list[int | None]:
    out: list[int | None] = []
    for n in range(1, n_max + 1):
        hit = None
        if n >= n_min:
            for x in range(n + 1):
                if beta_tail(a + x, b + n - x, t) > cutoff:
                    hit = x
                    break
        out.append(hit)
    return out


@pytest.mark.parametrize(("x", "n"), [(0, 1), (1, 1), (1, 2), (2, 2), (0, 10), (3, 7), (10, 10)])
def test_posterior_probability_against_the_beta_density(x: int, n: int) -> None:
    got = float(SAP_RULE.prob_exceeds(x, n))
    assert got == pytest.approx(beta_tail(0.3 + x, 2.7 + n - x, 0.2), abs=1e-9)


def test_posterior_probability_integer_prior_binomial_identity() -> None:
    # Beta(1, 1) prior, 1 event in 3 subjects -> Beta(2, 3); P(p > 0.3) = P(Bin(4, 0.3) <= 1)
    # = 0.7^4 + 4 * 0.3 * 0.7^3 = 0.2401 + 0.4116 = 0.6517 (by hand)
    rule = MonitoringRule(1.0, 1.0, 0.3, 0.9, 1, 5)
    assert float(rule.prob_exceeds(1, 3)) == pytest.approx(0.6517, abs=1e-12)
    # 2 events in 3 -> Beta(3, 2): P(Bin(4, 0.3) <= 2) = 0.6517 + 6 * 0.09 * 0.49 = 0.9163
    assert float(rule.prob_exceeds(2, 3)) == pytest.approx(0.9163, abs=1e-12)
    # so with cut-off 0.9 the boundary at n = 3 is 2 events
    assert rule.boundary()[2] == 2.0


def test_boundaries_of_the_sap_rule_by_hand() -> None:
    expected = hand_boundary(0.3, 2.7, 0.2, 0.8, 2, 10)
    # written out as well, so that a change of the SAP's rule is noticed here:
    assert expected == [None, 2, 2, 3, 3, 3, 3, 4, 4, 4]
    got = SAP_RULE.boundary()
    assert [None if math.isnan(v) else int(v) for v in got] == expected
    table = stopping_boundaries(SAP_RULE)
    assert table["n"].tolist() == list(range(1, 11))
    # at the boundary the probability is above the cut-off, one event fewer it is not
    ok = table.dropna(subset=["boundary"])
    assert (ok["post_prob_at"] > 0.8).all() and (ok["post_prob_below"] <= 0.8).all()
    row = ok.set_index("n").loc[2]
    assert row["post_prob_at"] == pytest.approx(beta_tail(2.3, 2.7, 0.2), abs=1e-9)


def test_min_subjects_blocks_early_stopping() -> None:
    # with a vague prior one event in the first subject would already stop (brief section 6)
    vague = MonitoringRule(0.5, 0.5, 0.2, 0.8, 1, 3)
    assert vague.boundary()[0] == 1.0
    later = MonitoringRule(0.5, 0.5, 0.2, 0.8, 3, 3)
    assert math.isnan(later.boundary()[0]) and math.isnan(later.boundary()[1])


def enumerate_oc(boundary: list[int | None], p: float) -> tuple[float, float]:
    """P(stop) and E[N] by enumerating all outcome sequences of len(boundary) subjects."""
    m = len(boundary)
    prob_stop = 0.0
    expected = 0.0
    for seq in itertools.product((0, 1), repeat=m):
        k = sum(seq)
        weight = p**k * (1 - p) ** (m - k)
        x = 0
        treated = m
        stopped = False
        for n, event in enumerate(seq, start=1):
            x += event
            if boundary[n - 1] is not None and x >= boundary[n - 1]:
                treated, stopped = n, True
                break
        prob_stop += weight * stopped
        expected += weight * treated
    return prob_stop, expected


RATES = (0.05, 0.10, 0.20, 0.30, 0.50)


def test_exact_operating_characteristics_by_enumeration() -> None:
    boundary = hand_boundary(0.3, 2.7, 0.2, 0.8, 2, 10)
    exact = exact_operating_characteristics(SAP_RULE, RATES)
    for row in exact.itertuples(index=False):
        prob, expected = enumerate_oc(boundary, row.true_rate)
        assert row.prob_stop == pytest.approx(prob, abs=1e-12)
        assert row.expected_n == pytest.approx(expected, abs=1e-12)


def test_simulation_agrees_with_enumeration_within_monte_carlo_error() -> None:
    boundary = hand_boundary(0.3, 2.7, 0.2, 0.8, 2, 10)
    sim = simulate_operating_characteristics(SAP_RULE, RATES, n_sim=200_000, seed=20240501)
    for row in sim.itertuples(index=False):
        prob, expected = enumerate_oc(boundary, row.true_rate)
        assert row.prob_stop_mcse == pytest.approx(
            math.sqrt(row.prob_stop * (1 - row.prob_stop) / 200_000))
        assert abs(row.prob_stop - prob) < 4 * row.prob_stop_mcse + 1e-12
        assert abs(row.expected_n - expected) < 4 * row.expected_n_mcse + 1e-12
        assert 0 < row.expected_n_mcse < 0.02


def test_simulation_is_deterministic_and_seeded() -> None:
    a = simulate_operating_characteristics(SAP_RULE, (0.2, 0.4), 50_000, seed=7)
    b = simulate_operating_characteristics(SAP_RULE, (0.2, 0.4), 50_000, seed=7)
    c = simulate_operating_characteristics(SAP_RULE, (0.2, 0.4), 50_000, seed=8)
    assert a.equals(b)
    assert not a.equals(c)
    # blocks of trials do not change the stream: one block or several give the same numbers
    d = simulate_operating_characteristics(SAP_RULE, (0.2, 0.4), 50_000, seed=7, chunk=10_000)
    assert a.equals(d)


def test_a_million_trials_in_about_a_second() -> None:
    started = time.perf_counter()
    sim = simulate_operating_characteristics(SAP_RULE, (0.3,), 1_000_000, seed=1)
    elapsed = time.perf_counter() - started
    assert sim["n_sim"].iloc[0] == 1_000_000
    assert elapsed < 5.0, f"1e6 simulated trials took {elapsed:.2f} s"


def test_extreme_rates() -> None:
    sim = simulate_operating_characteristics(SAP_RULE, (0.0, 1.0), 1000, seed=1)
    # no events: never stops, all 10 treated; every subject an event: stops at n = 2
    assert sim["prob_stop"].tolist() == [0.0, 1.0]
    assert sim["expected_n"].tolist() == [10.0, 2.0]
    assert sim["prob_stop_mcse"].tolist() == [0.0, 0.0]


def test_monitor_after_each_subject() -> None:
    events = [False, True, False, False, True, True]
    res = monitor(events, SAP_RULE)
    assert res["x"].tolist() == [0, 1, 1, 1, 2, 3]
    # posterior mean (a + x) / (a + b + n)
    assert res["post_mean"].tolist() == pytest.approx(
        [(0.3 + x) / (3.0 + n) for x, n in zip(res["x"], res["n"], strict=True)])
    for row in res.itertuples(index=False):
        assert row.post_prob == pytest.approx(beta_tail(0.3 + row.x, 2.7 + row.n - row.x, 0.2),
                                              abs=1e-9)
        # equal-tailed 95% credible limits: 2.5% of the posterior mass below conf_low
        assert beta_tail(row.post_a, row.post_b, row.conf_low) == pytest.approx(0.975, abs=1e-7)
        assert beta_tail(row.post_a, row.post_b, row.conf_high) == pytest.approx(0.025, abs=1e-7)
    # 3 events in 6 subjects reaches the boundary (3): stop; nothing earlier stopped
    assert res["decision"].tolist() == [0, 0, 0, 0, 0, 1]
    assert res["first_stop"].tolist() == [False] * 5 + [True]
    assert np.isnan(res["boundary"].iloc[0]) and res["boundary"].iloc[5] == 3
    assert np.isnan(res["stopped_at"].iloc[:5]).all() and res["stopped_at"].iloc[5] == 6


def test_monitor_stopping_is_absorbing() -> None:
    # 2 events in the first 2 subjects cross the boundary (2 at n = 2 and 3, 3 from n = 4 on,
    # SAP table 9.3); no later event: the rule's value falls back to "continue" at n = 4, but
    # the trial stopped at n = 2 and every later row says so
    res = monitor([True, True, False, False, False], SAP_RULE)
    assert res["decision"].tolist() == [0, 1, 1, 0, 0]
    assert res["first_stop"].tolist() == [False, True, False, False, False]
    assert np.isnan(res["stopped_at"].iloc[0])
    assert res["stopped_at"].iloc[1:].tolist() == [2, 2, 2, 2]
    # never crossed: no row says stopped
    assert np.isnan(monitor([False, True, False], SAP_RULE)["stopped_at"]).all()


def test_invalid_rules_are_rejected() -> None:
    with pytest.raises(StatsInputError):
        MonitoringRule(0.0, 1.0, 0.2, 0.8, 1, 5)
    with pytest.raises(StatsInputError):
        MonitoringRule(1.0, 1.0, 1.2, 0.8, 1, 5)
    with pytest.raises(StatsInputError):
        MonitoringRule(1.0, 1.0, 0.2, 0.8, 6, 5)
    with pytest.raises(StatsInputError):
        SAP_RULE.prob_exceeds(3, 2)
    with pytest.raises(StatsInputError):
        simulate_operating_characteristics(SAP_RULE, (1.5,), 100, 1)
