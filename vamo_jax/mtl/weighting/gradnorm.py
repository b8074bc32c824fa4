"""GradNorm (Chen et al. 2018): learned task weights that balance gradient norms."""

from __future__ import annotations

from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp
import optax

from vamo_jax.mtl import alignment as alignment_lib
from vamo_jax.mtl.weighting import _common


class GradNormState(NamedTuple):
    """Attributes:
    count: () int32 steps so far;
    weights: (K,) weights of the last combination (GradNorm's w_k / K, summing to one);
    logits: (K,) the learned weights are w = K softmax(logits);
    opt_state: Adam state of the logits;
    initial_losses: (K,) L_k(0), the losses of the first step.
    """

    count: chex.Array
    weights: chex.Array
    logits: chex.Array
    opt_state: optax.OptState
    initial_losses: chex.Array


def gradnorm(num_tasks: int, alpha: float = 1.5, lr: float = 1e-3) -> optax.GradientTransformationExtraArgs:
    """d = (1/K) Σ_k w_k g_k with w learned to minimise Σ_k |G_k − Ḡ r_k^α|,

    G_k = ‖w_k g_k‖ (the weighted gradient norm), Ḡ = mean_k G_k and r_k = L̃_k / mean_j L̃_j with
    L̃_k = L_k(t) / L_k(0), the target Ḡ r_k^α held constant. We use the **full** gradient g_k
    (every parameter), not the paper's last shared layer: the transform sees only the stacked
    per-task gradients. w = K softmax(logits) (LibMTL's parametrisation: positive, Σ w = K); the
    logits take one Adam step (lr `lr`) per update, after the combination, as in the reference.
    Scale convention: we output (1/K) Σ_k w_k g_k, so identical gradients g give g at any w.
    Loss-based: call `update(..., task_losses=L)`; the first call's losses are L(0).

    Args:
      num_tasks: K.
      alpha: α ≥ 0, the restoring-force strength (default 1.5, the paper's NYUv2 value).
      lr: Adam learning rate of the logits, > 0 (default 1e-3; the reference trains the weights
        with the model's optimiser).

    Reference: Chen, Badrinarayanan, Lee, Rabinovich, "GradNorm: Gradient Normalization for
    Adaptive Loss Balancing in Deep Multitask Networks", ICML 2018.
    """
    _common.check_positive_int("num_tasks", num_tasks)
    _common.check_number("alpha", alpha, 0.0)
    _common.check_number("lr", lr, 0.0, low_open=True)
    k = num_tasks
    opt = optax.adam(lr)

    def init_fn(params):
        del params
        logits = jnp.zeros((k,), jnp.float32)
        return GradNormState(
            jnp.zeros((), jnp.int32), jnp.full((k,), 1.0 / k, jnp.float32), logits, opt.init(logits), jnp.ones((k,), jnp.float32)
        )

    def update_fn(updates, state, params=None, *, task_losses=None, **extra_args):
        del params
        _common.check_extra_args(extra_args)
        _common.check_stacked(updates, num_tasks)
        losses = _common.require_task_losses("gradnorm", task_losses, k)
        initial = jnp.where(state.count == 0, losses, state.initial_losses)
        norms = jnp.sqrt(alignment_lib.stacked_sq_norms(updates))
        rel = losses / jnp.maximum(initial, 1e-12)
        r = rel / jnp.maximum(jnp.mean(rel), 1e-12)

        def gradnorm_loss(logits):
            G = k * jax.nn.softmax(logits) * norms
            target = jax.lax.stop_gradient(jnp.mean(G) * r**alpha)
            return jnp.sum(jnp.abs(G - target))

        w = jax.nn.softmax(state.logits)
        logits, opt_state = _common.opt_step(opt, jax.grad(gradnorm_loss)(state.logits), state.opt_state, state.logits)
        new_state = _common.keep_if_finite(losses, GradNormState(state.count + 1, w, logits, opt_state, initial), state)
        return _common.combine(updates, w), new_state

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)
