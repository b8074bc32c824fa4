"""Per-task gradients and the exact alignment m = J_L(θ)·d.

`task_losses_fn(params) -> (K,)` is the task-masked loss vector of one batch (see `losses.py`).

Two paths:
  * explicit: `per_task_grads` materialises all K gradients (K rows of the Jacobian, one shared
    forward pass, K vector-Jacobian products under `lax.map`). Needed by methods that use the
    full Gram matrix (PCGrad, MGDA, …).
  * exact O(1)-in-K: `task_alignment` gets all K inner products ⟨d, ∇L_k⟩ from one forward-mode
    pass, and `weighted_task_grad` gets ∇ Σ_k w_k L_k from one backward pass.
"""

from __future__ import annotations

import difflib
from typing import Callable

import chex
import jax
import jax.numpy as jnp

TaskLossesFn = Callable[[chex.ArrayTree], chex.Array]


def per_task_grads(task_losses_fn: TaskLossesFn, params: chex.ArrayTree):
    """All K per-task gradients: one forward pass, then one VJP per basis vector e_k.

    The K VJPs run under `lax.map`, not `vmap`: XLA (jax 0.10.2, CPU) miscompiles the vmapped VJP
    of a one-hot task reduction, `(one_hot(task, K) * loss[:, None]).sum(0) / count`, once the
    batched backward is large (e.g. K = 32, 2048 tokens: relative error ~1), while each unbatched
    VJP is exact, for any user loss, at the same CPU cost.

    Args:
      task_losses_fn: params -> (K,) task losses.
      params: θ.

    Returns:
      losses: (K,); grads: the params pytree with a leading axis K on every leaf.
    """
    check_floating(params)
    losses, vjp_fn = jax.vjp(task_losses_fn, params)
    _check_losses(losses)
    basis = jnp.eye(losses.shape[0], dtype=losses.dtype)
    (grads,) = jax.lax.map(vjp_fn, basis)
    return losses, grads


def task_alignment(task_losses_fn: TaskLossesFn, params: chex.ArrayTree, direction: chex.ArrayTree):
    """m_k = ⟨direction, ∇L_k(θ)⟩ for every k, by one Jacobian-vector product.

    Args:
      direction: a pytree like params (e.g. the validation gradient g_val).

    Returns:
      losses: (K,); alignment: (K,).
    """
    direction = jax.tree.map(lambda p, d: jnp.asarray(d, p.dtype), params, direction)
    losses, alignment = jax.jvp(task_losses_fn, (params,), (direction,))
    _check_losses(losses)
    return losses, alignment


def weighted_task_grad(task_losses_fn: TaskLossesFn, params: chex.ArrayTree, weights: chex.Array):
    """∇_θ Σ_k w_k L_k(θ) by one backward pass. Returns (losses (K,), grad like params)."""
    losses, vjp_fn = jax.vjp(task_losses_fn, params)
    _check_losses(losses)
    (grad,) = vjp_fn(weights.astype(losses.dtype))
    return losses, grad


def linearized_task_losses(task_losses_fn: TaskLossesFn, params: chex.ArrayTree):
    """One linearisation of L at θ shared by alignment (forward) and combination (transpose).

    Returns:
      losses: (K,);
      jvp: direction (like params) -> (K,) alignments;
      vjp: weights (K,) -> gradient like params (the transpose of `jvp`).
    """
    losses, jvp_fn, vjp = linearize(task_losses_fn, params)
    _check_losses(losses)
    return losses, jvp_fn, vjp


def linearize(fn: Callable[[chex.ArrayTree], chex.Array], params: chex.ArrayTree):
    """`jax.linearize` of an array-valued fn at θ, with the transpose of its linear map.

    Returns:
      out: fn(θ), any shape S;
      jvp: direction (like params) -> S, the directional derivatives J·d;
      vjp: cotangent S -> gradient like params, the transpose Jᵀ·c (one backward pass).
    """
    out, jvp_fn = jax.linearize(fn, params)
    transpose = jax.linear_transpose(jvp_fn, params)

    def vjp(cotangent: chex.Array) -> chex.ArrayTree:
        (grad,) = transpose(cotangent.astype(out.dtype))
        return grad

    return out, jvp_fn, vjp


def stacked_vdot(stacked: chex.ArrayTree, direction: chex.ArrayTree) -> chex.Array:
    """(K,) inner products ⟨stacked[k], direction⟩ for a pytree with a leading axis K."""
    per_leaf = jax.tree.map(
        lambda g, d: jnp.einsum("k...,...->k", g, d.astype(g.dtype)).astype(jnp.float32),
        stacked,
        direction,
    )
    return sum(jax.tree.leaves(per_leaf))


