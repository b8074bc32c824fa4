"""`make_dataset`: simulate the days, select trajectories per split and task, cache on disk.

Generation: `world = make_world(key_world, env, num_days + 1)`; for each episode e (an
independent market) the days 0..num_days are a `lax.scan`, each day `simulate_day` with every
advertiser under a heuristic behaviour policy whose parameters are redrawn per (episode, day)
with quality spread `alpha_spread` (and, under `behaviour.kind = "auto_bidder"`, constraint-aware
auto-bidders); the last H market ticks of a day are the next day's history. With
`task_shift` s > 0 the world's regime carries the task-shift axis (`market.shift_world`) from the
day after the last training day on; s is a traced argument, so one compilation serves its grid.
Episodes are a `vmap` axis. Then each split draws, per learning task (`vamo_jax.data.tasks`),
its trajectories without replacement among the (episode, day, advertiser) of its days, with
`numpy.random.default_rng` seeded from `config.seed`.

Replications over markets, each from a traced key and compiled once: `vamo_jax.data.markets`.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import warnings
import zipfile
import zlib

import jax
import jax.numpy as jnp
import numpy as np

from vamo_jax.data.auctionnet import returns_to_go
from vamo_jax.data.config import AuctionNetConfig, DataConfig
from vamo_jax.data.dataset import SPLIT_FIELDS, Dataset, Split, compute_norm_stats
from vamo_jax.data.tasks import advertiser_tasks
from vamo_jax.sim import market as market_lib
from vamo_jax.sim.env import HISTORY_FEATURES
from vamo_jax.sim.policies import (
    HeuristicParams,
    heuristic_policy,
    init_heuristic,
    sample_heuristic_params,
)
from vamo_jax.sim.rollout import simulate_day


def episodes_needed(config: DataConfig) -> int:
    counts = np.bincount(advertiser_tasks(config.env, config.num_tasks), minlength=config.num_tasks)
    need = 1
    for split, days in config.split_days().items():
        per_task = config.per_task(split)
        if per_task is None:
            continue
        for k, n in enumerate(per_task):
            if n > 0 and counts[k] == 0:
                raise ValueError(f"DataConfig.{split}_per_task asks for task {k} but env.campaign_mix gives it no advertiser.")
            if n > 0:
                need = max(need, math.ceil(n / (counts[k] * len(days))))
    return need


def market_only(config: DataConfig) -> DataConfig:
    """`config` with the fields that do not shape the simulation (tasks, split sizes, cache) set to
    one value, so that configs differing only in them share one compilation (the task shift is a
    traced argument)."""
    return dataclasses.replace(config, cache_dir=None, num_tasks=3, train_per_task=None,
                               val_per_task=None, test_per_task=None, task_shift=0.0)


def simulate_logs(config: DataConfig):
    """Simulates every (episode, day): returns (world, trajectories (E, D, …), behaviour, keys)."""
    world, traj, behaviour, sim_keys = _simulate_logs(market_only(config), episodes_needed(config),
                                                      jnp.float32(config.task_shift))
    return jax.device_get(world), jax.device_get(traj), jax.device_get(behaviour), np.asarray(sim_keys)


@functools.partial(jax.jit, static_argnums=(0, 1))
def _simulate_logs(config: DataConfig, num_episodes: int, task_shift: jax.Array):
    return simulate_episodes(jax.random.key(config.seed), config, num_episodes, task_shift)


def simulate_episodes(key: jax.Array, config: DataConfig, num_episodes: int, task_shift: jax.Array):
    """The simulation of `simulate_logs` from `key` (traceable; `config.seed` and `config.task_shift`
    are not read: the shift strength is the traced `task_shift`).

    Returns (world, trajectories with leaves (E, D, …), behaviour `HeuristicParams` (E, D, N),
    sim_keys (E, D, 2) uint32), E = `num_episodes`, D = num_days + 1.
    """
    env = config.env
    k_world, k_days = jax.random.split(key)
    world = market_lib.make_world(k_world, env, config.num_days + 1)
    world = market_lib.shift_world(world, task_shift, config.shift_onset)
    days = jnp.arange(config.num_days + 1)
    keys = jax.vmap(lambda e: jax.vmap(lambda d: jax.random.fold_in(jax.random.fold_in(k_days, e), d))(days))(
        jnp.arange(num_episodes))
    everyone = jnp.ones((env.num_advertisers,), bool)

    def episode(day_keys):
        def one_day(history, xs):
            key, day = xs
            k_beh, k_sim = jax.random.split(key)
            hp = sample_heuristic_params(k_beh, env, world, day, config.alpha_spread, config.explore_noise,
                                         config.behaviour)
            _, traj, _ = simulate_day(k_sim, env, world, day, heuristic_policy, init_heuristic(hp),
                                      everyone, history, competitors=hp)
            return traj.market[-env.history_len:], (traj, hp, jax.random.key_data(k_sim))

        history0 = jnp.zeros((env.history_len, HISTORY_FEATURES), jnp.float32)
        _, out = jax.lax.scan(one_day, history0, (day_keys, days))
        return out

    traj, behaviour, sim_keys = jax.vmap(episode)(keys)
    return world, traj, behaviour, sim_keys


def candidates(days, num_episodes: int, advertisers) -> np.ndarray:
    """(C, 3) int64 rows (episode, day, advertiser) of `advertisers` on `days`, sorted by (day, episode, advertiser)."""
    return np.array([(e, d, n) for d in days for e in range(num_episodes) for n in advertisers],
                    dtype=np.int64).reshape(-1, 3)


def _select(config: DataConfig, split: str, task_of_adv: np.ndarray, num_episodes: int, rng) -> np.ndarray:
    """(M, 3) rows (episode, day, advertiser), sorted by (learning task, day, episode, advertiser)."""
    rows = []
    per_task = config.per_task(split)
    for k in range(config.num_tasks):
        cand = candidates(config.split_days()[split], num_episodes, np.flatnonzero(task_of_adv == k))
        if per_task is not None:
            if per_task[k] > len(cand):
                raise ValueError(f"{split}: asked for {per_task[k]} trajectories of task {k}, only {len(cand)} exist.")
            cand = cand[np.sort(rng.choice(len(cand), per_task[k], replace=False))] if per_task[k] else cand[:0]
        if len(cand):
            order = np.lexsort((cand[:, 2], cand[:, 0], cand[:, 1]))
            rows.append(cand[order])
    return np.concatenate(rows, 0) if rows else np.zeros((0, 3), np.int64)


def build_split(config: DataConfig, world, traj, rows: np.ndarray, task_of_adv: np.ndarray) -> Split:
    """The split of trajectories `rows` (M, 3); `task_of_adv` (N,) is each advertiser's learning task."""
    e, d, n = rows[:, 0], rows[:, 1], rows[:, 2]
    campaign = np.asarray(world.campaign)[n]
    budget = np.asarray(world.budget)[n]

    def per_traj(x):  # (E, D, T, N, …) → (M, T, …)
        return np.asarray(x)[e, d][np.arange(len(rows)), :, n] if len(rows) else np.asarray(x)[:0, 0, :, 0]

    states = per_traj(traj.states)
    rewards = per_traj(traj.rewards).astype(np.float32)
    rtg = returns_to_go(rewards, campaign, budget.astype(np.float32), config.env.unit_value)
    next_states = np.concatenate([states[:, 1:], np.zeros_like(states[:, :1])], 1)
    return Split(
        states=states, next_states=next_states, actions=per_traj(traj.actions), rewards=rewards,
        rewards_continuous=per_traj(traj.rewards_continuous), returns_to_go=rtg,
        cost=per_traj(traj.cost), remaining=per_traj(traj.remaining),
        budget=budget.astype(np.float32), constraint=np.asarray(world.constraint)[n].astype(np.float32),
        campaign=campaign.astype(np.int32), task=task_of_adv[n],
        day=d.astype(np.int32), episode=e.astype(np.int32),
        advertiser=n.astype(np.int32), category=np.asarray(world.category)[n].astype(np.int32),
        market=np.asarray(traj.market),
    )


