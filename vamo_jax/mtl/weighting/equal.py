"""Equal weighting, the paper's Vanilla baseline (eq. 3): d = (1/K) Σ_k g_k."""

from __future__ import annotations

import jax.numpy as jnp
import optax

from vamo_jax.mtl.weighting import _common


def equal(num_tasks: int) -> optax.GradientTransformationExtraArgs:
    """Vanilla multi-task learning: the mean of the task gradients.

    update(updates (K, ...) stacked, state) -> (1/K) Σ_k g_k, like params. The paper's eq. 3 sums
    the losses; we average them so that all methods share the scale convention: when every task
    gradient equals g, the output is g (a sum would be K·g). State: `WeightsState` with
    weights = 1/K.
    """
    _common.check_positive_int("num_tasks", num_tasks)
    weights = jnp.full((num_tasks,), 1.0 / num_tasks, jnp.float32)

    def init_fn(params):
        del params
        return _common.init_weights_state(num_tasks)

    def update_fn(updates, state, params=None, **extra_args):
        del params
        _common.check_extra_args(extra_args)
        _common.check_stacked(updates, num_tasks)
        return _common.combine(updates, weights), _common.WeightsState(state.count + 1, weights)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)
