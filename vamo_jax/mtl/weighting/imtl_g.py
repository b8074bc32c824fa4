"""IMTL-G (Liu et al. 2021): gradient weights with equal projections onto every task direction."""

from __future__ import annotations

import jax.numpy as jnp
import optax

from vamo_jax.mtl.weighting import _common


def imtl_g_weights(G):
    """(K,) weights α, Σ_k α_k = 1, such that ⟨Σ_j α_j g_j, u_k⟩ is the same for all k (u_k = g_k/‖g_k‖).

    The paper's eq. 12 (LibMTL's closed form) is the solution of this linear system in α and the
    common projection c: Σ_j α_j ⟨g_j, u_k⟩ = c for every k, Σ_k α_k = 1; we solve the system on
    the Gram matrix with a pseudo-inverse (minimum-norm α when the gradients are linearly
    dependent, e.g. identical). A task whose gradient is zero (‖g_k‖ ≤ eps · max_j ‖g_j‖) has no
    direction u_k: it gets α_k = 0 and the others are balanced among themselves. Equal weights
    if every gradient is zero.
    """
    k = G.shape[0]
    present = _common.nonzero_tasks(G)
    norms = jnp.sqrt(jnp.maximum(jnp.diag(G), 0.0))
    inv = jnp.where(present, 1.0 / jnp.where(present, norms, 1.0), 0.0)
    Gu = G * inv[None, :]  # Gu[j, k] = ⟨g_j, u_k⟩
    projection_rows = jnp.concatenate([Gu.T, -jnp.ones((k, 1), G.dtype)], axis=1)
    absent_rows = jnp.concatenate([jnp.eye(k, dtype=G.dtype), jnp.zeros((k, 1), G.dtype)], axis=1)
    rows = jnp.where(present[:, None], projection_rows, absent_rows)
    system = jnp.concatenate([rows, jnp.concatenate([present.astype(G.dtype), jnp.zeros((1,), G.dtype)])[None]])
    rhs = jnp.zeros((k + 1,), G.dtype).at[k].set(1.0)
    alpha = jnp.where(present, (jnp.linalg.pinv(system) @ rhs)[:k], 0.0)
    return jnp.where(jnp.any(present), alpha, jnp.full((k,), 1.0 / k, G.dtype))


def imtl_g(num_tasks: int) -> optax.GradientTransformationExtraArgs:
    """d = Σ_k α_k g_k with Σ α = 1 and equal projections ⟨d, u_k⟩ for all k (IMTL-G).

    The weights sum to one, so identical gradients g give g (scale convention). This is the
    gradient half of IMTL applied to the full gradient (the reference applies it to the shared
    representation's gradient; IMTL-L, its loss half, is a separate method). No options.

    Reference: Liu et al., "Towards Impartial Multi-task Learning", ICLR 2021.
    """
    _common.check_positive_int("num_tasks", num_tasks)

    return _common.gram_weighting(num_tasks, imtl_g_weights if num_tasks > 1 else (lambda G: jnp.ones((1,), jnp.float32)))
