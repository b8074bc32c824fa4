"""Aligned-MTL (Senushkin et al. 2023): stable gradient combination by eigen-alignment."""

from __future__ import annotations

import jax.numpy as jnp
import optax

from vamo_jax.mtl.weighting import _common


def aligned_weights(G):
    """(K,) α = 1ᵀB / K with B = √σ_min · V Σ^{-1/2} Vᵀ over the non-null eigenpairs of G = V Σ Vᵀ.

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
    alpha = jnp.sum(B, axis=0) / k
    return jnp.where(jnp.any(keep), alpha, jnp.full((k,), 1.0 / k, jnp.float32))


def aligned_mtl(num_tasks: int) -> optax.GradientTransformationExtraArgs:
    """d = Σ_k α_k g_k with α = 1ᵀB / K, B = √σ_min V Σ^{-1/2} Vᵀ from the eigendecomposition G = VΣVᵀ.

    The combination is (1/K) Σ_k ĝ_k, the mean of the aligned task gradients: with the (K, P)
    gradient matrix M = U S Wᵀ, the ĝ_k are the rows of s_min U Wᵀ (orthogonal, equal norms).
    The reference sums them (α = 1ᵀB), which gives K·g when every task gradient equals g; we
    average so that the output is g (scale convention). For K orthogonal gradients the output is
    (s_min / K) Σ_k g_k/‖g_k‖, s_min the smallest gradient norm. Applied to the full gradient
    (the reference's Aligned-MTL; Aligned-MTL-UB works on the representation's gradient).
    No options.

    Reference: Senushkin et al., "Independent Component Alignment for Multi-Task Learning",
    CVPR 2023 (LibMTL's `Aligned_MTL`, scale_mode="min").
    """
    _common.check_positive_int("num_tasks", num_tasks)

    return _common.gram_weighting(num_tasks, aligned_weights)
