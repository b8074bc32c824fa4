"""VAO, the cross-task form of VAMO: per-target weights over source tasks (paper §4.2, eq. 5–9).

Every source task i's batch is relabeled for every target task k, giving a K × K matrix of losses
L[i, k](θ) (target k's loss on source i's relabeled batch). With g_k the gradient of target k
(its validation gradient, or its mean training gradient for the w/o-validation ablation):

    m_ik = ⟨g_k, ∇L[i, k]⟩,    w_·k = softmax_i(m_·k / λ),    d = (1/K) Σ_k Σ_i w_ik ∇L[i, k].

Each column w_·k lies on the simplex, so the 1/K makes d a convex combination of the K² gradients:
when every ∇L[i, k] equals g, d = g (the package's scale convention). Uniform weights
(λ = ∞) give the mean of all K² gradients, naive data sharing.

Cost of a refresh, never K² backward passes (one "pass" is one forward or backward of the whole
K × K loss function, or of the validation losses):
  * the K validation gradients: one forward and K VJPs of `val_losses_fn` (`per_task_grads`);
    for alignment="train", K transposes of the linearisation below;
  * the K × K alignments: one `jax.linearize` of L, then K forward-mode products, J·g_k, of which
    column k is m_·k;
  * the combined gradient: one transpose of the same linearisation, cotangent W / K.
A step on cached weights is one backward pass of (1/K) Σ_ik w_ik L[i, k] and no validation pass.
normalize="cosine" needs every ‖∇L[i, k]‖ and so materialises the K² gradients (K² VJPs).
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import chex
import jax
import jax.numpy as jnp

from vamo_jax.mtl import alignment as alignment_lib
from vamo_jax.mtl.alignment import combine
from vamo_jax.mtl.vamo import VamoHyperparams, is_refresh_step, keep_finite, refreshed_weights

CrossLossesFn = Callable[[chex.ArrayTree], chex.Array]


class CrossTaskState(NamedTuple):
    """State of VAO.

    Attributes:
      count: () int32, number of updates so far.
      weights: (K, K) w[i, k], the weight of source i for target k; every column on the simplex.
      alignment: (K, K) m[i, k] of the last refresh (after normalisation, if any).
      skipped: () int32, refreshes with a non-finite alignment or weight; each kept the previous
        weights (`vamo.keep_finite`).
    """

    count: chex.Array
    weights: chex.Array
    alignment: chex.Array
    skipped: chex.Array


def init_cross_task_state(num_tasks: int, dtype=jnp.float32) -> CrossTaskState:
    """Uniform weights (naive data sharing) until the first refresh."""
    return CrossTaskState(
        count=jnp.zeros((), jnp.int32),
        weights=jnp.full((num_tasks, num_tasks), 1.0 / num_tasks, dtype),
        alignment=jnp.zeros((num_tasks, num_tasks), dtype),
        skipped=jnp.zeros((), jnp.int32),
    )


def cross_task_gradient(
    cross_losses_fn: CrossLossesFn,
    params: chex.ArrayTree,
    state: CrossTaskState,
    hp: VamoHyperparams,
    *,
    val_losses_fn: alignment_lib.TaskLossesFn | None = None,
    refresh: Any = None,
):
    """VAO's combined gradient d = (1/K) Σ_k Σ_i w_ik ∇L[i, k] by the O(K) path.

    Args:
      cross_losses_fn: params -> (K, K) L[i, k], target k's loss on source i's batch relabeled
        for k.
      params: θ.
      state: the `CrossTaskState` (from `init_cross_task_state` or a previous call).
      hp: `VamoHyperparams`; `alignment` picks g_k: "validation" (∇ of the k-th entry of
        `val_losses_fn`) or "train" (∇ (1/K) Σ_i L[i, k], target k's mean training gradient);
        `normalize` divides m_·k by ‖g_k‖² ("val_norm") or by ‖g_k‖ ‖∇L[i, k]‖ ("cosine");
        λ (`temperature`, or `target_entropy` matched per target) is shared by the K targets.
      val_losses_fn: params -> (K,) the targets' validation losses; evaluated only at a refresh.
        Required for alignment="validation".
      refresh: None to refresh on `state.count % update_every == 0`; a bool (static or traced)
        to override, as in `vamo_gradient`.

    Returns:
      (grad like params, new CrossTaskState, losses (K, K)).
    """
    if hp.alignment == "validation" and val_losses_fn is None:
        raise ValueError(
            "cross_task_gradient with alignment='validation' needs val_losses_fn (params -> (K,) "
            "validation losses of the targets), or hyperparameters with alignment='train'."
        )
    k = hp.num_tasks
    alignment_lib.check_floating(params)
    if refresh is None:
        refresh = is_refresh_step(state.count, hp.update_every)

    def validation_gradients():
        losses, grads = alignment_lib.per_task_grads(val_losses_fn, params)
        if losses.shape != (k,):
            raise ValueError(f"val_losses_fn must return ({k},) losses, one per target; got {losses.shape}.")
        return jax.tree.map(lambda p, g: g.astype(p.dtype), params, grads)

    def refreshed():
        combined, w, m, losses = refreshed_unchecked()
        w, m, skipped = keep_finite(w, m, state.weights, state.alignment, state.skipped)
        return combined(w), w, m, skipped, losses

    def refreshed_unchecked():
        if hp.normalize == "cosine":
            return _refreshed_explicit(cross_losses_fn, params, hp, state.count, validation_gradients)
        losses, jvp, vjp = alignment_lib.linearize(cross_losses_fn, params)
        _check_cross(losses, k)
        if hp.alignment == "validation":
            targets = validation_gradients()
        else:
            # Row e_k broadcast over sources: the cotangent of (1/K) Σ_i L[i, k].
            targets = jax.lax.map(lambda e: vjp(jnp.broadcast_to(e, (k, k)) / k), jnp.eye(k, dtype=losses.dtype))
        # Column k of J·g_k is m_·k; the other columns of each product are not needed.
        columns = jax.lax.map(lambda a: jvp(a[0])[:, a[1]], (targets, jnp.arange(k)))
        w, m = _column_weights(hp, columns.T.astype(jnp.float32), alignment_lib.stacked_sq_norms(targets), None,
                               state.count)
        return lambda weights: vjp(weights / k), w, m, losses

    def cached():
        losses, vjp_fn = jax.vjp(cross_losses_fn, params)
        _check_cross(losses, k)
        (grad,) = vjp_fn((state.weights / k).astype(losses.dtype))
        return grad, state.weights, state.alignment, state.skipped, losses

    if isinstance(refresh, bool):
        grad, w, m, skipped, losses = refreshed() if refresh else cached()
    else:
        grad, w, m, skipped, losses = jax.lax.cond(refresh, refreshed, cached)
    return grad, CrossTaskState(count=state.count + 1, weights=w, alignment=m, skipped=skipped), losses


def _column_weights(hp: VamoHyperparams, raw, target_sq_norms, task_sq_norms, count):
    """VAMO's refresh (normalise, softmax over sources) for each target column of (K, K) raw."""
    task_axis = None if task_sq_norms is None else 1
    return jax.vmap(
        lambda r, t, s: refreshed_weights(hp, r, t, s, count), in_axes=(1, 0, task_axis), out_axes=1
    )(raw, target_sq_norms, task_sq_norms)


def _refreshed_explicit(cross_losses_fn, params, hp: VamoHyperparams, count, validation_gradients):
    """The refresh from the K² materialised gradients (for normalize="cosine").

    Returns (weights (K, K) -> combined gradient, weights, alignments, losses (K, K)).
    """
    k = hp.num_tasks

    def flat_losses(p):
        losses = cross_losses_fn(p)
        _check_cross(losses, k)
        return losses.reshape(-1)

    losses, flat = alignment_lib.per_task_grads(flat_losses, params)
    grads = jax.tree.map(lambda g: g.reshape((k, k) + g.shape[1:]), flat)
    if hp.alignment == "validation":
        targets = validation_gradients()
    else:
        targets = jax.tree.map(lambda g: jnp.mean(g, 0), grads)
    per_leaf = jax.tree.map(
        lambda g, t: jnp.einsum("ik...,k...->ik", g, t.astype(g.dtype)).astype(jnp.float32), grads, targets
    )
    raw = sum(jax.tree.leaves(per_leaf))
    task_sq = alignment_lib.stacked_sq_norms(flat).reshape(k, k)
    w, m = _column_weights(hp, raw, alignment_lib.stacked_sq_norms(targets), task_sq, count)
    return lambda weights: combine(flat, (weights / k).reshape(-1)), w, m, losses.reshape(k, k)


def _check_cross(losses: chex.Array, num_tasks: int) -> None:
    if losses.shape != (num_tasks, num_tasks):
        raise ValueError(
            f"cross_losses_fn must return the ({num_tasks}, {num_tasks}) matrix L[source, target], "
            f"got shape {losses.shape}."
        )
