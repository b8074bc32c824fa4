"""The evaluator on logged traffic against the simulator's own replay, when the competitors do not react.

A logged day is played anew with behaviour policies that do not look at their state (fixed
multipliers with noise) and budgets far above their spend, then written in AuctionNet's raw format.
Advertiser j under a state-dependent policy is then (a) replayed by the simulator on the same
traffic with the others on those policies, (b) evaluated on the raw file's logged traffic. The two
must agree: cost, expected value, and the 16 state features j observed at every step.
"""

import dataclasses
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tests.data.conftest import CONFIG
from vamo_jax.data import make_dataset
from vamo_jax.data.auctionnet_data import load_auctionnet
from vamo_jax.data.auctionnet_raw import read_period
from vamo_jax.data.config import AuctionNetConfig
from vamo_jax.data.raw_features import auctionnet_states, project_states
from vamo_jax.data.raw_export import write_period
from vamo_jax.offline_eval import (fixed_multiplier_replay, logged_metrics, logged_totals, logged_traffic,
                                   replay_every_advertiser)
from vamo_jax.sim import HeuristicParams, simulate_day

ENV = CONFIG.env
DAY = CONFIG.test_day
N = ENV.num_advertisers


def _pacing(obs, state, key):
    """A policy that reads its state: bid harder when behind an even spend (spend_pace < 0)."""
    return 9.0 * jnp.exp(-3.0 * obs.state[:, 2]), state


@pytest.fixture(scope="module")
def logged(tmp_path_factory):
    dataset = make_dataset(CONFIG)
    world = dataset.world.replace(budget=np.asarray(dataset.world.budget) * 4.0)
    dataset = dataclasses.replace(dataset, world=world)
    calm = HeuristicParams(kind=np.ones(N, np.int32), alpha=np.linspace(0.3, 0.5, N, dtype=np.float32),
                           gain=np.ones(N, np.float32), gamma=np.ones(N, np.float32),
                           noise=np.full(N, 0.05, np.float32), competition=np.ones(N, np.float32),
                           **{name: np.ones(N, np.float32) for name in  # the auto-bidder's, unused by kind 1
                              ("aim_roi", "unit", "constraint_gain", "prior_spend", "integral_limit")})
    out = tmp_path_factory.mktemp("logged")
    for day in (DAY - 2, DAY - 1, DAY):
        write_period(dataset, day, str(out / f"period-{day}.csv"), behaviour=calm)
    env = dataclasses.replace(ENV, campaign_mix=(0.0, 0.0, 1.0), unit_value=(1.0, 1.0, 1.0))
    config = AuctionNetConfig(path=str(out), num_days=DAY, train_days=(DAY - 2,), val_day=DAY - 1, test_day=DAY,
                              num_tasks=ENV.num_categories, train_per_task=None, env=env)
    return dataset, calm, load_auctionnet(config)


def test_replay_on_logged_traffic_equals_the_simulators(logged):
    dataset, calm, raw = logged
    traffic = logged_traffic(raw, DAY)
    # The premises of "do not react": nobody's budget limits its logged bids, and every slot sold.
    log_cost = np.asarray(raw.test.cost).sum(1)
    assert np.all(np.asarray(raw.test.budget) - log_cost > 10 * traffic.top_bid.max())
    assert np.all(traffic.top_bid[..., ENV.num_slots - 1][traffic.valid] > 0)

    inputs = dataset.eval_inputs(DAY)
    params = inputs.pop("params")
    inputs["competitors"] = jax.tree.map(jnp.asarray, calm)

    @jax.jit
    def simulator(inputs):
        def one(j):
            totals, traj, _ = simulate_day(params=params, policy_fn=_pacing, policy_state=(),
                                           controlled_mask=jnp.arange(N) == j, **inputs)
            return totals.cost[j], totals.value_continuous[j, totals.campaign[j]], traj.states[:, j]

        return jax.vmap(one)(jnp.arange(N))

    cost, value, states = jax.device_get(simulator(inputs))
    unit = np.asarray(ENV.unit_value, np.float32)[np.asarray(dataset.world.campaign)]
    ours = jax.device_get(jax.jit(lambda tr: replay_every_advertiser(
        raw.config.env, tr, lambda j: (_pacing, ()), jax.random.PRNGKey(0)))(jax.tree.map(jnp.asarray, traffic)))
    np.testing.assert_allclose(ours["cost"], cost, rtol=1e-4)
    np.testing.assert_allclose(ours["value_continuous"], value * unit, rtol=1e-4)
    np.testing.assert_allclose(ours["states"], states, rtol=1e-4, atol=1e-5)
    budget = np.asarray(raw.test.budget)[np.argsort(np.asarray(raw.test.advertiser))]
    assert np.any(cost > 0.99 * budget)  # the budget rule binds for some advertiser
    assert np.all(cost <= budget)


