"""Replications over markets: market r's logs from a traced key, compiled once, R markets under one `vmap`.

A replication is an independent market: its own world and regime sequence, its own logs (days
0..num_days), and its own trajectories per split and task. Everything random in market r derives
from one key,

    market_key(seed, r) = jax.random.fold_in(jax.random.key(seed), r)      # seed = DataConfig.seed
    k_sim, k_select     = jax.random.split(market_key(seed, r))
    simulation          = generate.simulate_episodes(k_sim, config, E, config.task_shift)  # as make_dataset
    selection of (split i, task k) = jax.random.choice(fold_in(fold_in(k_select, i), k), C_ik,
                                                       (n_ik,), replace=False), sorted
    (i: 0 train, 1 validation, 2 test; C_ik the split's candidate (episode, day, advertiser)
    rows of task k, `generate.candidates`; n_ik = `config.per_task(split)[k]`, all of them when None)

The key is a traced argument and `config.seed` is not read inside the compiled program, so
market r (of any seed) compiles once per market shape (`generate_market`), and R markets are one
program (`generate_markets`, a `vmap` over keys) stacked along a leading axis R.

`make_dataset(config)` is not a special case: it draws from `jax.random.key(config.seed)` and
selects with numpy's generator, and stays as it is (the main job's numbers are pinned to it).
Split fields and the normalisation are computed here in float32 JAX (`make_dataset`: numpy), so a
market's `Dataset` (`market_dataset`) has the same layout and meaning, not numpy's rounding.

    keys = market_keys(config.seed, R)                   # (R,) keys, markets 0..R-1
    markets = generate_markets(keys, config)             # Market, every leaf (R, …)
    ds = market_dataset(market_at(markets, r), config)   # market r as a Dataset (numpy)
    replay = jax.vmap(lambda m: replay_inputs(m, config, config.test_day, L))(markets)   # (R, …)
"""

from __future__ import annotations

import dataclasses
import functools
from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp
import numpy as np

from vamo_jax.data.config import DataConfig
from vamo_jax.data.dataset import Dataset, NormStats, Split
from vamo_jax.data.generate import candidates, check_no_leak, episodes_needed, simulate_episodes
from vamo_jax.data.tasks import advertiser_tasks
from vamo_jax.sim.market import World
from vamo_jax.sim.params import EnvParams
from vamo_jax.sim.policies import HeuristicParams

SPLITS = ("train", "val", "test")
"""The splits in the order of their selection key (`fold_in(k_select, i)`)."""


@chex.dataclass(frozen=True)
class Market:
    """One market's logs as arrays (a pytree); stacked markets carry a leading axis R on every leaf.

    Attributes:
      train, val, test: `Split`s, trajectories (M_split, …) sorted by (task, day, episode, advertiser).
      stats: `NormStats` of the training split.
      market: (E, D, T, F) the market series, indexed [episode, day, tick] (day 0 = burn-in).
      world: the market's `World` (advertisers (N,), regimes (D, R_dim)).
      sim_keys: (E, D, 2) uint32 key data each day was simulated with.
      behaviour: `HeuristicParams`, leaves (E, D, N): the logged policies.
    """

    train: Split
    val: Split
    test: Split
    stats: NormStats
    market: chex.Array
    world: World
    sim_keys: chex.Array
    behaviour: HeuristicParams


class MarketReplay(NamedTuple):
    """What replaying one logged day of a market needs, as arrays (leading R when vmapped).

    Attributes:
      key_data: (2,) uint32, the logged day's key (`jax.random.wrap_key_data` gives the key).
      world: the market's `World`.
      day: () int32, the day replayed.
      history: (H, F) the market window before the day (the last H ticks of day − 1).
      competitors: `HeuristicParams` (N,), the logged heuristic policies of the day.
      series: (L, F) the L logged market ticks up to the one before day − 1's last tick, zeros in
        front where the logs are shorter (the evaluator's `market_before`).
    """

    key_data: chex.Array
    world: World
    day: chex.Array
    history: chex.Array
    competitors: HeuristicParams
    series: chex.Array

    def eval_inputs(self, env: EnvParams) -> dict:
        """`vamo_jax.sim.simulate_day` keyword arguments, as `Dataset.eval_inputs` gives them (one market)."""
        return dict(key=jax.random.wrap_key_data(self.key_data), params=env, world=self.world, day=self.day,
                    history=self.history, competitors=self.competitors)


def market_key(seed: int, replication: int | jax.Array) -> jax.Array:
    """The key of market `replication` of `seed`: `fold_in(jax.random.key(seed), replication)`."""
    return jax.random.fold_in(jax.random.key(seed), replication)


def market_keys(seed: int, num_markets: int) -> jax.Array:
    """(R,) the keys of markets 0..R-1 of `seed` (`market_key` of each), R = `num_markets`."""
    if int(num_markets) != num_markets or num_markets < 1:
        raise ValueError(f"market_keys: num_markets={num_markets!r} must be a positive integer.")
    return jax.vmap(functools.partial(market_key, seed))(jnp.arange(num_markets))