def stacked_sq_norms(stacked: chex.ArrayTree) -> chex.Array:
    """(K,) squared norms of each row of a stacked pytree."""
    per_leaf = jax.tree.map(
        lambda g: jnp.sum(jnp.reshape(g, (g.shape[0], -1)).astype(jnp.float32) ** 2, axis=1),
        stacked,
    )
    return sum(jax.tree.leaves(per_leaf))


def combine(stacked: chex.ArrayTree, weights: chex.Array) -> chex.ArrayTree:
    """Σ_k w_k g_k for a pytree with a leading axis K; weights (K,)."""
    return jax.tree.map(lambda g: jnp.tensordot(weights.astype(g.dtype), g, axes=1), stacked)


def check_stacked(updates: chex.ArrayTree, num_tasks: int) -> None:
    """Refuse per-task gradients without a leading task axis of size K on every leaf."""
    for path, leaf in jax.tree_util.tree_leaves_with_path(updates):
        if leaf.ndim == 0 or leaf.shape[0] != num_tasks:
            raise ValueError(
                f"per-task gradients must carry a leading task axis of size num_tasks={num_tasks}; "
                f"leaf {jax.tree_util.keystr(path)} has shape {leaf.shape}. Pass the stacked "
                "gradients of `per_task_grads` (optax.MultiSteps around the whole chain feeds "
                "param-shaped zeros: wrap only the optimiser after VAMO)."
            )


EXTRA_ARGS = ("task_losses", "val_grad")


def check_extra_args(extra_args: dict) -> None:
    """Refuse a misspelt extra argument of a weighting transform (e.g. `val_grads=`, `task_loss=`).

    Every transform ignores the extra arguments it does not need (one training step serves all
    methods, and `optax.chain` passes every extra argument to every member), so an unknown name
    is refused only when it is a near miss of one of ours, never another transform's own.
    """
    for name in extra_args:
        if name not in EXTRA_ARGS:
            close = difflib.get_close_matches(name, EXTRA_ARGS, n=1, cutoff=0.75)
            if close:
                raise ValueError(f"unknown extra argument {name}=: did you mean {close[0]}=?")


def check_val_grad(val_grad: chex.ArrayTree, like: chex.ArrayTree, what: str) -> None:
    """Refuse a `val_grad` that is not one gradient shaped like `like` (params, or one task's row).

    A stacked (K-leading) val_grad would otherwise broadcast into wrong alignments silently.
    """
    want, got = jax.tree.structure(like), jax.tree.structure(val_grad)
    if want != got:
        raise ValueError(
            f"val_grad must be a pytree like {what}: g_val = ∇ of the validation loss, one gradient "
            f"(no task axis). Its structure {got} differs from {want}."
        )
    for path, g, p in zip(
        (jax.tree_util.keystr(k) for k, _ in jax.tree_util.tree_leaves_with_path(like)),
        jax.tree.leaves(val_grad), jax.tree.leaves(like),
    ):
        if jnp.shape(g) != jnp.shape(p):
            stacked = jnp.ndim(g) == jnp.ndim(p) + 1 and jnp.shape(g)[1:] == jnp.shape(p)
            hint = (" It looks stacked (a leading task axis): pass the gradient of the mean validation "
                    "loss, not per-task validation gradients." if stacked else "")
            raise ValueError(
                f"val_grad leaf {path} has shape {jnp.shape(g)} but {what} have {jnp.shape(p)}: g_val must "
                f"be one gradient shaped like the parameters.{hint}"
            )


def check_floating(params: chex.ArrayTree, what: str = "params") -> None:
    """Refuse a parameter leaf that cannot be differentiated (an integer or boolean array)."""
    for path, leaf in jax.tree_util.tree_leaves_with_path(params):
        if not jnp.issubdtype(jnp.result_type(leaf), jnp.inexact):
            raise ValueError(
                f"{what} leaf {jax.tree_util.keystr(path)} has dtype {jnp.result_type(leaf)}: per-task "
                "gradients need floating parameters. Keep integer state (counters, step numbers, "
                "batch statistics' counts) out of the differentiated pytree, or cast it to float."
            )


def _check_losses(losses) -> None:
    if losses.ndim != 1:
        raise ValueError(
            f"task_losses_fn must return a (K,) vector of per-task losses, got shape {losses.shape}."
        )
