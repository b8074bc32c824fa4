"""Environment contract: budgets, conservation over a day, determinism, sanitising, validation."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vamo_jax import sim
from vamo_jax.data import spec
from tests.sim.conftest import PARAMS, WORLD, simulate, simulate_days

N = PARAMS.num_advertisers
H = jnp.zeros((PARAMS.history_len, 3))


def test_requirement_layout_by_hand():
    y = sim.env.requirement(jnp.array([0.5, 2.0]), jnp.array([100.0, 50.0]), jnp.array([1.2, 6.0]), jnp.array([0, 2]))
    np.testing.assert_array_equal(y, np.float32([[0.5, 100.0, 1.2, 1, 0, 0], [2.0, 50.0, 6.0, 0, 0, 1]]))
    assert y.shape[-1] == spec.REQUIREMENT_DIM
    obs, _ = sim.reset(jax.random.PRNGKey(0), PARAMS, WORLD, 1, H)
    np.testing.assert_array_equal(obs.requirement[:, sim.env.REQUIREMENT_BUDGET], WORLD.budget)
    np.testing.assert_array_equal(obs.requirement[:, sim.env.REQUIREMENT_TARGET], 0.0)


@pytest.mark.parametrize("mult", [1.0, 1e9, float("inf")])
def test_nobody_spends_beyond_budget_ever(mult):
    totals, traj, _ = simulate(jax.random.key(1), 3, jnp.ones(N, bool), jnp.float32(mult), H)
    cum = np.cumsum(np.asarray(traj.cost), 0)
    budget = np.asarray(WORLD.budget)
    assert np.all(cum <= budget * (1 + 1e-6))
    assert np.all(np.asarray(traj.remaining) >= 0)
    np.testing.assert_allclose(np.asarray(totals.cost), cum[-1], rtol=1e-6)
    if mult > 1:  # extreme bids nearly exhaust budgets (a remainder below every price stays)
        assert np.all(cum[-1] >= 0.9 * budget)


def test_step_conserves_payments_and_values():
    obs, state = sim.reset(jax.random.key(2), PARAMS, WORLD, 1)
    a = jnp.full(N, 1.2)
    obs2, state2, reward, done, info = jax.jit(sim.step, static_argnums=3)(jax.random.key(3), state, a, PARAMS, WORLD)
    np.testing.assert_allclose(np.asarray(state.remaining - state2.remaining), np.asarray(info.cost), atol=1e-6 * float(WORLD.budget.max()))
    np.testing.assert_array_equal(obs.last_reward, 0.0)
    np.testing.assert_array_equal(obs2.last_reward, reward)
    assert obs2.state.shape == (N, spec.STATE_DIM) and obs2.history.shape == (PARAMS.history_len, 3)
    assert obs2.requirement.shape == (N, spec.REQUIREMENT_DIM) and int(obs2.tick) == 1 and not bool(done)
    # Realised and expected values are only earned on exposed wins: no win, no value.
    no_win = np.asarray(info.wins) == 0
    assert np.all(np.asarray(reward)[no_win] == 0) and np.all(np.asarray(info.cost)[no_win] == 0)


def test_deterministic_from_key_and_common_random_numbers():
    a = simulate(jax.random.key(4), 2, jnp.zeros(N, bool), jnp.float32(1.0), H)
    b = simulate(jax.random.key(4), 2, jnp.zeros(N, bool), jnp.float32(1.0), H)
    c = simulate(jax.random.key(5), 2, jnp.zeros(N, bool), jnp.float32(1.0), H)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    assert not np.array_equal(np.asarray(a[1].cost), np.asarray(c[1].cost))
    # Another policy for advertiser 0 faces the same traffic (volume) with the same key.
    mask = jnp.arange(N) == 0
    d = simulate(jax.random.key(4), 2, mask, jnp.float32(3.0), H)
    np.testing.assert_array_equal(np.asarray(a[1].market[:, 0]), np.asarray(d[1].market[:, 0]))
    assert not np.array_equal(np.asarray(a[1].actions[:, 0]), np.asarray(d[1].actions[:, 0]))


def test_nan_action_is_no_bid():
    mask = jnp.arange(N) < 2
    totals, traj, _ = simulate(jax.random.key(6), 1, mask, jnp.float32(jnp.nan), H)
    assert np.all(np.asarray(traj.actions)[:, :2] == 0.0)
    assert np.all(np.asarray(totals.cost)[:2] == 0.0) and np.all(np.asarray(totals.value)[:2] == 0.0)
    np.testing.assert_array_equal(sim.sanitize_actions(jnp.array([jnp.nan, -1.0, jnp.inf, 2.0]), PARAMS),
                                  [0.0, 0.0, PARAMS.max_multiplier, 2.0])


def test_vmaps_over_keys_and_days():
    keys = jax.random.split(jax.random.key(7), 2)
    totals, traj, _ = simulate_days(
        keys, jnp.array([1, 2]), jnp.zeros(N, bool), jnp.float32(1.0), H)
    assert traj.states.shape == (2, PARAMS.ticks_per_day, N, spec.STATE_DIM)
    assert totals.value.shape == (2, N, 3)


@pytest.mark.parametrize("field, value, match", [
    ("budget_range", (-1.0, 1.0), "budget_range"),
    ("num_slots", 0, "num_slots"),
    ("slot_exposure", (1.0, 0.9, 1.2), "slot_exposure"),
    ("reserve_price", float("nan"), "reserve_price"),
    ("history_len", 200, "history_len"),
    ("campaign_mix", (0.5, 0.5, 0.5), "campaign_mix"),
])
def test_bad_params_raise_naming_the_field(field, value, match):
    with pytest.raises(ValueError, match=match):
        dataclasses.replace(PARAMS, **{field: value})


def test_history_features_are_means_over_past_ticks():
    totals, traj, _ = simulate(jax.random.key(8), 4, jnp.zeros(N, bool), jnp.float32(1.0), H)
    states, actions = np.asarray(traj.states, np.float64), np.asarray(traj.actions, np.float64)
    cost = np.asarray(traj.cost, np.float64) / (np.asarray(WORLD.budget, np.float64) / PARAMS.ticks_per_day)
    hist_action, hist_cost = sim.STATE_FEATURES.index("hist_action"), sim.STATE_FEATURES.index("hist_cost")
    last3_cost = sim.STATE_FEATURES.index("last3_cost")
    np.testing.assert_array_equal(states[0, :, [hist_action, hist_cost, last3_cost]], 0.0)
    for t in range(1, PARAMS.ticks_per_day):
        np.testing.assert_allclose(states[t, :, hist_action], actions[:t].mean(0), rtol=1e-5)
        np.testing.assert_allclose(states[t, :, hist_cost], cost[:t].mean(0), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(states[t, :, last3_cost], cost[max(t - 3, 0):t].mean(0), rtol=1e-5, atol=1e-6)