def generate_market(key: jax.Array, config: DataConfig) -> Market:
    """Market `key`'s logs (one market): compiled once per `config`'s shapes, whatever the key or `config.seed`.

    Args:
      key: a typed key (`market_key(config.seed, r)`), shape ().
      config: the data set's shape (days, split sizes, tasks, market); its `seed` and `cache_dir`
        are not read.
    """
    _check_keys(key, 0, "generate_market")
    return _generate_one(key, _static(config))


def generate_markets(keys: jax.Array, config: DataConfig) -> Market:
    """R markets under one `vmap`: `Market` with leaves (R, …); market r equals
    `generate_market(keys[r], config)` bit for bit (on CPU: tested on a small market, checked at the
    `sim` size).

    Args:
      keys: (R,) typed keys (`market_keys(config.seed, R)`).
      config: as `generate_market`.
    """
    _check_keys(keys, 1, "generate_markets")
    return _generate_many(keys, _static(config))


def market_at(markets: Market, r: int) -> Market:
    """Market r of stacked markets (every leaf's leading axis indexed)."""
    return jax.tree.map(lambda x: x[r], markets)


def market_dataset(market: Market, config: DataConfig) -> Dataset:
    """One market as a numpy `Dataset`, for code that takes one (training, `Dataset.eval_inputs`).

    `Dataset.config` is `config`: its `seed` is the root of the markets, not this market's key.
    """
    if np.ndim(market.market) != 4:
        raise ValueError(f"market_dataset takes one market (market series (E, D, T, F)), got series of shape "
                         f"{np.shape(market.market)}; pick market r of stacked markets with market_at(markets, r).")
    m = jax.device_get(market)
    ds = Dataset(config=config, train=m.train, val=m.val, test=m.test, stats=m.stats, market=m.market,
                 world=m.world, sim_keys=m.sim_keys, behaviour=m.behaviour)
    check_no_leak(ds)
    return ds


def replay_inputs(market: Market, config: DataConfig, day: int, market_length: int = 1,
                  episode: int = 0) -> MarketReplay:
    """The replay of one market's logged `day` (episode `episode`) as arrays: traceable, so an
    evaluator can take it as an argument, and `vmap` over stacked markets gives (R, …) leaves.

    Args:
      market: one market (`generate_market`, `market_at`), or a vmapped slice of stacked markets.
      config: the markets' `DataConfig`.
      day: the day replayed, 1..num_days (static).
      market_length: L, the logged market ticks before the day in `MarketReplay.series`.
      episode: the market episode replayed (static).
    """
    num_days, h = config.num_days, config.env.history_len
    if not 1 <= day <= num_days:
        raise ValueError(f"replay_inputs: day={day} must be in 1..{num_days}.")
    if int(market_length) != market_length or market_length < 1:
        raise ValueError(f"replay_inputs: market_length={market_length!r} must be a positive integer.")
    if jnp.ndim(market.market) != 4:
        raise ValueError(f"replay_inputs takes one market (series (E, D, T, F)), got {jnp.shape(market.market)}; "
                         "vmap it over stacked markets, or pick one with market_at(markets, r).")
    if not 0 <= episode < market.market.shape[0]:
        raise ValueError(f"replay_inputs: episode={episode} must be in 0..{market.market.shape[0] - 1}.")
    series = market.market[episode, :day].reshape(-1, market.market.shape[-1])[:-1][-market_length:]
    series = jnp.concatenate([jnp.zeros((market_length - series.shape[0], series.shape[1]), series.dtype), series])
    return MarketReplay(
        key_data=market.sim_keys[episode, day], world=market.world, day=jnp.asarray(day, jnp.int32),
        history=market.market[episode, day - 1, -h:], series=series,
        competitors=jax.tree.map(lambda x: x[episode, day], market.behaviour),
    )


def shape_config(config: DataConfig) -> DataConfig:
    """`config` with `seed`, `cache_dir` and `markets` reset: what fixes a market's shapes and the
    programs built on them (a cache key under which every market and seed share one compilation)."""
    return dataclasses.replace(config, seed=0, cache_dir=None, markets=None)


def _check_keys(keys, ndim: int, where: str) -> None:
    if not (isinstance(keys, jax.Array) and jnp.issubdtype(keys.dtype, jax.dtypes.prng_key)):
        raise ValueError(f"{where}: give typed keys (market_key / market_keys, or jax.random.key), "
                         f"got {type(keys).__name__} of dtype {getattr(keys, 'dtype', None)}.")
    if keys.ndim != ndim:
        raise ValueError(f"{where}: keys of shape {'()' if ndim == 0 else '(R,)'} expected, got {keys.shape}.")