def check_no_leak(dataset: Dataset) -> None:
    """Raises if any split holds a trajectory of another split's day."""
    days = dataset.config.split_days()
    for name, allowed in days.items():
        got = set(np.unique(np.asarray(dataset.split(name).day)).tolist())
        if not got <= set(allowed):
            raise ValueError(f"split {name!r} holds days {sorted(got - set(allowed))} outside {allowed}.")


DAMAGED_CACHE_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, KeyError, TypeError, ValueError, OSError)
"""What `np.load` of a truncated or corrupted npz (its members carry CRC-32 checksums) or one of
another layout raises."""


def make_dataset(config: DataConfig) -> Dataset:
    """Generates (or loads from `config.cache_dir`) the data set described by `config`; a cache
    file that does not load is reported and written again. An `AuctionNetConfig` reads its raw
    periods instead (`auctionnet_data.load_auctionnet`)."""
    if isinstance(config, AuctionNetConfig):
        from vamo_jax.data.auctionnet_data import load_auctionnet  # polars only where AuctionNet data is read

        return load_auctionnet(config)
    path = None
    if config.cache_dir is not None:
        path = os.path.join(config.cache_dir, f"vamo_logs_{config.fingerprint()}.npz")
        if os.path.exists(path):
            try:
                return load_dataset(path, config)
            except DAMAGED_CACHE_ERRORS as err:  # truncated, corrupted, or of an older layout
                warnings.warn(f"data cache {path} does not load ({type(err).__name__}: {err}); regenerating it.",
                              stacklevel=2)
    world, traj, behaviour, sim_keys = simulate_logs(config)
    rng = np.random.default_rng(config.seed)
    task_of_adv = advertiser_tasks(config.env, config.num_tasks)
    num_episodes = sim_keys.shape[0]
    splits = {name: build_split(config, world, traj, _select(config, name, task_of_adv, num_episodes, rng),
                                task_of_adv)
              for name in ("train", "val", "test")}
    market = np.asarray(traj.market)
    ds = Dataset(config=config, stats=compute_norm_stats(splits["train"]), market=market,
                 world=jax.device_get(world), sim_keys=sim_keys, behaviour=behaviour, **splits)
    check_no_leak(ds)
    if path is not None:
        save_dataset(path, ds)
    return ds


