"""Per-example losses of the policy (the input of `vamo_jax.mtl.task_losses`); rollout read-out."""

from __future__ import annotations

from typing import Callable, Union

import chex
import flax.linen as nn
import jax.numpy as jnp

from vamo_jax.data.spec import TrajectoryBatch
from vamo_jax.models.policy import Policy, PolicyOutput

ApplyFn = Callable[[chex.ArrayTree, TrajectoryBatch], PolicyOutput]


def per_example_loss(model: Policy, params: chex.ArrayTree, batch: TrajectoryBatch) -> chex.Array:
    """ℓ_i: each window's loss, the mean over its valid ticks.

    Action mode (Decision Transformer / GAS): (â_t − a_t)².
    Next-state mode (AIGB): mean_S (ŝ_{t+1} − s_{t+1})² + (g(s_t, s_{t+1}) − a_t)², with g the
    inverse dynamics on the logged transition; the last tick of a day (timestep
    `model.config.max_timestep − 1`, the configured ticks per day minus one) has no s_{t+1} and
    is left out of both terms.

    Args:
      model: the `Policy`.
      params: the model's parameters.
      batch: the windows; `batch.mask` marks real ticks.

    Returns:
      (B,) losses; a window with no valid tick gets 0.
    """
    out = model.apply(params, batch)
    mask = batch.mask.astype(jnp.float32)
    if out.next_state is None:
        return _masked_mean(jnp.square(out.action - batch.actions), mask)
    transition = mask * (batch.timesteps < model.config.max_timestep - 1)
    state_error = jnp.square(out.next_state - batch.next_states).mean(axis=-1)
    action_error = jnp.square(out.inverse_action - batch.actions)
    return _masked_mean(state_error + action_error, transition)


def predict_action(
    model: Union[nn.Module, ApplyFn], params: chex.ArrayTree, batch: TrajectoryBatch
) -> chex.Array:
    """(B,) the predicted action at the last valid tick of each window (the tick to bid now)."""
    action = (model.apply if isinstance(model, nn.Module) else model)(params, batch).action
    c = action.shape[1]
    last = c - 1 - jnp.argmax(batch.mask[:, ::-1] > 0, axis=1)
    return jnp.take_along_axis(action, last[:, None], axis=1)[:, 0]


def _masked_mean(values: chex.Array, mask: chex.Array) -> chex.Array:
    chex.assert_equal_shape([values, mask])
    total = jnp.sum(values * mask, axis=1)
    count = jnp.sum(mask, axis=1)
    return jnp.where(count > 0, total / jnp.maximum(count, 1.0), 0.0)