def test_metrics_and_references(logged):
    _, _, raw = logged
    traffic = jax.tree.map(jnp.asarray, logged_traffic(raw, DAY))
    zero = jax.device_get(fixed_multiplier_replay(raw.config.env, traffic, 0.0, jax.random.PRNGKey(0)))
    assert np.all(zero["cost"] == 0) and np.all(zero["value"] == 0)
    high = jax.device_get(fixed_multiplier_replay(raw.config.env, traffic, ENV.max_multiplier, jax.random.PRNGKey(0)))
    # Outbidding every logged bid, j takes slot 1 of every impression and pays the highest other
    # bid where slot 1 was shown, until its budget is spent.
    top_bid, top_adv = np.asarray(traffic.top_bid), np.asarray(traffic.top_adv)
    shown, valid, pvalue = np.asarray(traffic.shown[..., 0]), np.asarray(traffic.valid), np.asarray(traffic.pvalue)
    budget, paid = np.asarray(traffic.budget), valid & shown
    exact = reached = 0
    for j in range(N):
        price = np.maximum(np.where(top_adv[..., 0] == j, top_bid[..., 1], top_bid[..., 0]), ENV.reserve_price)
        total, highest_bid = price[paid].sum(), ENV.max_multiplier * pvalue[j].max()
        assert high["cost"][j] <= budget[j]
        if total + highest_bid < budget[j]:  # no bid ever capped by the budget left
            exact += 1
            np.testing.assert_allclose(high["cost"][j], total, rtol=1e-5)
            np.testing.assert_allclose(high["value_continuous"][j], pvalue[j][paid].sum(), rtol=1e-5)
        elif total > budget[j]:  # spent up to less than one price short of the budget
            reached += 1
            assert budget[j] - price[paid].max() < high["cost"][j]
    assert exact > 0 and reached > 0
    metrics = logged_metrics(raw, high["value_continuous"][None], high["cost"][None])
    assert set(metrics) == {"score", "value", "cost", "online_ratio", "violation_rate"}
    k = raw.config.num_tasks
    assert all(m.shape == (1, k) for m in metrics.values())
    tasks = np.asarray(traffic.task)
    np.testing.assert_allclose(metrics["cost"][0], [high["cost"][tasks == t].mean() for t in range(k)], rtol=1e-6)


def test_replaying_the_logged_actions_gives_the_log(logged):
    # Any log: j bidding its own logged multipliers meets the logged bids of the others, so it
    # spends what it spent and observes what the reader computes from the file.
    _, _, raw = logged
    env = raw.config.env
    traffic = jax.tree.map(jnp.asarray, logged_traffic(raw, DAY))
    log = read_period(os.path.join(raw.config.path, f"period-{DAY}.csv"), env.num_slots, env.reserve_price,
                      env.ticks_per_day)
    actions = jnp.asarray(np.where(log.pvalue > 0, log.bid / np.maximum(log.pvalue, 1e-30), 0.0), jnp.float32)

    def make(j):
        return (lambda obs, state, key: (actions[j, obs.tick][None], state)), ()

    for features, expected, compared in (
            ("project", project_states(log, env.impressions_per_day / env.ticks_per_day), slice(None)),
            ("auctionnet", auctionnet_states(log), np.array([i for i in range(16) if i not in (6, 10)]))):
        out = jax.device_get(jax.jit(lambda tr: replay_every_advertiser(
            env, tr, make, jax.random.PRNGKey(1), features))(traffic))
        np.testing.assert_allclose(out["cost_per_step"], log.cost, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(out["value_continuous"], log.exposed_value.sum(1), rtol=1e-4)
        values, costs = logged_totals(raw)  # the reference read from the trajectories
        np.testing.assert_allclose(out["value_continuous"], values, rtol=1e-4)
        np.testing.assert_allclose(out["cost"], costs, rtol=1e-4)
        # AuctionNet's conversion means (6, 10) are of fresh draws, the others of the log.
        np.testing.assert_allclose(out["states"][..., compared], expected[..., compared], rtol=1e-4, atol=1e-5)
