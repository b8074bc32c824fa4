"""UW (Kendall et al. 2018): uncertainty weighting with learned homoscedastic log-variances."""

from __future__ import annotations

import math
from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp
import optax

from vamo_jax.mtl.weighting import _common


class UWState(NamedTuple):
    """Attributes:
    count: () int32 steps so far;
    weights: (K,) weights of the last combination (1/(2σ_k²), normalised to sum one);
    log_var: (K,) s_k = log σ_k²;
    opt_state: Adam state of s.
    """

    count: chex.Array
    weights: chex.Array
    log_var: chex.Array
    opt_state: optax.OptState


def uw(num_tasks: int, lr: float = 1e-3, init_log_var: float = -0.5) -> optax.GradientTransformationExtraArgs:
    """Kendall's objective Σ_k L_k / (2σ_k²) + ½ log σ_k² in the gradient-combination interface.

    The combined gradient uses the weights p_k = 1/(2σ_k²) = ½ exp(−s_k), normalised to sum one:
    d = Σ_k p_k g_k / Σ_j p_j (so identical gradients g give g, the scale convention; Σ_j p_j is
    a learned learning-rate factor that we leave to the optimiser). Then s takes its own Adam
    step (lr `lr`) on ∂/∂s_k = ½ − ½ L_k exp(−s_k), held in the state: s_k moves towards
    log L_k, so a task whose loss stalls while the others fall gets a larger σ² and a smaller
    weight. Loss-based: call `update(..., task_losses=L)`.

    Args:
      num_tasks: K.
      lr: Adam learning rate of s, > 0 (default 1e-3; the reference trains s with the model's
        optimiser, so set it to the model's rate).
      init_log_var: initial s_k (default −0.5, LibMTL's).

    Reference: Kendall, Gal, Cipolla, "Multi-Task Learning Using Uncertainty to Weigh Losses for
    Scene Geometry and Semantics", CVPR 2018.
    """
    _common.check_positive_int("num_tasks", num_tasks)
    _common.check_number("lr", lr, 0.0, low_open=True)
    _common.check_number("init_log_var", init_log_var, -math.inf, low_open=True)
    k = num_tasks
    opt = optax.adam(lr)

    def init_fn(params):
        del params
        s = jnp.full((k,), float(init_log_var), jnp.float32)
        return UWState(jnp.zeros((), jnp.int32), jax.nn.softmax(-s), s, opt.init(s))

    def update_fn(updates, state, params=None, *, task_losses=None, **extra_args):
        del params
        _common.check_extra_args(extra_args)
        _common.check_stacked(updates, num_tasks)
        losses = _common.require_task_losses("uw", task_losses, k)
        w = jax.nn.softmax(-state.log_var)  # ∝ 1/(2σ²), on the simplex
        grad_s = 0.5 - 0.5 * losses * jnp.exp(-state.log_var)
        log_var, opt_state = _common.opt_step(opt, grad_s, state.opt_state, state.log_var)
        new_state = _common.keep_if_finite(losses, UWState(state.count + 1, w, log_var, opt_state), state)
        return _common.combine(updates, w), new_state

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)

