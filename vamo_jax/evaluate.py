"""Evaluation on the test day: every advertiser, one at a time, bids with the trained policy.

The logged test day (day 10) is replayed with its traffic, history window and heuristic
competitors (`Dataset.eval_inputs`); advertiser j alone follows the policy, conditioned on its own
task's requirement, as in AuctionNet's evaluation. Advertisers and seeds are `vmap` axes, ticks a
`lax.scan`, so one compilation evaluates a method.

Return-conditioning: advertiser j's target return (per unit of budget) is the `target_quantile`
of its task's training returns; the return-to-go at tick t is the target minus the own-task value
realised before t, in the training normalisation.
"""

from __future__ import annotations

from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp
import numpy as np

from vamo_jax.data import Dataset, normalise_requirement, normalise_states, spec
from vamo_jax.data.tasks import advertiser_tasks
from vamo_jax.eval_config import EvalConfig
from vamo_jax.models.config import ModelConfig
from vamo_jax.models.losses import predict_action
from vamo_jax.models.policy import make_policy
from vamo_jax.sim import simulate_day


class _Context(NamedTuple):
    """The controlled advertiser's last C ticks, left-padded: the model's input window."""

    advertiser: chex.Array  # ()
    target: chex.Array  # () raw target return per unit of budget
    rtg: chex.Array  # () current return-to-go (normalised)
    states: chex.Array  # (C, S)
    actions: chex.Array  # (C,)
    returns_to_go: chex.Array  # (C,)
    timesteps: chex.Array  # (C,)
    mask: chex.Array  # (C,)
    history: chex.Array  # (C, H, F)


def task_targets(dataset: Dataset, quantile: float) -> np.ndarray:
    """(K,) the target return per unit of budget of each learning task."""
    train = dataset.train
    returns, tasks = np.asarray(train.returns_to_go)[:, 0], np.asarray(train.task)
    return np.array([np.quantile(returns[tasks == k], quantile) for k in range(dataset.config.num_tasks)], np.float32)


def make_evaluator(dataset: Dataset, model_config: ModelConfig, config: EvalConfig):
    """jit(params (S, K, …) -> per-advertiser (S, N) own-task returns and costs on the test day).

    The params carry a task axis K: STL's K models as they are, a multi-task model repeated
    (`per_task_params`), so one compilation serves every method. Advertiser j uses the model and
    the target of its learning task, and is scored on its campaign type's value channel.
    """
    model = make_policy(model_config)
    inputs = dataset.eval_inputs(dataset.config.test_day)
    env, stats, c = dataset.config.env, dataset.stats, model_config.context_len
    n, h = env.num_advertisers, env.history_len
    targets = jnp.asarray(task_targets(dataset, config.target_quantile))
    unit = jnp.asarray(env.unit_value, jnp.float32)
    channel = jnp.asarray(inputs["world"].campaign)
    learning_task = jnp.asarray(advertiser_tasks(env, dataset.config.num_tasks))
    kind = "value_continuous" if config.return_kind == "expected" else "value"

    def policy_fn(params):
        def act(obs, ctx: _Context, key):
            del key
            j = ctx.advertiser
            campaign, own_task = obs.campaign[j], learning_task[j]
            budget = obs.requirement[j, 1]
            reward = obs.last_reward[j, campaign] * unit[campaign] / (budget * stats.return_scale)
            rtg = ctx.rtg - reward

            def push(buffer, value):
                return jnp.concatenate([buffer[1:], value[None]], axis=0)

            ctx = ctx._replace(
                rtg=rtg,
                states=push(ctx.states, normalise_states(obs.state[j], stats)),
                actions=push(ctx.actions, jnp.zeros(())),
                returns_to_go=push(ctx.returns_to_go, rtg),
                timesteps=push(ctx.timesteps, obs.tick.astype(jnp.int32)),
                mask=push(ctx.mask, jnp.ones(())),
                history=push(ctx.history, obs.history),
            )
            requirement = normalise_requirement(obs.requirement[j].at[0].set(ctx.target), stats)
            batch = spec.TrajectoryBatch(
                states=ctx.states[None], actions=ctx.actions[None],
                rewards=jnp.zeros((1, c, spec.NUM_VALUE_CHANNELS)), returns_to_go=ctx.returns_to_go[None],
                requirement=requirement[None], timesteps=ctx.timesteps[None], mask=ctx.mask[None],
                task=own_task[None].astype(jnp.int32), history=ctx.history[None],
                next_states=jnp.zeros((1, c, ctx.states.shape[-1])),
            )
            own = jax.tree.map(lambda p: p[own_task], params)
            action = predict_action(model, own, batch)[0]
            ctx = ctx._replace(actions=ctx.actions.at[-1].set(action))
            return jnp.zeros((n,)).at[j].set(action), ctx

        return act

    def one(params, j):
        task = learning_task[j]
        ctx = _Context(
            advertiser=j, target=targets[task], rtg=targets[task] / stats.return_scale,
            states=jnp.zeros((c, spec.STATE_DIM)), actions=jnp.zeros((c,)), returns_to_go=jnp.zeros((c,)),
            timesteps=jnp.zeros((c,), jnp.int32), mask=jnp.zeros((c,)), history=jnp.zeros((c, h, spec.HISTORY_FEATURES)),
        )
        totals, _, _ = simulate_day(policy_fn=policy_fn(params), policy_state=ctx,
                                    controlled_mask=jnp.arange(n) == j, **inputs)
        return getattr(totals, kind)[j, channel[j]], totals.cost[j]

    per_seed = jax.vmap(one, in_axes=(None, 0))
    return jax.jit(lambda params: jax.vmap(per_seed, in_axes=(0, None))(params, jnp.arange(n)))


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
    ratio = np.where(channels == 2, total_cost / np.maximum(total_value, 1e-9), total_value / np.maximum(total_cost, 1e-9))
    return {"return": ret, "cost": cost, "ratio": ratio}


RATIO_NAMES = ("ROI", "Dir-ROI", "COST-per-Cart")
