"""Markets from traced keys: stacked equals stand-alone bit for bit, no recompilation per market,
the documented key derivation, and the replay of a market's logged day."""

import contextlib
import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vamo_jax import sim
from vamo_jax.data import markets as mk
from vamo_jax.data.config import DataConfig
from vamo_jax.data.generate import candidates
from vamo_jax.data.tasks import advertiser_tasks
from vamo_jax.evaluate import market_before
from vamo_jax.sim.params import EnvParams

# A small market (the compilation is most of the cost): task 2 (CartCnt) has one advertiser, so
# 3 of its training trajectories need 2 episodes, and the selection spans episodes.
ENV = EnvParams(num_advertisers=6, num_categories=2, ticks_per_day=8, impressions_per_day=64, history_len=4,
                block_len=4)
CONFIG = DataConfig(seed=3, num_days=4, train_days=(1, 2), val_day=3, test_day=4, train_per_task=(3, 3, 3),
                    val_per_task=(1, 0, 1), env=ENV)
R = 3


@pytest.fixture(scope="module")
def stacked():
    return jax.device_get(mk.generate_markets(mk.market_keys(CONFIG.seed, R), CONFIG))


@pytest.fixture(scope="module")
def alone():
    """Markets 0 and 2, each generated on its own."""
    return {r: jax.device_get(mk.generate_market(mk.market_key(CONFIG.seed, r), CONFIG)) for r in (0, 2)}


@contextlib.contextmanager
def count_compilations():
    """Counts the programs lowered (every compilation, the persistent cache's hits included)."""
    events = []
    listener = lambda event, duration, **kw: events.append(event)  # noqa: E731
    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        yield events
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)


def lowered(events):
    return sum(e == "/jax/core/compile/jaxpr_to_mlir_module_duration" for e in events)


def assert_markets_equal(a, b):
    la, lb = jax.tree_util.tree_leaves_with_path(a), jax.tree_util.tree_leaves_with_path(b)
    assert [p for p, _ in la] == [p for p, _ in lb]
    for (path, x), (_, y) in zip(la, lb):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y), err_msg=jax.tree_util.keystr(path))


def test_stacked_market_equals_its_stand_alone_generation_bit_for_bit(stacked, alone):
    for r, market in alone.items():
        assert_markets_equal(mk.market_at(stacked, r), market)
    # Not vacuous: the markets differ (world, logs, selection).
    assert not np.array_equal(stacked.world.budget[0], stacked.world.budget[1])
    assert not np.array_equal(stacked.train.actions[0], stacked.train.actions[1])


def test_another_market_or_seed_does_not_recompile(alone):
    keys = [mk.market_key(CONFIG.seed, 7), mk.market_key(11, 0)]
    stacked_keys = mk.market_keys(5, R)
    sizes = mk._generate_one._cache_size(), mk._generate_many._cache_size()
    with count_compilations() as events:
        jax.block_until_ready(mk.generate_market(keys[0], CONFIG))
        jax.block_until_ready(mk.generate_market(keys[1], dataclasses.replace(CONFIG, seed=11)))
        jax.block_until_ready(mk.generate_markets(stacked_keys, dataclasses.replace(CONFIG, seed=5)))
    assert lowered(events) == 0, events
    assert (mk._generate_one._cache_size(), mk._generate_many._cache_size()) == sizes


def test_keys_derive_from_the_seed_and_the_replication(stacked):
    """The derivation the module documents, computed here from jax.random alone."""
    task_of_adv = advertiser_tasks(ENV, CONFIG.num_tasks)
    for r in range(R):
        key = jax.random.fold_in(jax.random.key(CONFIG.seed), r)
        k_sim, k_select = jax.random.split(key)
        k_days = jax.random.split(k_sim)[1]
        market = mk.market_at(stacked, r)
        for e in range(market.sim_keys.shape[0]):
            for d in range(CONFIG.num_days + 1):
                day_key = jax.random.fold_in(jax.random.fold_in(k_days, e), d)
                want = jax.random.key_data(jax.random.split(day_key)[1])  # a day key splits into (behaviour, traffic)
                np.testing.assert_array_equal(market.sim_keys[e, d], want)
        for i, name in enumerate(mk.SPLITS):
            split, per_task = getattr(market, name), CONFIG.per_task(name)
            got = np.stack([split.episode, split.day, split.advertiser], 1)
            want = []
            for k in range(CONFIG.num_tasks):
                cand = candidates(CONFIG.split_days()[name], market.sim_keys.shape[0], np.flatnonzero(task_of_adv == k))
                if per_task is None:
                    want.append(cand)
                else:
                    pick = jax.random.choice(jax.random.fold_in(jax.random.fold_in(k_select, i), k), len(cand),
                                             (per_task[k],), replace=False)
                    want.append(cand[np.sort(np.asarray(pick))])
            np.testing.assert_array_equal(got, np.concatenate(want))


