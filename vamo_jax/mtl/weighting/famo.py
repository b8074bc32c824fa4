"""FAMO (Liu et al. 2023): fast adaptive multitask optimisation."""

from __future__ import annotations

from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp
import optax

from vamo_jax.mtl.weighting import _common

_EPS = 1e-8


class FAMOState(NamedTuple):
    """Attributes:
    count: () int32 steps so far;
    weights: (K,) weights of the last combination (on the simplex);
    logits: (K,) FAMO's ξ, z = softmax(ξ);
    opt_state: Adam state of ξ (γ is an L2 term added to the gradient, as torch Adam's weight_decay);
    prev_losses: (K,) the task losses of the previous step.
    """

    count: chex.Array
    weights: chex.Array
    logits: chex.Array
    opt_state: optax.OptState
    prev_losses: chex.Array


def famo(num_tasks: int, gamma: float = 0.01, w_lr: float = 0.025) -> optax.GradientTransformationExtraArgs:
    """d = Σ_k w_k g_k, w_k = (z_k / L_k) / Σ_j (z_j / L_j), z = softmax(ξ)  (the gradient of
    Σ_k z_k log L_k / c with c = Σ_j z_j / L_j, FAMO's balanced log-loss objective).

    ξ learns which tasks improve slowly: with δ_k = log L_k(t−1) − log L_k(t) (the log-loss
    decrease of task k), ξ takes one Adam step (lr `w_lr`, L2 weight decay `gamma`) along
    Jᵀ_softmax(ξ) δ, which raises the logit of a task whose loss stalls relative to the others.
    Pure-transform choice: the reference computes δ from the same batch's loss after the step;
    here update t uses the previous step's losses (held in the state) and the current
    `task_losses`, so δ is one step late and measured across batches; the first step makes no
    ξ update. The weights lie on the simplex: identical gradients g give g (scale convention).
    Loss-based: call `update(..., task_losses=L)`, L (K,) > 0 (min_losses = 0 as in the
    reference's default).

    Args:
      num_tasks: K.
      gamma: γ ≥ 0, weight decay of ξ (default 0.01, the reference's).
      w_lr: learning rate of ξ, > 0 (default 0.025, the reference's).

    Reference: Liu, Liang, Jin, Stone, Liu, "FAMO: Fast Adaptive Multitask Optimization",
    NeurIPS 2023.
    """
    _common.check_positive_int("num_tasks", num_tasks)
    _common.check_number("gamma", gamma, 0.0)
    _common.check_number("w_lr", w_lr, 0.0, low_open=True)
    k = num_tasks
    opt = optax.chain(optax.add_decayed_weights(gamma), optax.adam(w_lr))

    def init_fn(params):
        del params
        logits = jnp.zeros((k,), jnp.float32)
        return FAMOState(
            jnp.zeros((), jnp.int32), jnp.full((k,), 1.0 / k, jnp.float32), logits, opt.init(logits), jnp.ones((k,), jnp.float32)
        )

    def update_fn(updates, state, params=None, *, task_losses=None, **extra_args):
        del params
        _common.check_extra_args(extra_args)
        _common.check_stacked(updates, num_tasks)
        losses = _common.require_task_losses("famo", task_losses, k)
        delta = jnp.log(state.prev_losses + _EPS) - jnp.log(losses + _EPS)
        _, softmax_vjp = jax.vjp(jax.nn.softmax, state.logits)
        (logit_grad,) = softmax_vjp(delta)
        stepped = _common.opt_step(opt, logit_grad, state.opt_state, state.logits)
        first = state.count == 0
        logits, opt_state = jax.tree.map(lambda old, new: jnp.where(first, old, new), (state.logits, state.opt_state), stepped)
        z = jax.nn.softmax(logits)
        inv = z / (losses + _EPS)
        w = inv / jnp.sum(inv)
        new_state = _common.keep_if_finite(losses, FAMOState(state.count + 1, w, logits, opt_state, losses), state)
        return _common.combine(updates, new_state.weights), new_state

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)
