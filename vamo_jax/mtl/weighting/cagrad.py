"""CAGrad (Liu et al. 2021): conflict-averse gradient descent."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from vamo_jax.mtl.weighting import _common


def cagrad_dual(G: jax.Array, c: float, num_iters: int) -> jax.Array:
    """argmin_{w ∈ Δ} g_wᵀ g0 + r ‖g_w‖, r = c ‖g0‖, for a (K, K) Gram matrix (normalised or not).

    With t standing for ‖g_w‖, r ‖g_w‖ = min_{t>0} r ‖g_w‖² / (2t) + r t / 2, so the minimum is
    min_t V(t) with V(t) = min_{w ∈ Δ} g_wᵀ g0 + r ‖g_w‖² / (2t) + r t / 2, jointly convex in
    (w, t). For fixed t the inner problem is the min-norm point of conv{g_k + (t/r) g0} (Wolfe's
    exact algorithm, `_common.min_norm_point`, on that Gram matrix), and V'(t) has the sign of
    log t − log ‖g_w(t)‖, negative then positive: the optimal t is its root, found by regula
    falsi (Illinois) on log t over [1e-6, 1] · max_k ‖g_k‖ in `num_iters` steps.

    Returns: (K,) w on the simplex.
    """
    k = G.shape[0]
    b = jnp.full((k,), 1.0 / k, G.dtype)
    Gb = G @ b
    g0_sq = jnp.maximum(b @ Gb, 0.0)
    r = c * jnp.sqrt(g0_sq)
    r_safe = jnp.where(r > 0, r, 1.0)

    def inner(log_t):
        s = jnp.exp(log_t) / r_safe
        w, _ = _common.min_norm_point(G + s * (Gb[:, None] + Gb[None, :]) + s * s * g0_sq, 4 * k + 50)
        return w, log_t - 0.5 * jnp.log(jnp.maximum(w @ G @ w, 1e-30))  # log t − log ‖g_w‖: the sign of V'(t)

    hi = 0.5 * jnp.log(jnp.maximum(jnp.max(jnp.diag(G)), 1e-30))
    lo = hi + jnp.log(1e-6)
    f_lo, f_hi = inner(lo)[1], inner(hi)[1]

    def step(_, carry):
        lo, hi, f_lo, f_hi, side = carry
        denom = f_hi - f_lo
        mid = jnp.where(denom > 0, hi - f_hi * (hi - lo) / jnp.where(denom > 0, denom, 1.0), 0.5 * (lo + hi))
        mid = jnp.clip(mid, lo + 1e-3 * (hi - lo), hi - 1e-3 * (hi - lo))
        f_mid = inner(mid)[1]
        right = f_mid > 0  # the root is left of mid
        # Illinois: halve the stale end's value when the same end is kept twice in a row.
        f_lo_new = jnp.where(right, jnp.where(side == 1, 0.5 * f_lo, f_lo), f_mid)
        f_hi_new = jnp.where(right, f_mid, jnp.where(side == -1, 0.5 * f_hi, f_hi))
        return (jnp.where(right, lo, mid), jnp.where(right, mid, hi), f_lo_new, f_hi_new,
                jnp.where(right, 1, -1))

    lo_end, hi_end, f_lo_end, f_hi_end, _ = jax.lax.fori_loop(0, num_iters, step, (lo, hi, f_lo, f_hi, 0))
    log_t = jnp.where(f_lo >= 0, lo, jnp.where(f_hi <= 0, hi, jnp.where(abs(f_lo_end) < abs(f_hi_end), lo_end, hi_end)))
    w = inner(log_t)[0]
    return jnp.where(r > 0, w, b)


def cagrad(num_tasks: int, c: float = 0.4, num_iters: int = 30) -> optax.GradientTransformationExtraArgs:
    """d = (g0 + (c‖g0‖ / ‖g_w‖) g_w) / (1 + c), g0 = (1/K) Σ_k g_k, g_w = Σ_k w_k g_k, where

        w = argmin_{w ∈ Δ} g_wᵀ g0 + c ‖g0‖ ‖g_w‖        (the dual of max_d min_k ⟨g_k, d⟩
                                                          s.t. ‖d − g0‖ ≤ c ‖g0‖).

    Solved on the (K, K) Gram matrix exactly up to a one-dimensional root (`cagrad_dual`: Wolfe's
    min-norm point inside a regula falsi on ‖g_w‖, `num_iters` steps; the reference calls scipy
    SLSQP, the projected gradient used before stalled 5–9% short of the optimum when one
    gradient is 100× the others). Rescaling: the reference's default
    (rescale=1) divides by 1 + c²; we divide by 1 + c (the reference's rescale=2) so that, when
    every task gradient equals g, the output is g (scale convention). With c = 0, d = g0.
    The state's `weights` are the effective weights of d = Σ_k weights_k g_k, i.e.
    (1/K + c‖g0‖ w_k / ‖g_w‖) / (1 + c).

    Args:
      num_tasks: K.
      c: c ≥ 0, the radius of the ball around g0 relative to ‖g0‖ (default 0.4, the paper's
        multi-task supervised-learning setting).
      num_iters: steps of the one-dimensional search (default 30).

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
        radius = c * jnp.sqrt(jnp.maximum(b @ Gn @ b, 0.0))
        w = cagrad_dual(Gn, c, num_iters) if c > 0 else b
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
