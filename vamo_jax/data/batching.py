"""`sample_batch`: a jittable draw of trajectory windows from a `Split`, as a `TrajectoryBatch`.

Sampling (Alg. 1 line 5, task proportions matched to the data): the split's M trajectories are
sorted by learning task; the batch takes one trajectory uniformly from each of B equal strata of [0, M),
so task k gets ⌊B·p_k⌋ or ⌈B·p_k⌉ rows, p_k being its share of the split. Each row then draws
an end tick e ~ U{0..T−1} and takes the window of C ticks e−C+1..e; ticks before 0 are left
padding (mask 0, zeros, timestep 0), as at inference where the context holds the past ticks.
The batch's market table is the split's market series, one per episode with its days end to
end, (E, D · T, F); `market_index[b, c]` points at the tick before t_c of the row's (episode,
day), in the previous day when t_c = 0 (day ≥ 1 always has day − 1 in the series).

Units: states/next_states are normalised with the training `NormStats` (next_states zero at the
last tick); rewards are channel value × unit_value / budget / return_scale, so the reversed
cumulative sum of `rewards[..., task]` over the day is `returns_to_go`; requirement is
`normalise_requirement(trajectory_requirement)`.
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp

from vamo_jax.data.dataset import NormStats, Split, normalise_requirement, normalise_states, trajectory_requirement
from vamo_jax.data.spec import TrajectoryBatch
from vamo_jax.sim.params import EnvParams


def sample_batch(
    key: chex.PRNGKey,
    split: Split,
    batch_size: int,
    context: int,
    stats: NormStats,
    env: EnvParams,
) -> TrajectoryBatch:
    """Draws `batch_size` windows of `context` ticks (jittable; batch_size, context, env static).

    Args:
      key: PRNG key.
      split: a `Split` (numpy or jax arrays).
      batch_size: B.
      context: C ≤ T.
      stats: training normalisation (`Dataset.stats`).
      env: the data's `EnvParams` (task unit values).
    """
    m = split.actions.shape[0]
    k_row, k_end = jax.random.split(key)
    strata = (jnp.arange(batch_size) + jax.random.uniform(k_row, (batch_size,))) * (m / batch_size)
    rows = jnp.clip(jnp.floor(strata).astype(jnp.int32), 0, m - 1)
    return windows(k_end, split, rows, context, stats, env)


def sample_task_batch(
    key: chex.PRNGKey,
    split: Split,
    task: chex.Array,
    batch_size: int,
    context: int,
    stats: NormStats,
    env: EnvParams,
) -> TrajectoryBatch:
    """Like `sample_batch`, with every window drawn from task `task`'s trajectories (for STL).

    `task` (a learning task) may be traced: the split is sorted by learning task, so its rows
    are one contiguous range.
    The task must have at least one trajectory (`check_task_ids` on the split's tasks).
    """
    k_row, k_end = jax.random.split(key)
    task_ids = jnp.asarray(split.task)
    start = jnp.sum(task_ids < task)
    count = jnp.sum(task_ids == task)
    strata = (jnp.arange(batch_size) + jax.random.uniform(k_row, (batch_size,))) * (count / batch_size)
    rows = start + jnp.clip(jnp.floor(strata).astype(jnp.int32), 0, count - 1)
    return windows(k_end, split, rows, context, stats, env)


def sample_cross_batch(
    key: chex.PRNGKey,
    split: Split,
    relabeled: Split,
    batch_size: int,
    context: int,
    stats: NormStats,
    env: EnvParams,
) -> tuple[chex.Array, TrajectoryBatch]:
    """The windows of `sample_batch(key, split, …)` drawn from each relabeled copy of `split`.

    Args:
      relabeled: `split` relabeled for every target task, (K, M, …) (`relabel_for_every_task`).

    Returns:
      (source (B,) int32 learning task of each row, a `TrajectoryBatch` with a leading target axis
      K: the same B windows relabeled for each target k).
    """
    source = sample_batch(key, split, batch_size, context, stats, env).task
    return source, jax.vmap(lambda copy: sample_batch(key, copy, batch_size, context, stats, env))(relabeled)


def windows(
    key: chex.PRNGKey,
    split: Split,
    rows: chex.Array,
    context: int,
    stats: NormStats,
    env: EnvParams,
) -> TrajectoryBatch:
    """Windows of `context` ticks of trajectories `rows` (B,), each ending at a random tick."""
    end = jax.random.randint(key, rows.shape, 0, split.actions.shape[1])
    return windows_ending(split, rows, end, context, stats, env)


def windows_ending(
    split: Split,
    rows: chex.Array,
    end: chex.Array,
    context: int,
    stats: NormStats,
    env: EnvParams,
) -> TrajectoryBatch:
    """The windows of `context` ticks of trajectories `rows` (B,) ending at ticks `end` (B,): what
    the model sees when it acts at tick `end` (the rollouts build the same window online,
    `vamo_jax.evaluate`)."""
    t_total = split.actions.shape[1]
    e_total, d_total, _, f = split.market.shape
    ticks = end[:, None] - context + 1 + jnp.arange(context)[None, :]  # (B, C)
    mask = ticks >= 0
    t_idx = jnp.maximum(ticks, 0)
    maskf = mask.astype(jnp.float32)

    def take(x):  # (M, T, …) → (B, C, …), zero on padding
        out = jnp.asarray(x)[rows[:, None], t_idx]
        return out * maskf.reshape(maskf.shape + (1,) * (out.ndim - 2))

    task = jnp.asarray(split.task)[rows]
    budget = jnp.asarray(split.budget)[rows]
    unit = jnp.asarray(env.unit_value, jnp.float32)
    states = normalise_states(jnp.asarray(split.states)[rows[:, None], t_idx], stats) * maskf[..., None]
    last = (t_idx < t_total - 1).astype(jnp.float32) * maskf
    next_states = normalise_states(jnp.asarray(split.next_states)[rows[:, None], t_idx], stats) * last[..., None]
    rewards = take(split.rewards) * unit / (budget[:, None, None] * stats.return_scale)
    rtg = take(split.returns_to_go) / stats.return_scale
    requirement = normalise_requirement(trajectory_requirement(split)[rows], stats)

    day_start = (jnp.asarray(split.episode)[rows] * d_total + jnp.asarray(split.day)[rows]) * t_total
    market_index = (day_start[:, None] + t_idx - 1).astype(jnp.int32)

    return TrajectoryBatch(
        states=states, actions=take(split.actions), rewards=rewards, returns_to_go=rtg,
        requirement=requirement, timesteps=t_idx.astype(jnp.int32), mask=maskf, task=task.astype(jnp.int32),
        market=jnp.asarray(split.market).reshape(e_total, d_total * t_total, f),
        market_index=market_index, next_states=next_states,
    )

