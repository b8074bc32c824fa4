"""One entry point from a task-losses function to one combined gradient, for every method.

    method = mtl.gradient_method("famo", num_tasks=3)          # or "vamo", "mgda", …
    state = method.init(params)
    grad, state, losses = method.update(task_losses_fn, state, params, val_grad=val_grad_fn)

`task_losses_fn(params) -> (K,)` is the task-masked loss vector of one batch (`task_losses`).
The method picks the cheapest exact path for itself:
  * "fast": VAMO and its ablations (`vamo`, `vamo_train`, `greedy`) by `vamo_gradient`: one
    linearisation of L, its forward map for the K alignments and its transpose for Σ_k w_k ∇L_k
    at a refresh, one backward pass of Σ_k w_k L_k on cached weights; never K gradients;
  * "loss_weighted": methods whose weights come from the losses and their own state only
    (`equal`, `dwa`, `famo`, `uw`, `rlw`): one forward pass, the weights read off the transform
    applied to the identity (task k's "gradient" e_k combines to w), one backward pass of
    Σ_k w_k L_k;
  * "explicit": every other method of `mtl.weighting`: the K per-task gradients
    (`per_task_grads`, K backward passes) and the method's transform.
Each path returns what the method's transform would return from the K explicit per-task
gradients (tested for every method).
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import chex
import jax
import jax.numpy as jnp
import optax

from vamo_jax.mtl import alignment as alignment_lib
from vamo_jax.mtl import weighting
from vamo_jax.mtl.vamo import VamoHyperparams, init_state, vamo_gradient
from vamo_jax.mtl.weighting.vamo_ablations import GREEDY_TEMPERATURE

PATHS = ("fast", "loss_weighted", "explicit")
LOSS_WEIGHTED = ("equal", "dwa", "famo", "uw", "rlw")
FAST = ("vamo", "vamo_train", "greedy")

ValGrad = chex.ArrayTree | Callable[[chex.ArrayTree], chex.ArrayTree] | None


class GradientMethod(NamedTuple):
    """A multi-task method as an `init`/`update` pair over task losses (optax-style).

    Attributes:
      init: params -> the method's state (`VamoState` for the fast path, else its transform's).
      update: `(task_losses_fn, state, params, *, val_grad=None, refresh=None)` ->
        `(grad like params, new state, losses (K,))`. `val_grad`: g_val, a pytree like params or
        a function params -> g_val (evaluated only when needed: at VAMO's refreshes); required
        by the validation-aligned methods, ignored by the others. `refresh`: fast path only,
        None (every `update_every` steps) or a bool, static or traced, as in `vamo_gradient`.
      path: "fast", "loss_weighted" or "explicit" (module docstring).
      num_tasks: K.
    """

    init: Callable[[chex.ArrayTree], Any]
    update: Callable[..., tuple[chex.ArrayTree, Any, chex.Array]]
    path: str
    num_tasks: int


def gradient_method(name: str, num_tasks: int, **options) -> GradientMethod:
    """The method `name` of `mtl.weighting` (`weighting.available()`) on its cheapest exact path.

    Args:
      name: a zoo name, e.g. "equal", "famo", "mgda", "vamo".
      num_tasks: K.
      **options: the method's options (`weighting.options(name)`), checked by name and range.

    Raises:
      ValueError: an unknown name or option, or an option out of range.
    """
    transform = weighting.get(name, num_tasks, **options)
    if name in FAST:
        fixed = {"vamo": {}, "vamo_train": {"alignment": "train"}, "greedy": {"temperature": GREEDY_TEMPERATURE}}
        return vamo_fast_path(VamoHyperparams(num_tasks, **fixed[name], **options))
    if name in LOSS_WEIGHTED:
        return _loss_weighted(transform, num_tasks)
    return _explicit(transform, num_tasks)


def vamo_fast_path(hp: VamoHyperparams) -> GradientMethod:
    """VAMO's exact fast path (`vamo_gradient`) as a `GradientMethod`, from its hyperparameters."""
    if not isinstance(hp, VamoHyperparams):
        raise ValueError(f"vamo_fast_path needs a VamoHyperparams, got {type(hp).__name__}.")

    def init_fn(params):
        del params
        return init_state(hp.num_tasks)

    def update_fn(task_losses_fn, state, params, *, val_grad: ValGrad = None, refresh: Any = None):
        return vamo_gradient(task_losses_fn, params, state, hp, val_grad=val_grad, refresh=refresh)

    return GradientMethod(init_fn, update_fn, "fast", hp.num_tasks)


def _loss_weighted(transform: optax.GradientTransformationExtraArgs, k: int) -> GradientMethod:
    def update_fn(task_losses_fn, state, params, *, val_grad: ValGrad = None, refresh: Any = None):
        del val_grad
        _no_refresh(refresh, "loss_weighted")
        alignment_lib.check_floating(params)
        losses, pullback = jax.vjp(task_losses_fn, params)
        _check_losses(losses, k)
        weights, state = transform.update(jnp.eye(k, dtype=losses.dtype), state, params, task_losses=losses)
        (grad,) = pullback(weights)
        return grad, state, losses

    return GradientMethod(transform.init, update_fn, "loss_weighted", k)


def _explicit(transform: optax.GradientTransformationExtraArgs, k: int) -> GradientMethod:
    def update_fn(task_losses_fn, state, params, *, val_grad: ValGrad = None, refresh: Any = None):
        _no_refresh(refresh, "explicit")
        losses, stacked = alignment_lib.per_task_grads(task_losses_fn, params)
        _check_losses(losses, k)
        if callable(val_grad):
            val_grad = val_grad(params)
        grad, state = transform.update(stacked, state, params, task_losses=losses, val_grad=val_grad)
        return grad, state, losses

    return GradientMethod(transform.init, update_fn, "explicit", k)


def _no_refresh(refresh, path: str) -> None:
    if refresh is not None:
        raise ValueError(f"refresh= applies to the fast path (VAMO) only; this method takes the {path} path: "
                         "leave refresh=None.")


def _check_losses(losses: chex.Array, k: int) -> None:
    if losses.shape != (k,):
        raise ValueError(f"task_losses_fn must return ({k},) losses, one per task (num_tasks={k}); got {losses.shape}.")