def _static(config: DataConfig) -> DataConfig:
    """`config` without what the compiled program does not read (seed, cache, market count), so
    that it is one static argument for every seed."""
    if not isinstance(config, DataConfig):
        raise ValueError(f"config: give a DataConfig, got {type(config).__name__}.")
    episodes_needed(config)  # raises when a task has no advertiser
    return shape_config(config)


def _market_from_key(key: jax.Array, config: DataConfig) -> Market:
    num_episodes = episodes_needed(config)
    k_sim, k_select = jax.random.split(key)
    world, traj, behaviour, sim_keys = simulate_episodes(k_sim, config, num_episodes, jnp.float32(config.task_shift))
    task_of_adv = advertiser_tasks(config.env, config.num_tasks)
    splits = {name: _split(config, world, traj, _rows(jax.random.fold_in(k_select, i), config, name,
                                                       task_of_adv, num_episodes), task_of_adv)
              for i, name in enumerate(SPLITS)}
    return Market(stats=_norm_stats(splits["train"]), market=traj.market, world=world, sim_keys=sim_keys,
                  behaviour=behaviour, **splits)


_generate_one = jax.jit(_market_from_key, static_argnums=1)
_generate_many = jax.jit(lambda keys, config: jax.vmap(lambda k: _market_from_key(k, config))(keys),
                         static_argnums=1)


def _rows(key: jax.Array, config: DataConfig, split: str, task_of_adv: np.ndarray, num_episodes: int) -> jax.Array:
    """(M, 3) int32 rows (episode, day, advertiser) of `split`, sorted by (task, day, episode, advertiser)."""
    per_task = config.per_task(split)
    rows = []
    for k in range(config.num_tasks):
        cand = candidates(config.split_days()[split], num_episodes, np.flatnonzero(task_of_adv == k))
        cand = jnp.asarray(cand, jnp.int32)
        if per_task is None:
            rows.append(cand)
        elif per_task[k]:
            pick = jax.random.choice(jax.random.fold_in(key, k), cand.shape[0], (per_task[k],), replace=False)
            rows.append(cand[jnp.sort(pick)])
    return jnp.concatenate(rows, 0) if rows else jnp.zeros((0, 3), jnp.int32)


def _split(config: DataConfig, world: World, traj, rows: jax.Array, task_of_adv: np.ndarray) -> Split:
    """The split of trajectories `rows` (M, 3), as `generate.build_split` in float32 JAX."""
    e, d, n = rows[:, 0], rows[:, 1], rows[:, 2]
    campaign = world.campaign[n]
    budget = world.budget[n].astype(jnp.float32)

    def per_traj(x):  # (E, D, T, N, …) → (M, T, …)
        return x[e, d, :, n]

    states = per_traj(traj.states)
    rewards = per_traj(traj.rewards).astype(jnp.float32)
    unit = jnp.asarray(config.env.unit_value, jnp.float32)
    own = jnp.take_along_axis(rewards, campaign[:, None, None], axis=2)[..., 0] * unit[campaign][:, None]
    rtg = jnp.flip(jnp.cumsum(jnp.flip(own, 1), 1), 1) / budget[:, None]
    return Split(
        states=states, next_states=jnp.concatenate([states[:, 1:], jnp.zeros_like(states[:, :1])], 1),
        actions=per_traj(traj.actions), rewards=rewards, rewards_continuous=per_traj(traj.rewards_continuous),
        returns_to_go=rtg, cost=per_traj(traj.cost), remaining=per_traj(traj.remaining), budget=budget,
        constraint=world.constraint[n].astype(jnp.float32), campaign=campaign.astype(jnp.int32),
        task=jnp.asarray(task_of_adv, jnp.int32)[n], day=d, episode=e, advertiser=n,
        category=world.category[n].astype(jnp.int32), market=traj.market,
    )


def _norm_stats(train: Split) -> NormStats:
    """`dataset.compute_norm_stats` in float32 JAX, its sums in a fixed order (`_ordered_sum`), so
    that a market's statistics are the same stacked and alone (XLA's reductions are not: at the
    `sim` size the vmapped mean of the states differed from the stand-alone one in its last bits)."""
    states, num_rows = train.states, train.states.shape[0] * train.states.shape[1]
    mean = _ordered_sum(_ordered_sum(states)) / num_rows  # (M, T, S) → (S,)
    std = jnp.sqrt(_ordered_sum(_ordered_sum((states - mean) ** 2)) / num_rows)
    return NormStats(state_mean=mean, state_std=jnp.maximum(std, 1e-6),
                     return_scale=jnp.maximum(_ordered_sum(train.returns_to_go[:, 0]) / train.size, 1e-6),
                     budget_scale=_ordered_sum(train.budget) / train.size)


def _ordered_sum(x: jax.Array) -> jax.Array:
    """x (A, …) summed over its first axis one row after another (`lax.scan`): (…). Elementwise
    adds in a fixed order give the same bits under `vmap` as alone."""
    return jax.lax.scan(lambda total, row: (total + row, None), jnp.zeros(x.shape[1:], x.dtype), x)[0]
