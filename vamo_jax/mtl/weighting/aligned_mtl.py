"""Aligned-MTL (Senushkin et al. 2023): stable gradient combination by eigen-alignment."""

from __future__ import annotations

import jax.numpy as jnp
import optax

from vamo_jax.mtl.weighting import _common


def aligned_weights(G):
    """(K,) α = 1ᵀB with B = √σ_min · V Σ^{-1/2} Vᵀ over the non-null eigenpairs of G = V Σ Vᵀ.

    The aligned gradients Bᵀ-combine the tasks so that the system's condition number is 1; the
    scale σ_min (the smallest non-null eigenvalue) is the reference's default `scale_mode="min"`.
    Eigenvalues ≤ max(σ) · K · eps are treated as null (the reference's rank tolerance).
    """
    k = G.shape[0]
    sigma, V = jnp.linalg.eigh(G)
    tol = jnp.max(sigma) * k * jnp.finfo(jnp.float32).eps
    keep = (sigma > tol) & (sigma > 0)
    sigma_min = jnp.min(jnp.where(keep, sigma, jnp.inf))
    inv_sqrt = jnp.where(keep, 1.0 / jnp.sqrt(jnp.where(keep, sigma, 1.0)), 0.0)
    scale = jnp.where(jnp.any(keep), jnp.sqrt(jnp.where(jnp.any(keep), sigma_min, 1.0)), 0.0)
    B = scale * (V * inv_sqrt[None, :]) @ V.T
    alpha = jnp.sum(B, axis=0)
    return jnp.where(jnp.any(keep), alpha, jnp.full((k,), 1.0 / k, jnp.float32))


def aligned_mtl(num_tasks: int) -> optax.GradientTransformationExtraArgs:
    """d = Σ_k α_k g_k with α = 1ᵀB, B = √σ_min V Σ^{-1/2} Vᵀ from the eigendecomposition of G.

    The combination equals Σ_k ĝ_k, the sum of the aligned (orthogonalised, equally scaled)
    task gradients. When every task gradient equals g, G has one non-null eigenvalue K‖g‖² with
    eigenvector 1/√K and α = 1/K, so the output is g (scale convention) with no rescaling needed;
    for K orthogonal gradients the output is √σ_min Σ_k g_k/‖g_k‖. Applied to the full gradient
    (the reference's Aligned-MTL; Aligned-MTL-UB works on the representation's gradient).
    No options.

    Reference: Senushkin et al., "Independent Component Alignment for Multi-Task Learning",
    CVPR 2023 (LibMTL's `Aligned_MTL`, scale_mode="min").
    """
    _common.check_positive_int("num_tasks", num_tasks)

    def init_fn(params):
        del params
        return _common.init_weights_state(num_tasks)

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        _common.check_stacked(updates, num_tasks)
        w = aligned_weights(_common.gram(updates))
        return _common.combine(updates, w), _common.WeightsState(state.count + 1, w)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)
