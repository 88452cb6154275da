"""One rounding rule: the vectorised form equals the exact (Decimal) form everywhere."""

from __future__ import annotations

import numpy as np

from msc_analysis.derive.meld import round_half_away as meld_round
from msc_analysis.render.formatting import round_half_away as display_round
from msc_analysis.rounding import round_half_away_array


def test_vectorised_equals_exact_on_halves_and_random_values() -> None:
    # SAS ROUND: halves go away from zero; 2.675 and 1.005 are halves as typed (see
    # tests/test_render_formatting.py for the SAS references of each case)
    cases = [(2.675, 2, 2.68), (1.005, 2, 1.01), (-2.5, 0, -3.0), (0.125, 2, 0.13),
             (0.285, 2, 0.29), (1.45, 1, 1.5), (8.345, 2, 8.35), (0.3 - 0.025, 2, 0.28),
             (2.4999, 0, 2.0), (1e15 + 0.5, 0, 1e15 + 1)]
    for x, d, expected in cases:
        assert round_half_away_array([x], d)[0] == expected, (x, d)
        assert display_round(x, d) == expected
    rng = np.random.default_rng(1)
    values = np.concatenate([rng.normal(0, 100, 5000).round(3), rng.uniform(-5, 5, 5000)])
    for d in (0, 1, 2):
        got = round_half_away_array(values, d)
        exact = np.array([display_round(v, d) for v in values])
        np.testing.assert_array_equal(got, exact)


def test_meld_uses_the_same_rule() -> None:
    x = np.array([24.45, 24.449999, np.nan, -0.5])
    np.testing.assert_array_equal(meld_round(x, 1), round_half_away_array(x, 1))
    assert np.isnan(meld_round(x, 1)[2])
    assert meld_round(x, 1)[0] == 24.5 and meld_round(x, 0)[3] == -1.0
