"""The logs: determinism, temporal split, caching, batching."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vamo_jax import data, sim
from vamo_jax.data import generate, spec
from tests.data.conftest import CONFIG

T = CONFIG.env.ticks_per_day
H = CONFIG.env.history_len


def _ids(split):
    return set(zip(np.asarray(split.episode).tolist(), np.asarray(split.day).tolist(),
                   np.asarray(split.advertiser).tolist()))


def test_split_by_day_leaks_nothing(dataset):
    data.check_no_leak(dataset)
    assert set(np.unique(dataset.train.day)) <= set(CONFIG.train_days)
    assert set(np.unique(dataset.val.day)) == {CONFIG.val_day}
    assert set(np.unique(dataset.test.day)) == {CONFIG.test_day}
    tr, va, te = _ids(dataset.train), _ids(dataset.val), _ids(dataset.test)
    assert not (tr & va or tr & te or va & te)
    np.testing.assert_array_equal(np.bincount(dataset.train.task, minlength=3), CONFIG.train_per_task)
    # Stats come from the training split alone.
    s = np.asarray(dataset.train.states).reshape(-1, spec.STATE_DIM)
    np.testing.assert_allclose(dataset.stats.state_mean, s.mean(0), rtol=1e-5, atol=1e-6)


def test_overlapping_days_are_rejected():
    with pytest.raises(ValueError, match="overlap"):
        dataclasses.replace(CONFIG, val_day=8)
    with pytest.raises(ValueError, match="train_per_task"):
        dataclasses.replace(CONFIG, train_per_task=(-1, 2, 2))


def test_same_config_same_arrays_and_cache(dataset, tmp_path):
    cfg = dataclasses.replace(CONFIG, cache_dir=str(tmp_path))
    a = data.make_dataset(cfg)  # generated again, then written
    b = data.make_dataset(cfg)  # read from the cache
    assert len(list(tmp_path.iterdir())) == 1
    for name in ("train", "val", "test"):
        for x, y, z in zip(jax.tree.leaves(dataset.split(name)), jax.tree.leaves(a.split(name)),
                           jax.tree.leaves(b.split(name))):
            np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
            np.testing.assert_array_equal(np.asarray(x), np.asarray(z))
    assert cfg.fingerprint() != dataclasses.replace(cfg, seed=1).fingerprint()


@pytest.mark.parametrize("damage", ["truncated", "flipped_byte"])
def test_a_damaged_cache_is_reported_and_regenerated(dataset, tmp_path, damage):
    cfg = dataclasses.replace(CONFIG, cache_dir=str(tmp_path))
    path = tmp_path / f"vamo_logs_{cfg.fingerprint()}.npz"
    generate.save_dataset(str(path), dataset)
    raw = path.read_bytes()
    middle = len(raw) // 2
    flipped = raw[:middle] + bytes([raw[middle] ^ 0xFF]) + raw[middle + 1:]
    path.write_bytes(raw[:middle] if damage == "truncated" else flipped)
    with pytest.warns(UserWarning, match=rf"data cache {path} does not load \(\w+: .+\); regenerating it\."):
        again = data.make_dataset(cfg)
    for x, y in zip(jax.tree.leaves(dataset.train), jax.tree.leaves(again.train)):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    generate.load_dataset(str(path), cfg)  # the cache is whole again


def test_returns_and_requirement(dataset):
    tr = dataset.train
    unit = np.asarray(CONFIG.env.unit_value)
    own = np.asarray(tr.rewards)[np.arange(tr.size), :, np.asarray(tr.campaign)] * unit[tr.campaign][:, None]
    np.testing.assert_allclose(tr.returns_to_go[:, 0], own.sum(1) / tr.budget, rtol=1e-5)
    assert np.std(tr.returns_to_go[:, 0]) > 0.05  # behaviour quality spread: returns vary
    assert np.all(np.asarray(tr.next_states)[:, -1] == 0)
    np.testing.assert_array_equal(tr.next_states[:, :-1], tr.states[:, 1:])


sample = jax.jit(data.sample_batch, static_argnums=(2, 3, 5))


def test_sample_batch_contract(dataset):
    b = sample(jax.random.key(0), dataset.train, 32, 10, dataset.stats, CONFIG.env)
    spec.assert_batch(b)
    assert b.market.shape == dataset.market.shape[:1] + (np.prod(dataset.market.shape[1:3]), spec.HISTORY_FEATURES)
    assert b.market_index.shape == (32, 10)
    # Task proportions matched to the data, within one row.
    p = np.bincount(dataset.train.task, minlength=3) / dataset.train.size
    assert np.all(np.abs(np.bincount(b.task, minlength=3) - 32 * p) <= 1)
    # Left padding: masked positions precede real ones and are zero.
    mask = np.asarray(b.mask)
    assert np.all(np.diff(mask, axis=1) >= 0)
    assert np.all(np.asarray(b.states)[mask == 0] == 0) and np.all(np.asarray(b.actions)[mask == 0] == 0)


def test_sample_task_batch_draws_only_that_task_and_all_its_rows(dataset):
    sample_task = jax.jit(data.sample_task_batch, static_argnums=(3, 4, 6))
    task_ids = np.asarray(dataset.train.task)
    for k in range(3):
        b = sample_task(jax.random.key(k), dataset.train, jnp.int32(k), 64, 4, dataset.stats, CONFIG.env)
        spec.assert_batch(b)
        np.testing.assert_array_equal(b.task, k)
        first = np.asarray(b.states[:, -1])  # the last tick of each window is always real
        rows = np.flatnonzero(task_ids == k)
        # Every window is a window of one of task k's trajectories (states match the split's).
        t_last = np.asarray(b.timesteps[:, -1])
        own = data.normalise_states(np.asarray(dataset.train.states)[rows][:, t_last], dataset.stats)
        assert all(np.any(np.all(np.isclose(own[:, j], first[j], atol=1e-5), -1)) for j in range(64))


def test_history_reaches_into_the_previous_day(dataset):
    split = dataset.val
    b = sample(jax.random.key(1), split, 64, 1, dataset.stats, CONFIG.env)
    t = np.asarray(b.timesteps[:, 0])
    history = spec.history_windows(b.market, b.market_index, H)
    two_days = np.concatenate([dataset.market[0, CONFIG.val_day - 1], dataset.market[0, CONFIG.val_day]], 0)
    for j in range(64):
        expected = two_days[T + t[j] - H: T + t[j]]
        np.testing.assert_array_equal(np.asarray(history[j, 0]), expected)
    assert np.any(t < H)  # some windows do reach back into day 8


def test_full_window_rewards_sum_to_returns(dataset):
    b = sample(jax.random.key(2), dataset.test, 8, T, dataset.stats, CONFIG.env)
    r = np.asarray(b.rewards)[np.arange(8), :, np.asarray(b.task)]
    full = np.asarray(b.mask).all(1)
    rtg = np.flip(np.cumsum(np.flip(r, 1), 1), 1)
    np.testing.assert_allclose(rtg[full], np.asarray(b.returns_to_go)[full], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.asarray(b.requirement)[full, 0], np.asarray(b.returns_to_go)[full, 0], rtol=1e-4)


def test_eval_inputs_replay_the_logged_test_day(dataset):
    """simulate_day with the behaviour policy and the stored key reproduces the logged test day."""
    ins = dataset.eval_inputs(CONFIG.test_day)
    n = CONFIG.env.num_advertisers
    comp = ins["competitors"]
    totals, traj, _ = jax.jit(lambda: sim.simulate_day(
        ins["key"], CONFIG.env, ins["world"], ins["day"], sim.heuristic_policy, sim.init_heuristic(comp),
        jnp.zeros(n, bool), ins["history"], comp))()
    te = dataset.test
    # Equal up to float32 rounding (the logs were compiled under vmap, this run is not).
    np.testing.assert_allclose(np.asarray(traj.actions)[:, te.advertiser].T, te.actions, rtol=1e-4)
    np.testing.assert_allclose(np.asarray(traj.cost)[:, te.advertiser].T, te.cost, rtol=1e-3, atol=1e-2)