def test_splits_hold_the_days_tasks_and_counts_asked(stacked):
    task_of_adv = advertiser_tasks(ENV, CONFIG.num_tasks)
    num_episodes = stacked.sim_keys.shape[1]
    assert num_episodes == 2
    for r in range(R):
        ds = mk.market_dataset(mk.market_at(stacked, r), CONFIG)  # checks that no split leaks a day
        for name, days in CONFIG.split_days().items():
            s = ds.split(name)
            assert set(np.unique(s.day)) <= set(days)
            np.testing.assert_array_equal(s.task, task_of_adv[s.advertiser])
            per_task = CONFIG.per_task(name)
            counts = np.bincount(s.task, minlength=CONFIG.num_tasks)
            if per_task is None:  # every (episode, advertiser) of the day
                np.testing.assert_array_equal(counts, np.bincount(task_of_adv) * num_episodes * len(days))
            else:
                np.testing.assert_array_equal(counts, per_task)
            key = np.stack([s.task, s.day, s.episode, s.advertiser], 1)
            assert len(np.unique(key, axis=0)) == len(key)
            np.testing.assert_array_equal(np.lexsort(key.T[::-1]), np.arange(len(key)))
        assert set(np.unique(ds.train.episode)) == {0, 1}
        # Returns to go, recomputed in float64 from the rewards.
        t = ds.train
        own = t.rewards[np.arange(t.size), :, t.campaign] * np.asarray(ENV.unit_value)[t.campaign][:, None]
        rtg = np.cumsum(own[:, ::-1].astype(np.float64), 1)[:, ::-1] / t.budget[:, None]
        np.testing.assert_allclose(t.returns_to_go, rtg, rtol=1e-5, atol=1e-6)
        states = t.states.reshape(-1, t.states.shape[-1]).astype(np.float64)
        np.testing.assert_allclose(ds.stats.state_mean, states.mean(0), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(ds.stats.state_std, np.maximum(states.std(0), 1e-6), rtol=1e-4, atol=1e-6)


def test_replay_inputs_are_the_datasets_and_replay_the_logged_test_day(stacked):
    day, length = CONFIG.test_day, 11
    replays = jax.device_get(jax.vmap(lambda m: mk.replay_inputs(m, CONFIG, day, length))(stacked))
    for r in range(R):
        ds = mk.market_dataset(mk.market_at(stacked, r), CONFIG)
        replay = mk.market_at(replays, r)
        want = ds.eval_inputs(day)
        got = replay.eval_inputs(ENV)
        np.testing.assert_array_equal(jax.random.key_data(got["key"]), jax.random.key_data(want["key"]))
        assert int(got["day"]) == want["day"] and got["params"] == want["params"]
        for field in ("world", "history", "competitors"):
            jax.tree.map(np.testing.assert_array_equal, got[field], jax.tree.map(np.asarray, want[field]))
        np.testing.assert_array_equal(replay.series, market_before(ds, day, length))
    # Market 1's logged test day, replayed with its behaviour policies from the replay's arrays.
    ds = mk.market_dataset(mk.market_at(stacked, 1), CONFIG)
    ins = mk.market_at(replays, 1).eval_inputs(ENV)
    _, traj, _ = jax.jit(lambda ins: sim.simulate_day(
        ins["key"], ENV, ins["world"], ins["day"], sim.heuristic_policy, sim.init_heuristic(ins["competitors"]),
        jnp.zeros(ENV.num_advertisers, bool), ins["history"], ins["competitors"]))(
        {k: v for k, v in ins.items() if k != "params"})
    te = ds.test
    logged = te.episode == 0
    # Equal up to float32 rounding (the logs were compiled under vmap and scan, this run is not).
    np.testing.assert_allclose(np.asarray(traj.actions)[:, te.advertiser[logged]].T, te.actions[logged], rtol=1e-4)
    np.testing.assert_allclose(np.asarray(traj.cost)[:, te.advertiser[logged]].T, te.cost[logged], rtol=1e-3,
                               atol=1e-2)


def test_wrong_input_is_refused_by_name(stacked):
    with pytest.raises(ValueError, match="typed keys"):
        mk.generate_market(jax.random.PRNGKey(0), CONFIG)
    with pytest.raises(ValueError, match=r"keys of shape \(R,\)"):
        mk.generate_markets(mk.market_key(0, 0), CONFIG)
    with pytest.raises(ValueError, match="market_at"):
        mk.market_dataset(stacked, CONFIG)
    with pytest.raises(ValueError, match="day=5"):
        mk.replay_inputs(mk.market_at(stacked, 0), CONFIG, 5)
    with pytest.raises(ValueError, match="num_markets=0"):
        mk.market_keys(0, 0)
