import numpy as np
import pytest

from vamo_jax.score import METRICS, constraint_ratio, day_metrics, online_ratio, score, task_means, violated

UNIT = (1.0, 1.0, 6.0)  # EnvParams.unit_value: a cart is worth 6 in bid currency


def test_return_on_spend_met_and_violated_by_hand():
    # GMV advertiser, target ROI 1.5: 300 GMV for 150 spent is ROI 2 (met); for 400 spent, ROI 0.75.
    assert score(300.0, 150.0, 1.5, 0, UNIT) == 300.0
    assert score(300.0, 400.0, 1.5, 1, UNIT) == pytest.approx(300.0 * (0.75 / 1.5) ** 2)
    assert constraint_ratio(300.0, 400.0, 1.5, 0, UNIT) == pytest.approx(0.5)
    assert not violated(300.0, 150.0, 1.5, 0, UNIT) and violated(300.0, 400.0, 1.5, 0, UNIT)
    assert online_ratio(300.0, 400.0, 0, UNIT) == pytest.approx(0.75)


def test_cost_per_cart_met_and_violated_by_hand():
    # Cart advertiser, target 5 currency per cart: 10 carts for 40 is CPA 4 (met); for 80, CPA 8.
    assert score(10.0, 40.0, 5.0, 2, UNIT) == 10.0
    assert score(10.0, 80.0, 5.0, 2, UNIT) == pytest.approx(10.0 * (5.0 / 8.0) ** 2)
    assert online_ratio(10.0, 80.0, 2, UNIT) == pytest.approx(8.0)
    assert violated(10.0, 80.0, 5.0, 2, UNIT) and not violated(10.0, 40.0, 5.0, 2, UNIT)
    # The sim's C = unit / roi_target makes C / CPA the cart campaign's ROI over its target ROI.
    roi_target = 1.2
    carts, cost = 10.0, 80.0
    assert constraint_ratio(carts, cost, UNIT[2] / roi_target, 2, UNIT) == pytest.approx(carts * UNIT[2] / cost / roi_target)


def test_zero_conversions_zero_cost_and_both_zero():
    # Zero conversions with spend: CPA = ∞ / ROI = 0, violated, score 0 (β = 0 too: the value is 0).
    for campaign, c in ((0, 1.5), (2, 5.0)):
        assert score(0.0, 50.0, c, campaign, UNIT) == 0.0 and score(0.0, 50.0, c, campaign, UNIT, beta=0.0) == 0.0
        assert violated(0.0, 50.0, c, campaign, UNIT)
        # No spend: met, the score is the value.
        assert score(7.0, 0.0, c, campaign, UNIT) == 7.0 and not violated(7.0, 0.0, c, campaign, UNIT)
        assert score(0.0, 0.0, c, campaign, UNIT) == 0.0 and not violated(0.0, 0.0, c, campaign, UNIT)
    assert online_ratio(0.0, 50.0, 2, UNIT) == np.inf and online_ratio(3.0, 0.0, 2, UNIT) == 0.0
    assert online_ratio(3.0, 0.0, 0, UNIT) == np.inf and online_ratio(0.0, 50.0, 0, UNIT) == 0.0


def test_beta_zero_is_no_penalty_and_beta_sharpens_it():
    assert score(300.0, 400.0, 1.5, 0, UNIT, beta=0.0) == 300.0
    assert score(300.0, 400.0, 1.5, 0, UNIT, beta=1.0) == pytest.approx(150.0)
    for bad in (-1.0, np.nan, np.inf):
        with pytest.raises(ValueError, match="beta"):
            score(1.0, 1.0, 1.0, 0, UNIT, beta=bad)
    with pytest.raises(ValueError, match="constraint"):
        score(1.0, 1.0, 0.0, 0, UNIT)


def test_vectorised_over_seeds_and_advertisers_against_a_loop():
    rng = np.random.default_rng(0)
    s, n = 4, 7
    campaign = np.array([0, 1, 2, 0, 1, 2, 2])
    constraint = np.where(campaign == 2, rng.uniform(3, 8, n), rng.uniform(0.8, 1.6, n))
    value, cost = rng.uniform(0, 50, (s, n)), rng.uniform(0, 60, (s, n))
    value[0, 0], cost[1, 2], value[2, 5], cost[2, 5] = 0.0, 0.0, 0.0, 0.0
    got = score(value, cost, constraint, campaign, UNIT, beta=2.0)
    assert got.shape == (s, n)
    for i in range(s):
        for j in range(n):
            v, c, target = value[i, j], cost[i, j], constraint[j]
            if campaign[j] == 2:
                cpa = c / v if v > 0 else (np.inf if c > 0 else 0.0)
                factor = 1.0 if cpa <= target else (target / cpa) ** 2
            else:
                roi = v / c if c > 0 else np.inf
                factor = min(1.0, (roi / target) ** 2)
            assert got[i, j] == pytest.approx(v * factor, rel=1e-12)


def test_task_means_against_a_loop():
    x = np.arange(12.0).reshape(2, 6)
    tasks = np.array([0, 1, 0, 2, 1, 0])
    expected = np.stack([[row[tasks == k].mean() for k in range(3)] for row in x])
    np.testing.assert_allclose(task_means(x, tasks, 3), expected)
    with pytest.raises(ValueError, match="no advertiser"):
        task_means(x, np.array([0, 0, 0, 1, 1, 1]), 3)


def test_day_metrics_by_hand_score_value_cost_online_ratio_and_violation_share():
    campaign = np.array([0, 2, 1, 2])
    tasks = np.array([0, 2, 1, 2])
    constraint = np.array([1.5, 5.0, 1.0, 5.0])
    value = np.array([[300.0, 10.0, 50.0, 0.0]])  # (S = 1, N = 4)
    cost = np.array([[400.0, 40.0, 25.0, 30.0]])
    got = day_metrics(value, cost, constraint, campaign, tasks, np.arange(3), UNIT)
    assert tuple(got) == METRICS
    # gmv: ROI 0.75 of 1.5; dir_gmv: ROI 2, met; cart: CPA 4 ≤ 5 (10 carts kept) and 0 carts for 30 (0).
    np.testing.assert_allclose(got["score"], [[300.0 * 0.25, 50.0, (10.0 + 0.0) / 2]])
    np.testing.assert_allclose(got["violation_rate"], [[1.0, 0.0, 0.5]])
    np.testing.assert_allclose(got["value"], [[300.0, 50.0, 5.0]])
    np.testing.assert_allclose(got["cost"], [[400.0, 25.0, 35.0]])
    # ROI of the task's totals for gmv and dir_gmv, cost per cart of its totals (70 / 10) for cart.
    np.testing.assert_allclose(got["online_ratio"], [[300.0 / 400.0, 50.0 / 25.0, 70.0 / 10.0]])
    draws = day_metrics(np.stack([value, value], 1), np.stack([cost, cost], 1), constraint, campaign, tasks,
                        np.arange(3), UNIT)
    assert draws["score"].shape == (1, 2, 3)  # (S, D, K): leading axes carried
