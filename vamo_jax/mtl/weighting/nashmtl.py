"""Nash-MTL (Navon et al. 2022): the Nash bargaining solution over the task gradients."""

from __future__ import annotations

import optax

from vamo_jax.mtl.weighting import _common
from vamo_jax.mtl.weighting.fairgrad import fair_weights


def nashmtl(num_tasks: int, num_iters: int = 30, update_every: int = 1) -> optax.GradientTransformationExtraArgs:
    """d ∝ Σ_k α_k g_k with α > 0 solving Gα = 1/α (element-wise), i.e. α_k ⟨g_k, d⟩ = 1.

    The bargaining solution maximises Σ_k log⟨g_k, d⟩ over a ball. The reference approximates the
    system with a sequence of cvxpy convex programs (optim_niter = 20); we solve it to tolerance
    as the stationary point of the strictly convex ½ αᵀGα − Σ_k log α_k (damped Newton, fixed
    `num_iters`); it is FairGrad's system at α-fairness 1. Scale: the reference steps along
    Σ_k α_k g_k (norm ≈ √K whatever ‖g‖), then clips it to max_norm = 1; we normalise α to the
    simplex so that, when every task gradient equals g, the output is g (scale convention). Put
    `optax.clip_by_global_norm` in the optimiser chain for the reference's clipping. A zero task
    gradient (a task absent from the batch) gets weight 0 and the bargaining is among the others
    (`fairgrad.fair_weights`).

    Args:
      num_tasks: K.
      num_iters: Newton iterations (default 30).
      update_every: solve every this many steps and reuse the weights in between (the
        reference's `update_weights_every`, default 1).

    Reference: Navon et al., "Multi-Task Learning as a Bargaining Game", ICML 2022.
    """
    _common.check_positive_int("num_tasks", num_tasks)
    _common.check_positive_int("num_iters", num_iters)
    _common.check_positive_int("update_every", update_every)

    return _common.gram_weighting(num_tasks, lambda G: fair_weights(G, 1.0, num_iters), update_every)
