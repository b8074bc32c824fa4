"""MGDA (Désidéri 2012; Sener & Koltun 2018): the min-norm point of the convex hull of the g_k."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from vamo_jax.mtl.weighting import _common


def min_norm_weights(G: jax.Array, num_iters: int) -> jax.Array:
    """argmin_{w ∈ simplex} wᵀ G w for a (K, K) Gram matrix; exact (closed form) for K = 2."""
    k = G.shape[0]
    if k == 1:
        return jnp.ones((1,), jnp.float32)
    if k == 2:
        # min over t of |t g1 + (1-t) g2|²: t = ⟨g2 - g1, g2⟩ / |g1 - g2|², clipped to [0, 1].
        denom = G[0, 0] + G[1, 1] - 2 * G[0, 1]
        t = jnp.where(denom > 0, (G[1, 1] - G[0, 1]) / jnp.where(denom > 0, denom, 1.0), 0.5)
        t = jnp.clip(t, 0.0, 1.0)
        return jnp.stack([t, 1.0 - t])
    Gn, _ = _common.normalized_gram(G)
    w, _ = _common.min_norm_point(Gn, num_iters)
    return jnp.where(_common.is_zero(G), jnp.full((k,), 1.0 / k, jnp.float32), w)


def mgda(num_tasks: int, num_iters: int = 250) -> optax.GradientTransformationExtraArgs:
    """MGDA-UB's direction on the full gradient: d = Σ_k w_k g_k, w = argmin_{w ∈ Δ} ‖Σ_k w_k g_k‖².

    d is the min-norm point of conv{g_1, …, g_K}; ⟨d, g_k⟩ ≥ ‖d‖² ≥ 0 for every k, and d = 0 at a
    Pareto-stationary point. The weights lie on the simplex, so identical gradients g give g
    (scale convention). K = 2 is solved in closed form; K > 2 by Wolfe's min-norm-point
    algorithm on the Gram matrix (`_common.min_norm_point`): exact active-set steps that stop on
    the duality gap, a few K steps, float32-accurate when one gradient is 100× the others (the
    reference MinNormSolver runs Frank–Wolfe, MAX_ITER = 250, which like the accelerated
    projected gradient used before does not converge there). Where several minimisers exist
    (e.g. identical gradients) any one is returned: d is unique, w need not be. Gradients are
    used as given: the reference's optional per-task normalisation ("l2", "loss+") is left to
    the caller. All-zero gradients give equal weights.

    Args:
      num_tasks: K.
      num_iters: the most solver steps for K > 2 (default 250; it stops on the gap long before).

    Reference: Sener & Koltun, "Multi-Task Learning as Multi-Objective Optimization", NeurIPS 2018.
    """
    _common.check_positive_int("num_tasks", num_tasks)
    _common.check_positive_int("num_iters", num_iters)

    return _common.gram_weighting(num_tasks, lambda G: min_norm_weights(G, num_iters))
