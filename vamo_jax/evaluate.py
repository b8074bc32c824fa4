"""Evaluation on the test day: every advertiser, one at a time, bids with the trained policy.

The logged test day (day 10) is replayed with its traffic, history window and heuristic
competitors (`Dataset.eval_inputs`); advertiser j alone follows the policy, conditioned on its own
task's requirement, as in AuctionNet's evaluation. Advertisers and seeds are `vmap` axes, ticks a
`lax.scan`, so one compilation evaluates a method.

Return-conditioning: advertiser j's target return (per unit of budget) is the `target_quantile`
of its task's training returns; the return-to-go at tick t is the target minus the own-task value
realised before t, in the training normalisation.

Market input: each rollout keeps the newest M market ticks it has seen (M = the policy's market
reach, `market_reach`, plus C − 1): the logged days before the test day, then each tick's newest
market tick from its own observation. The replayed market is the rollout's own (the controlled
advertiser's bids move the clearing prices), so it is not shared between advertisers; the causal
temporal module gives on this buffer the features it would give on the whole series.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp
import numpy as np

from vamo_jax.data import Dataset, NormStats, normalise_requirement, normalise_states, spec
from vamo_jax.data.tasks import advertiser_tasks
from vamo_jax.eval_config import EvalConfig
from vamo_jax.models.config import ModelConfig
from vamo_jax.models.losses import predict_action
from vamo_jax.models.policy import make_policy, market_reach
from vamo_jax.sim import simulate_day


class _Context(NamedTuple):
    """The controlled advertiser's last C ticks, left-padded (the model's input window), and the
    newest M market ticks: the policy's market reach before the oldest of them (`market_reach`)."""

    advertiser: chex.Array  # ()
    target: chex.Array  # () raw target return per unit of budget
    rtg: chex.Array  # () current return-to-go (normalised)
    states: chex.Array  # (C, S)
    actions: chex.Array  # (C,)
    returns_to_go: chex.Array  # (C,)
    timesteps: chex.Array  # (C,)
    mask: chex.Array  # (C,)
    market: chex.Array  # (M, F), the newest last


class _Replay(NamedTuple):
    """What every rollout of the test day shares: data-set constants and the replay's inputs."""

    stats: NormStats
    unit: chex.Array  # (V,) unit value of each channel
    targets: chex.Array  # (K,) target return per unit of budget of each learning task
    task: chex.Array  # (N,) each advertiser's learning task
    market: chex.Array  # (M, F) the logged market before the test day's first tick
    inputs: dict  # `simulate_day` keyword arguments of the logged test day


def task_targets(dataset: Dataset, quantile: float) -> np.ndarray:
    """(K,) the target return per unit of budget of each learning task."""
    train = dataset.train
    returns, tasks = np.asarray(train.returns_to_go)[:, 0], np.asarray(train.task)
    return np.array([np.quantile(returns[tasks == k], quantile) for k in range(dataset.config.num_tasks)], np.float32)


def market_before(dataset: Dataset, day: int, length: int) -> np.ndarray:
    """(length, F) the logged market ticks of episode 0 up to the one before day − 1's last tick
    (a rollout pushes that last tick, its first observation's newest, itself); zeros in front
    where the logs are shorter."""
    series = dataset.market[0, :day].reshape(-1, dataset.market.shape[-1])[:-1][-length:]
    return np.concatenate([np.zeros((length - len(series), series.shape[-1]), series.dtype), series])


def _push(buffer: chex.Array, value: chex.Array) -> chex.Array:
    """buffer (M, …) with its oldest row dropped and `value` appended."""
    return jnp.concatenate([buffer[1:], value[None]], axis=0)


