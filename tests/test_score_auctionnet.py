"""AuctionNet's score (`getScore_neurips`) on hand cases, and against the project's score on one conversion type."""

import numpy as np
import pytest

from vamo_jax.score import auctionnet_score, score

ONE_TYPE = (1.0, 1.0, 1.0)  # AuctionNet's data: one conversion type, worth 1 in bid currency
CART = 2  # the cost-per-result campaign type


@pytest.mark.parametrize("conversions, cost, target, expected", [
    (10.0, 100.0, 12.0, 10.0),                  # CPA 10 ≤ 12: no penalty
    (10.0, 150.0, 12.0, 10.0 * (12 / 15) ** 2),  # CPA 15 > 12: (12/15)² = 0.64 → 6.4
    (4.0, 200.0, 25.0, 4.0 * (25 / 50) ** 2),    # CPA 50: a quarter of 4 → 1
    (5.0, 0.0, 10.0, 5.0),                       # nothing spent: CPA 0, met
    (0.0, 0.0, 10.0, 0.0),                       # nothing at all
    (0.0, 50.0, 10.0, 0.0),                      # spend without conversions
])
def test_hand_cases(conversions, cost, target, expected):
    assert auctionnet_score(conversions, cost, target) == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_equals_the_projects_score_on_one_conversion_type():
    rng = np.random.default_rng(0)
    conversions = rng.integers(0, 40, 200).astype(float)
    cost = rng.uniform(0, 500, 200)
    target = rng.uniform(5, 30, 200)
    for beta in (0.0, 1.0, 2.0):
        np.testing.assert_allclose(auctionnet_score(conversions, cost, target, beta),
                                   score(conversions, cost, target, CART, ONE_TYPE, beta), rtol=1e-8, atol=1e-9)


def test_refuses_a_target_that_is_not_positive():
    with pytest.raises(ValueError, match="cpa_target must be finite and > 0"):
        auctionnet_score(1.0, 1.0, 0.0)
