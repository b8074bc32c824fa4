"""Relabeling against hand-computed trajectories and the simulated logs."""

import numpy as np
import pytest

from vamo_jax import data
from vamo_jax.data.dataset import SPLIT_FIELDS, Split
from tests.data.conftest import CONFIG

UNIT = (1.0, 1.0, 6.0)


def _f32(x):
    return np.asarray(x, np.float32)


def _hand_split() -> Split:
    """Three 3-tick trajectories: a GMV one, a CartCnt one, and a Dir-GMV one that never wins.

    Channels (GMV, Dir-GMV, CartCnt); `rewards_continuous[t, c]` is the sum over the tick's exposed
    wins of channel c's expected value, in raw units (× UNIT[c] for bid currency).
    """
    m, t = 3, 3
    rewards = _f32([
        [[4, 2, 1], [0, 0, 0], [2, 0, 0]],
        [[0, 0, 0], [6, 3, 2], [0, 0, 1]],
        np.zeros((3, 3)),
    ])
    expected = _f32([
        [[3, 1.5, 0.5], [0, 0, 0], [1, 0.5, 0.25]],
        [[0, 0, 0], [4, 2, 1.5], [0.5, 0.5, 0.5]],
        np.zeros((3, 3)),
    ])
    campaign = np.array([0, 2, 1], np.int32)
    budget = _f32([10, 20, 5])
    return Split(
        states=np.zeros((m, t, 16), np.float32), next_states=np.zeros((m, t, 16), np.float32),
        actions=_f32([[1.0, 2.0, 0.5], [1.5, 1.5, 1.5], [0.7, 0.8, 0.9]]),
        rewards=rewards, rewards_continuous=expected,
        returns_to_go=data.auctionnet.returns_to_go(rewards, campaign, budget, UNIT),
        cost=_f32([[2, 1, 1], [0, 3, 1], [0, 0, 0]]), remaining=np.zeros((m, t), np.float32),
        budget=budget, constraint=_f32([1.2, 5.0, 1.0]), campaign=campaign, task=campaign.copy(),
        day=np.ones(m, np.int32), episode=np.zeros(m, np.int32), advertiser=np.arange(m, dtype=np.int32),
        category=np.zeros(m, np.int32), market=np.zeros((1, 2, t, 3), np.float32),
    )


def test_relabel_for_cart_by_hand():
    out = data.relabel(_hand_split(), 2, UNIT)
    # GMV row: carts (1, 0, 0) × 6 / budget 10.
    np.testing.assert_allclose(out.returns_to_go[0], [0.6, 0.0, 0.0], rtol=1e-6)
    # Bid on the exposed wins: GMV value (3, 0, 1) vs cart value 6 × (0.5, 0, 0.25) = (3, 0, 1.5);
    # tick 1 has no win and takes the day's ratio 4 / 4.5.
    np.testing.assert_allclose(out.actions[0], [1.0 * 3 / 3, 2.0 * 4 / 4.5, 0.5 * 1 / 1.5], rtol=1e-6)
    assert out.constraint[0] == pytest.approx(4.0 / 1.0)  # cost 4 for 1 cart
    # The row that never wins: nothing to re-express; no cart, so no cost-per-cart constraint.
    np.testing.assert_array_equal(out.actions[2], _hand_split().actions[2])
    np.testing.assert_array_equal(out.returns_to_go[2], 0.0)
    assert out.constraint[2] == 0.0
    np.testing.assert_array_equal(out.campaign, 2)
    np.testing.assert_array_equal(out.task, 2)


def test_relabel_for_gmv_by_hand():
    out = data.relabel(_hand_split(), 0, UNIT)
    # Cart row: GMV (0, 6, 0) / budget 20.
    np.testing.assert_allclose(out.returns_to_go[1], [0.3, 0.3, 0.0], rtol=1e-6)
    # Cart value 6 × (0, 1.5, 0.5) = (0, 9, 3) vs GMV (0, 4, 0.5); tick 0 takes 12 / 4.5.
    np.testing.assert_allclose(out.actions[1], [1.5 * 12 / 4.5, 1.5 * 9 / 4, 1.5 * 3 / 0.5], rtol=1e-6)
    assert out.constraint[1] == pytest.approx(6.0 / 4.0)  # ROI: GMV 6 for cost 4
    assert out.constraint[2] == 0.0  # no spend: ROI undefined
    np.testing.assert_allclose(
        data.trajectory_requirement(out)[1], [0.3, 20.0, 1.5, 1.0, 0.0, 0.0], rtol=1e-6
    )


@pytest.mark.parametrize("target", [0, 1, 2])
def test_own_rows_are_unchanged_bit_for_bit(target):
    split = _hand_split()
    out = data.relabel(split, target, UNIT)
    own = np.asarray(split.campaign) == target
    for name in SPLIT_FIELDS:
        if name != "market":
            np.testing.assert_array_equal(np.asarray(getattr(out, name))[own], np.asarray(getattr(split, name))[own],
                                          err_msg=name)
            assert np.asarray(getattr(out, name)).dtype == np.asarray(getattr(split, name)).dtype, name


def test_relabel_the_simulated_logs(dataset):
    tr = dataset.train
    unit = CONFIG.env.unit_value
    for target in range(3):
        out = data.relabel(tr, target, unit)
        own = np.asarray(tr.campaign) == target
        for name in SPLIT_FIELDS:
            np.testing.assert_array_equal(np.asarray(getattr(out, name))[own] if name != "market" else out.market,
                                          np.asarray(getattr(tr, name))[own] if name != "market" else tr.market)
        r = np.asarray(tr.rewards, np.float64)[..., target] * unit[target]
        want = np.flip(np.cumsum(np.flip(r, 1), 1), 1) / np.asarray(tr.budget, np.float64)[:, None]
        np.testing.assert_allclose(out.returns_to_go, want, rtol=1e-5, atol=1e-7)
        assert np.all(np.isfinite(out.actions)) and np.all(np.asarray(out.actions) >= 0)
        assert np.all(np.isfinite(out.constraint)) and np.all(np.asarray(out.constraint) >= 0)
        np.testing.assert_array_equal(out.campaign, target)


def test_bad_target_raises():
    with pytest.raises(ValueError, match="target_task=3"):
        data.relabel(_hand_split(), 3, UNIT)