def _initial_context(replay: _Replay, context: int, j: chex.Array) -> _Context:
    """Advertiser j's context before the day: empty window, full target return."""
    target = replay.targets[replay.task[j]]
    return _Context(
        advertiser=j, target=target, rtg=target / replay.stats.return_scale,
        states=jnp.zeros((context, spec.STATE_DIM)), actions=jnp.zeros((context,)),
        returns_to_go=jnp.zeros((context,)), timesteps=jnp.zeros((context,), jnp.int32),
        mask=jnp.zeros((context,)), market=jnp.asarray(replay.market),
    )


def _observe(replay: _Replay, ctx: _Context, obs) -> _Context:
    """The context with tick t appended: its state, return-to-go (the target minus the own-task
    value realised so far), timestep and the market tick before it (action filled in later)."""
    j = ctx.advertiser
    campaign = obs.campaign[j]
    budget = obs.requirement[j, 1]
    reward = obs.last_reward[j, campaign] * replay.unit[campaign] / (budget * replay.stats.return_scale)
    rtg = ctx.rtg - reward
    return ctx._replace(
        rtg=rtg,
        states=_push(ctx.states, normalise_states(obs.state[j], replay.stats)),
        actions=_push(ctx.actions, jnp.zeros(())),
        returns_to_go=_push(ctx.returns_to_go, rtg),
        timesteps=_push(ctx.timesteps, obs.tick.astype(jnp.int32)),
        mask=_push(ctx.mask, jnp.ones(())),
        market=_push(ctx.market, obs.history[-1]),
    )


def _context_batch(replay: _Replay, ctx: _Context, obs) -> spec.TrajectoryBatch:
    """The context as a batch of one window, conditioned on the advertiser's target return."""
    j = ctx.advertiser
    c, m = ctx.actions.shape[0], ctx.market.shape[0]
    requirement = normalise_requirement(obs.requirement[j].at[0].set(ctx.target), replay.stats)
    return spec.TrajectoryBatch(
        states=ctx.states[None], actions=ctx.actions[None],
        rewards=jnp.zeros((1, c, spec.NUM_VALUE_CHANNELS)), returns_to_go=ctx.returns_to_go[None],
        requirement=requirement[None], timesteps=ctx.timesteps[None], mask=ctx.mask[None],
        task=replay.task[j][None].astype(jnp.int32), market=ctx.market[None],
        market_index=jnp.arange(m - c, m, dtype=jnp.int32)[None],
        next_states=jnp.zeros((1, c, spec.STATE_DIM)),
    )


def _policy_fn(model, params: chex.ArrayTree, replay: _Replay):
    """`simulate_day`'s policy: the controlled advertiser bids the model's action (`params`: the
    model of its learning task)."""
    n = replay.task.shape[0]

    def act(obs, ctx: _Context, key):
        del key
        ctx = _observe(replay, ctx, obs)
        action = predict_action(model, params, _context_batch(replay, ctx, obs))[0]
        ctx = ctx._replace(actions=ctx.actions.at[-1].set(action))
        return jnp.zeros((n,)).at[ctx.advertiser].set(action), ctx

    return act


def _rollout(model, replay: _Replay, context: int, kind: str, params: chex.ArrayTree, j: chex.Array):
    """Advertiser j alone under the policy on the test day: (own-channel value, cost); `params`
    carry a task axis K, and j bids with its learning task's model."""
    n = replay.task.shape[0]
    own = jax.tree.map(lambda p: p[replay.task[j]], params)
    totals, _, _ = simulate_day(policy_fn=_policy_fn(model, own, replay),
                                policy_state=_initial_context(replay, context, j),
                                controlled_mask=jnp.arange(n) == j, **replay.inputs)
    return getattr(totals, kind)[j, totals.campaign[j]], totals.cost[j]


