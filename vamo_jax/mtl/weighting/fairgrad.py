"""FairGrad (Ban & Ji 2024): α-fair resource allocation over the task gradients."""

from __future__ import annotations

import jax.numpy as jnp
import optax

from vamo_jax.mtl.weighting import _common


def fair_weights(G, alpha: float, num_iters: int):
    """(K,) simplex weights ∝ the solution w > 0 of G w = w^{-1/α}, over the non-zero tasks.

    A task whose gradient is zero (absent from the batch) has no solution (its weight would grow
    without bound and, after normalisation, shrink every other weight to nothing); it gets weight
    0 and the others solve the system among themselves. "Zero" is ‖g_k‖ ≤ eps · max_j ‖g_j‖,
    below float32's resolution of the largest gradient. Equal weights if every gradient is zero.
    """
    k = G.shape[0]
    Gn, _ = _common.normalized_gram(G)
    present = _common.nonzero_tasks(Gn)
    both = present[:, None] & present[None, :]
    decoupled = jnp.where(both, Gn, 0.0) + jnp.diag(jnp.where(present, 0.0, 1.0))
    w = jnp.where(present, _common.solve_alpha_fair(decoupled, alpha, num_iters), 0.0)
    w = w / jnp.sum(w)
    return jnp.where(_common.is_zero(G), jnp.full((k,), 1.0 / k, jnp.float32), w)


def fairgrad(num_tasks: int, alpha: float = 2.0, num_iters: int = 30) -> optax.GradientTransformationExtraArgs:
    """d ∝ Σ_k w_k g_k with w > 0 solving Gᵀ w = w^{-1/α} (G the Gram matrix, power element-wise).

    FairGrad maximises the α-fair utility Σ_k (g_kᵀ d)^{1−α} / (1−α) over a ball; its KKT
    condition with d = Σ_k w_k g_k is the system above. The reference solves it with scipy
    `least_squares`; we minimise the strictly convex F(w) = ½ wᵀGw − Σ_k φ(w_k), φ' = w^{-1/α},
    whose stationary point is the same, by damped Newton with `num_iters` fixed iterations.
    Scale: the reference steps along Σ_k w_k g_k, whose norm depends on ‖g‖; we normalise w to
    the simplex so that, when every task gradient equals g, the output is g (scale convention).
    The direction is FairGrad's. A zero task gradient gets weight 0 and the others are solved
    among themselves (`fair_weights`). The reference's max-norm clipping belongs to the optimiser chain
    (`optax.clip_by_global_norm`).

    Args:
      num_tasks: K.
      alpha: α > 0 (default 2.0, the official run scripts' value); α = 1 is Nash-MTL's
        proportional fairness, α → ∞ approaches max-min fairness.
      num_iters: Newton iterations (default 30).

    Reference: Ban & Ji, "Fair Resource Allocation in Multi-Task Learning", ICML 2024.
    """
    _common.check_positive_int("num_tasks", num_tasks)
    _common.check_number("alpha", alpha, 0.0, low_open=True)
    _common.check_positive_int("num_iters", num_iters)
    alpha = float(alpha)

    return _common.gram_weighting(num_tasks, lambda G: fair_weights(G, alpha, num_iters))
