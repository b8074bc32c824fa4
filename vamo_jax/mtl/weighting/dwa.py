"""DWA (Liu et al. 2019): dynamic weight average over epoch-level loss ratios."""

from __future__ import annotations

from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp
import optax

from vamo_jax.mtl.weighting import _common


class DWAState(NamedTuple):
    """Attributes:
    count: () int32 steps so far;
    weights: (K,) weights of the last combination (λ_k / K, summing to one);
    epoch: () int32 completed epochs;
    epoch_loss_sum: (K,) sum of the task losses over the current epoch;
    last_loss: (K,) mean task losses of the last completed epoch (t − 1);
    prev_loss: (K,) mean task losses of the epoch before (t − 2).
    """

    count: chex.Array
    weights: chex.Array
    epoch: chex.Array
    epoch_loss_sum: chex.Array
    last_loss: chex.Array
    prev_loss: chex.Array


def dwa(num_tasks: int, epoch_length: int = 50, temperature: float = 2.0) -> optax.GradientTransformationExtraArgs:
    """λ_k(t) = K exp(r_k(t−1)/T) / Σ_j exp(r_j(t−1)/T), r_k(t−1) = L̄_k(t−1) / L̄_k(t−2),

    with L̄_k(e) the mean training loss of task k over epoch e (as in the reference and LibMTL),
    and λ = 1 during the first two epochs. Output d = (1/K) Σ_k λ_k g_k: the weights λ/K sum to
    one, so identical gradients g give g (scale convention). Loss-based: call
    `update(..., task_losses=L)` with L (K,) the batch's task losses; an epoch is `epoch_length`
    update steps.

    Args:
      num_tasks: K.
      epoch_length: steps per epoch (≥ 1; the loss ratios are over epochs). The default 50 is the
        trainer's; set it to the steps of one pass over your data.
      temperature: T > 0 (default 2.0, the paper's).

    Reference: Liu, Johns, Davison, "End-to-End Multi-Task Learning with Attention", CVPR 2019.
    """
    _common.check_positive_int("num_tasks", num_tasks)
    _common.check_positive_int("epoch_length", epoch_length)
    _common.check_number("temperature", temperature, 0.0, low_open=True)
    k = num_tasks

    def init_fn(params):
        del params
        zeros = jnp.zeros((k,), jnp.float32)
        return DWAState(
            jnp.zeros((), jnp.int32), jnp.full((k,), 1.0 / k, jnp.float32), jnp.zeros((), jnp.int32), zeros, zeros, zeros
        )

    def update_fn(updates, state, params=None, *, task_losses=None, **extra_args):
        del params
        _common.check_extra_args(extra_args)
        _common.check_stacked(updates, num_tasks)
        losses = _common.require_task_losses("dwa", task_losses, k)
        ratio = state.last_loss / jnp.maximum(state.prev_loss, 1e-12)
        w = jnp.where(state.epoch >= 2, jax.nn.softmax(ratio / temperature), jnp.full((k,), 1.0 / k, jnp.float32))
        loss_sum = state.epoch_loss_sum + losses
        end = (state.count + 1) % epoch_length == 0
        new_state = DWAState(
            count=state.count + 1,
            weights=w,
            epoch=state.epoch + end.astype(jnp.int32),
            epoch_loss_sum=jnp.where(end, 0.0, loss_sum),
            last_loss=jnp.where(end, loss_sum / epoch_length, state.last_loss),
            prev_loss=jnp.where(end, state.last_loss, state.prev_loss),
        )
        return _common.combine(updates, w), _common.keep_if_finite(losses, new_state, state)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)