def save_dataset(path: str, ds: Dataset) -> None:
    arrays = {"market": ds.market, "sim_keys": ds.sim_keys}
    for name in ("train", "val", "test"):
        for f in SPLIT_FIELDS:
            if f != "market":
                arrays[f"{name}/{f}"] = np.asarray(getattr(ds.split(name), f))
    for f, v in ds.world.items():
        arrays[f"world/{f}"] = np.asarray(v)
    for f, v in ds.behaviour.items():
        arrays[f"behaviour/{f}"] = np.asarray(v)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp.npz"  # the processes of a multi-process run may write it at once
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def load_dataset(path: str, config: DataConfig) -> Dataset:
    """The data set `save_dataset` wrote to `path`; every array is read (and CRC-checked) here."""
    with np.load(path) as npz:
        z = {k: npz[k] for k in npz.files}
    market = z["market"]
    splits = {name: Split(market=market, **{f: z[f"{name}/{f}"] for f in SPLIT_FIELDS if f != "market"})
              for name in ("train", "val", "test")}
    world = market_lib.World(**{k.split("/")[1]: v for k, v in z.items() if k.startswith("world/")})
    behaviour = HeuristicParams(**{k.split("/")[1]: v for k, v in z.items() if k.startswith("behaviour/")})
    return Dataset(config=config, stats=compute_norm_stats(splits["train"]), market=market, world=world,
                   sim_keys=z["sim_keys"], behaviour=behaviour, **splits)
