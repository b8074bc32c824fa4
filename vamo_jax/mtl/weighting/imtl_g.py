"""IMTL-G (Liu et al. 2021): gradient weights with equal projections onto every task direction."""

from __future__ import annotations

import jax.numpy as jnp
import optax

from vamo_jax.mtl.weighting import _common


def imtl_g_weights(G):
    """(K,) weights α, Σ_k α_k = 1, such that ⟨Σ_j α_j g_j, u_k⟩ is the same for all k (u_k = g_k/‖g_k‖).

    Closed form (the paper's eq. 12, as in LibMTL): with D = [g_1 − g_k]_{k≥2}ᵀ and
    U = [u_1 − u_k]_{k≥2}ᵀ, α_{2:} = g_1ᵀUᵀ (D Uᵀ)⁺ and α_1 = 1 − Σ_{k≥2} α_k; written here on the
    Gram matrix. The pseudo-inverse makes identical or zero gradients well defined.
    """
    norms = jnp.sqrt(jnp.maximum(jnp.diag(G), 0.0))
    inv = jnp.where(norms > 0, 1.0 / jnp.where(norms > 0, norms, 1.0), 0.0)
    Gu = G * inv[None, :]  # Gu[i, j] = ⟨g_i, u_j⟩
    gU = Gu[0, 0] - Gu[0, 1:]  # (K-1,) ⟨g_1, u_1 − u_j⟩
    # (D Uᵀ)[i, j] = ⟨g_1 − g_i, u_1 − u_j⟩ for i, j ≥ 2
    DU = (Gu[0, 0] - Gu[0, 1:])[None, :] - (Gu[1:, 0][:, None] - Gu[1:, 1:])
    rest = gU @ jnp.linalg.pinv(DU)
    return jnp.concatenate([1.0 - jnp.sum(rest, keepdims=True), rest])


def imtl_g(num_tasks: int) -> optax.GradientTransformationExtraArgs:
    """d = Σ_k α_k g_k with Σ α = 1 and equal projections ⟨d, u_k⟩ for all k (IMTL-G).

    The weights sum to one, so identical gradients g give g (scale convention). This is the
    gradient half of IMTL applied to the full gradient (the reference applies it to the shared
    representation's gradient; IMTL-L, its loss half, is a separate method). No options.

    Reference: Liu et al., "Towards Impartial Multi-task Learning", ICLR 2021.
    """
    _common.check_positive_int("num_tasks", num_tasks)

    return _common.gram_weighting(num_tasks, imtl_g_weights if num_tasks > 1 else (lambda G: jnp.ones((1,), jnp.float32)))