def make_evaluator(dataset: Dataset, model_config: ModelConfig, config: EvalConfig):
    """jit(params (S, K, …) -> per-advertiser (S, N) own-task returns and costs on the test day).

    The params carry a task axis K: STL's K models as they are, a multi-task model repeated
    (`per_task_params`), so one compilation serves every method. Advertiser j uses the model and
    the target of its learning task, and is scored on its campaign type's value channel.
    """
    day, env = dataset.config.test_day, dataset.config.env
    c = model_config.context_len
    replay = _Replay(
        stats=dataset.stats, unit=jnp.asarray(env.unit_value, jnp.float32),
        targets=jnp.asarray(task_targets(dataset, config.target_quantile)),
        task=jnp.asarray(advertiser_tasks(env, dataset.config.num_tasks)),
        market=jnp.asarray(market_before(dataset, day, market_reach(model_config) + c - 1)),
        inputs=dataset.eval_inputs(day),
    )
    kind = "value_continuous" if config.return_kind == "expected" else "value"
    rollout = functools.partial(_rollout, make_policy(model_config), replay, c, kind)
    advertisers = jnp.arange(env.num_advertisers)
    per_seed = jax.vmap(rollout, in_axes=(None, 0))
    return jax.jit(lambda params: jax.vmap(per_seed, in_axes=(0, None))(params, advertisers))


def per_task_params(params: chex.ArrayTree, num_tasks: int) -> chex.ArrayTree:
    """Seed-stacked multi-task params (S, …) -> (S, K, …), the layout of `make_evaluator`."""
    return jax.tree.map(lambda p: jnp.broadcast_to(p[:, None], (p.shape[0], num_tasks) + p.shape[1:]), params)


def logged_totals(dataset: Dataset, config: EvalConfig):
    """(values (N, V), costs (N,)) of the logged behaviour policies on the test day (a reference)."""
    inputs = dataset.eval_inputs(dataset.config.test_day)
    n = dataset.config.env.num_advertisers

    def noop(obs, state, key):
        return jnp.zeros((n,)), state

    totals, _, _ = jax.jit(lambda: simulate_day(policy_fn=noop, policy_state=(), controlled_mask=jnp.zeros(n, bool), **inputs))()
    kind = "value_continuous" if config.return_kind == "expected" else "value"
    return np.asarray(getattr(totals, kind)), np.asarray(totals.cost)


def per_task_metrics(values: np.ndarray, costs: np.ndarray, tasks: np.ndarray,
                     channels: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Per learning task k, from per-advertiser own-task values (S, N) and costs (S, N), each (S, K):

    return (mean own-task value of the task's advertisers), cost (mean spend), and the paper's
    online ratio for the task: ROI = GMV/COST, Dir-ROI = Dir-GMV/COST, COST-per-Cart = COST/CartCnt
    (sums over the task's advertisers). `tasks` (N,) is each advertiser's learning task;
    `channels` (K,) each task's campaign type (default: task k is type k, the paper's K = 3).
    """
    values, costs = np.atleast_2d(values), np.atleast_2d(costs)
    channels = np.arange(len(spec.CAMPAIGN_NAMES)) if channels is None else np.asarray(channels)
    k_total = len(channels)
    missing = [k for k in range(k_total) if not np.any(tasks == k)]
    if missing:
        raise ValueError(f"per_task_metrics: tasks {missing} have no advertiser; every task needs one to be scored.")
    ret = np.stack([values[:, tasks == k].mean(1) for k in range(k_total)], 1)
    cost = np.stack([costs[:, tasks == k].mean(1) for k in range(k_total)], 1)
    total_value = np.stack([values[:, tasks == k].sum(1) for k in range(k_total)], 1)
    total_cost = np.stack([costs[:, tasks == k].sum(1) for k in range(k_total)], 1)
    cost_per_result = np.asarray(spec.COST_PER_RESULT)[channels]
    ratio = np.where(cost_per_result, total_cost / np.maximum(total_value, 1e-9), total_value / np.maximum(total_cost, 1e-9))
    return {"return": ret, "cost": cost, "ratio": ratio}


RATIO_NAMES = ("ROI", "Dir-ROI", "COST-per-Cart")
