"""The logged bidders: the auto-bidder tracks its constraint on a hand-built market, and the
behaviour draws keep today's heuristics unless asked otherwise."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vamo_jax import sim
from vamo_jax.score import constraint_ratio
from vamo_jax.sim import policies
from tests.sim import conftest

# A hand-built market: one advertiser of each campaign type under the policy being tested
# (0, 1, 2) against one of each bidding its value (3, 4, 5: fixed multiplier 1); equal budgets.
PARAMS = sim.EnvParams(num_advertisers=6, num_categories=2, impressions_per_day=96 * 16, history_len=24)
CAMPAIGN = jnp.array([0, 1, 2, 0, 1, 2], jnp.int32)
UNIT = jnp.asarray(PARAMS.unit_value, jnp.float32)[CAMPAIGN]
WORLD = sim.make_world(jax.random.key(0), PARAMS, 3).replace(campaign=CAMPAIGN)
TESTED = jnp.arange(6) < 3


@jax.jit
def _day(target_roi, budget, kind, gain):
    """One day of the hand-built market; tested advertisers aim at 1.1 × their target ROI (N,).

    Returns the constraint ratio q (N,) on expected values, the spent share of the budget (N,)
    and the mean log multiplier (N,).
    """
    constraint = jnp.where(CAMPAIGN == 2, UNIT / target_roi, target_roi)
    world = WORLD.replace(constraint=constraint, budget=jnp.full((6,), budget))
    n = PARAMS.num_advertisers
    hp = policies.HeuristicParams(
        kind=jnp.where(TESTED, kind, 1).astype(jnp.int32), alpha=jnp.ones(n), gain=jnp.ones(n),
        gamma=jnp.ones(n), noise=jnp.zeros(n), competition=jnp.ones(n), aim_roi=1.1 * target_roi, unit=UNIT,
        constraint_gain=jnp.where(TESTED, gain, 0.0), prior_spend=0.01 * world.budget,
        integral_limit=jnp.full((n,), 3.0))
    totals, traj, _ = sim.simulate_day(jax.random.key(1), PARAMS, world, 1, sim.heuristic_policy,
                                       policies.init_heuristic(hp), jnp.ones(n, bool), None, competitors=hp)
    return totals.value_continuous[jnp.arange(n), CAMPAIGN], totals.cost, jnp.log(traj.actions).mean(0)


def _ratio(value, cost, target_roi):
    constraint = np.where(np.asarray(CAMPAIGN) == 2, np.asarray(UNIT) / target_roi, target_roi)
    return constraint_ratio(value, cost, constraint, np.asarray(CAMPAIGN), PARAMS.unit_value)


@pytest.mark.parametrize("target", [1.5, 2.5])
def test_auto_bidder_meets_and_tracks_its_constraint_where_a_value_bidder_misses(target):
    roi = jnp.full((6,), target)
    value, cost, _ = _day(roi, 600.0, sim.AUTO_BIDDER, 0.2)
    q = _ratio(value, cost, np.asarray(roi))[:3]
    # Meets it (q ≥ 1), and tracks it: it spends the slack down toward its aim (1.1), not far above.
    assert np.all(q >= 1.0) and np.all(q <= 1.3), q
    # The same advertisers bidding their value (fixed multiplier 1) miss it in this market at 2.5.
    naive_value, naive_cost, _ = _day(roi, 600.0, 1, 0.0)
    if target == 2.5:
        assert np.all(_ratio(naive_value, naive_cost, np.asarray(roi))[:3] < 1.0)


def test_auto_bidder_bids_less_under_a_tighter_constraint_and_paces_a_small_budget():
    _, _, loose = _day(jnp.full((6,), 1.5), 600.0, sim.AUTO_BIDDER, 0.2)
    _, _, tight = _day(jnp.full((6,), 2.5), 600.0, sim.AUTO_BIDDER, 0.2)
    assert np.all(np.asarray(tight)[:3] < np.asarray(loose)[:3] - 0.1)
    # A budget a third of the above with a loose target: the budget binds, the constraint holds.
    roi = jnp.full((6,), 1.0)
    value, cost, _ = _day(roi, 200.0, sim.AUTO_BIDDER, 0.2)
    assert np.all(np.asarray(cost)[:3] >= 0.9 * 200.0)
    assert np.all(_ratio(value, cost, np.asarray(roi))[:3] >= 1.0)


def test_auto_bidder_draws_keep_the_heuristic_draws_and_the_declared_naive_share():
    params, world = conftest.PARAMS, conftest.WORLD
    key = jax.random.key(4)
    spread = dataclasses.replace(sim.BehaviourSpread(), kind="auto_bidder", naive_share=0.25)
    draw = jax.jit(policies.sample_heuristic_params, static_argnums=(1, 6))
    plain = draw(key, params, world, 1, 0.25, 0.05, sim.BehaviourSpread())
    auto = draw(key, params, world, 1, 0.25, 0.05, spread)
    for field in ("alpha", "gain", "gamma", "noise", "competition", "unit", "prior_spend"):
        np.testing.assert_array_equal(plain[field], auto[field])
    kinds = np.asarray(auto.kind)
    naive = kinds != sim.AUTO_BIDDER
    assert naive.sum() == 2  # round(0.25 × 8)
    np.testing.assert_array_equal(kinds[naive], np.asarray(plain.kind)[naive])
    assert np.all(np.asarray(plain.kind) < sim.AUTO_BIDDER) and np.all(np.asarray(plain.constraint_gain) == 0)
    lo, hi = spread.constraint_gain
    assert np.all((np.asarray(auto.constraint_gain) >= lo) & (np.asarray(auto.constraint_gain) <= hi))
    # The aim is the constraint as an ROI (unit / cost per cart for carts) times e^(margin + sd·ε).
    as_roi = np.where(np.asarray(world.campaign) == 2,
                      np.asarray(params.unit_value)[2] / np.asarray(world.constraint), np.asarray(world.constraint))
    np.testing.assert_allclose(plain.aim_roi, as_roi, rtol=1e-6)
    log_margin = np.log(np.asarray(auto.aim_roi) / as_roi)
    assert abs(log_margin.mean() - spread.aim_margin) < 3 * spread.aim_sd / np.sqrt(8) and log_margin.std() > 0


@pytest.mark.parametrize("field, value, match", [
    ("kind", "pid", "kind"), ("naive_share", 1.5, "naive_share"), ("constraint_gain", (0.3, 0.1), "constraint_gain"),
    ("prior_spend", 0.0, "prior_spend"),
])
def test_bad_behaviour_spread_raises_naming_the_field(field, value, match):
    with pytest.raises(ValueError, match=match):
        sim.BehaviourSpread(**{field: value})
