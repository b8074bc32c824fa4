"""CAGrad (Liu et al. 2021): conflict-averse gradient descent."""

from __future__ import annotations

import jax.numpy as jnp
import optax

from vamo_jax.mtl.weighting import _common


def cagrad(num_tasks: int, c: float = 0.4, num_iters: int = 100) -> optax.GradientTransformationExtraArgs:
    """d = (g0 + (c‖g0‖ / ‖g_w‖) g_w) / (1 + c), g0 = (1/K) Σ_k g_k, g_w = Σ_k w_k g_k, where

        w = argmin_{w ∈ Δ} g_wᵀ g0 + c ‖g0‖ ‖g_w‖        (the dual of max_d min_k ⟨g_k, d⟩
                                                          s.t. ‖d − g0‖ ≤ c ‖g0‖).

    Solved on the (K, K) Gram matrix by projected gradient with a grid line search (`num_iters`
    fixed iterations; the reference calls scipy SLSQP). Rescaling: the reference's default
    (rescale=1) divides by 1 + c²; we divide by 1 + c (the reference's rescale=2) so that, when
    every task gradient equals g, the output is g (scale convention). With c = 0, d = g0.
    The state's `weights` are the effective weights of d = Σ_k weights_k g_k, i.e.
    (1/K + c‖g0‖ w_k / ‖g_w‖) / (1 + c).

    Args:
      num_tasks: K.
      c: c ≥ 0, the radius of the ball around g0 relative to ‖g0‖ (default 0.4, the paper's
        multi-task supervised-learning setting).
      num_iters: solver iterations (default 100).

    Reference: Liu, Liu, Jin, Stone, Liu, "Conflict-Averse Gradient Descent for Multi-task
    Learning", NeurIPS 2021.
    """
    _common.check_positive_int("num_tasks", num_tasks)
    _common.check_number("c", c, 0.0)
    _common.check_positive_int("num_iters", num_iters)
    k = num_tasks
    b = jnp.full((k,), 1.0 / k, jnp.float32)

    def init_fn(params):
        del params
        return _common.init_weights_state(num_tasks)

    def weights_of(G):
        Gn, _ = _common.normalized_gram(G)
        g0_norm = jnp.sqrt(jnp.maximum(b @ Gn @ b, 0.0) + 1e-8)
        radius = c * g0_norm

        def objective(w):
            return w @ Gn @ b + radius * jnp.sqrt(jnp.maximum(w @ Gn @ w, 0.0) + 1e-8)

        w = _common.simplex_pgd(objective, b, num_iters) if c > 0 else b
        gw_norm = jnp.sqrt(jnp.maximum(w @ Gn @ w, 0.0))
        lam = radius / (gw_norm + 1e-8)
        eff = (b + lam * w) / (1.0 + c)
        return jnp.where(_common.is_zero(G), b, eff)

    def update_fn(updates, state, params=None, **extra_args):
        del params
        _common.check_extra_args(extra_args)
        _common.check_stacked(updates, num_tasks)
        w = weights_of(_common.gram(updates))
        return _common.combine(updates, w), _common.WeightsState(state.count + 1, w)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)
