"""VAMO: Validation-Aligned Multi-task Optimization (paper §3.1, eq. 8–9, Algorithm 1).

At a weight refresh, task k's alignment (the paper's marginal gain) is m_k = ⟨g_val, g_k⟩ and the
entropy-regularised weights are w = softmax(m / λ) (eq. 9, the maximiser of eq. 8). The update
direction is Σ_k w_k g_k (eq. 5). Between refreshes (every `update_every` steps) the cached
weights are reused.

Two entry points share one set of hyperparameters and one state:
  * `vamo_transform(...)`: an Optax transform over stacked per-task gradients (leading axis K);
  * `vamo_gradient(...)`: the exact fast path that never materialises K gradients: one
    linearisation of L(θ), one forward-mode product for all K alignments, one transpose for the
    combined gradient (about 2–2.5× a plain step at a refresh, one plain step otherwise).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable, NamedTuple

import chex
import jax
import jax.numpy as jnp
import optax

from vamo_jax.mtl import alignment as alignment_lib
from vamo_jax.mtl.alignment import check_extra_args, check_stacked, check_val_grad, combine
from vamo_jax.mtl.temperature import entropy_matched_temperature, task_weights

Temperature = float | Callable[[chex.Numeric], chex.Numeric]
ALIGNMENTS = ("validation", "train")
NORMALIZATIONS = (None, "val_norm", "cosine")


class VamoState(NamedTuple):
    """State of VAMO, the same for the transform and the fast path (build it with `init_state`).

    Attributes:
      count: () int32, number of updates so far.
      weights: (K,) task weights w in use (the simplex point of the last finite refresh).
      alignment: (K,) alignments m of the last finite refresh (after normalisation, if any).
      skipped: () int32, refreshes whose alignments or weights were not finite (a NaN or inf
        loss or gradient); each kept the previous weights and alignments instead.
    """

    count: chex.Array
    weights: chex.Array
    alignment: chex.Array
    skipped: chex.Array


@dataclasses.dataclass(frozen=True)
class VamoHyperparams:
    """VAMO's hyperparameters, validated on construction.

    Attributes:
      num_tasks: K ≥ 1.
      temperature: λ > 0 (float, `math.inf` for equal weighting), a schedule count -> λ, or a
        traced scalar (`optax.inject_hyperparams`). On raw alignments λ's meaning changes as
        the gradient norm falls: prefer normalize="val_norm" with λ of order 0.1 (README).
      update_every: refresh the weights every this many steps (≥ 1); the paper uses 5.
      alignment: "validation" (m_k = ⟨g_val, g_k⟩) or "train" (the paper's w/o held-out
        validation ablation: the target is the mean training gradient (1/K) Σ_k g_k).
      normalize: None (the paper's raw inner product), "val_norm" (m / ‖target‖²) or "cosine"
        (m_k / (‖target‖ ‖g_k‖)). Raw m scales with the gradient norm, so λ means different
        things for different models; the normalised forms make λ scale-free.
      target_entropy: None (λ = `temperature`), or a fraction ρ ∈ (0, 1): at each refresh λ
        is the one whose weights have entropy ρ log K (`temperature.entropy_matched_temperature`;
        not in the paper, for the adaptive-temperature experiment).
    """

    num_tasks: int
    temperature: Temperature = 1.0
    update_every: int = 5
    alignment: str = "validation"
    normalize: str | None = None
    target_entropy: float | None = None

    def __post_init__(self):
        _check_static_int("num_tasks", self.num_tasks, "the number of tasks K")
        if not callable(self.temperature):
            _check_temperature(self.temperature)
        _check_static_int("update_every", self.update_every, "refresh every that many steps")
        if self.alignment not in ALIGNMENTS:
            raise ValueError(f"alignment must be one of {ALIGNMENTS}, got {self.alignment!r}.")
        if self.normalize not in NORMALIZATIONS:
            raise ValueError(f"normalize must be one of {NORMALIZATIONS}, got {self.normalize!r}.")

        if (self.target_entropy is not None and not isinstance(self.target_entropy, jax.core.Tracer)
                and not 0 < self.target_entropy < 1):
            raise ValueError(f"target_entropy must be a fraction of log K in (0, 1), got {self.target_entropy!r}.")

    def temperature_at(self, count: chex.Numeric) -> chex.Numeric:
        return self.temperature(count) if callable(self.temperature) else self.temperature

    def temperature_for(self, count: chex.Numeric, alignment: chex.Array) -> chex.Numeric:
        """λ of a refresh: the configured one, or the entropy-matched one when `target_entropy` is set."""
        if self.target_entropy is None or self.num_tasks == 1:
            return self.temperature_at(count)
        return entropy_matched_temperature(alignment, self.target_entropy * math.log(self.num_tasks))


_INJECT_HINT = ("with optax.inject_hyperparams, pass static_args=('num_tasks', 'update_every') so that only "
                "the temperature (and target_entropy) are injected")


def _check_static_int(name: str, value, meaning: str) -> None:
    if isinstance(value, (jax.Array, jax.core.Tracer)):
        raise ValueError(f"{name} must be a static Python int ({meaning}), got an array {value!r}: {_INJECT_HINT}.")
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be an int ≥ 1 ({meaning}), got {value!r}.")


def _check_temperature(temperature) -> None:
    if isinstance(temperature, jax.core.Tracer):
        if jnp.ndim(temperature) != 0:
            raise ValueError(f"temperature must be a scalar, got shape {jnp.shape(temperature)}.")
        return  # a traced λ (optax.inject_hyperparams under jit): its value is the caller's
    try:
        value = float(temperature)
    except (TypeError, ValueError):
        raise ValueError(f"temperature must be a float > 0 or a schedule, got {temperature!r}.") from None
    if math.isnan(value) or value <= 0:
        raise ValueError(
            f"temperature (λ) must be > 0, got {temperature!r}: use a small λ (e.g. 1e-6) for "
            "greedy weights or math.inf for equal weights."
        )


def init_state(num_tasks: int, dtype=jnp.float32) -> VamoState:
    """VAMO's state before the first step: equal weights 1/K, zero alignments, count 0.

    The fast path's initialiser (`vamo_gradient`, `vamo_fast_path`); the transform's `init`
    returns the same. Exported as `vamo_jax.mtl.init_vamo_state`.

    Args:
      num_tasks: K.
      dtype: of the weights and alignments.
    """
    return VamoState(
        count=jnp.zeros((), jnp.int32),
        weights=jnp.full((num_tasks,), 1.0 / num_tasks, dtype),
        alignment=jnp.zeros((num_tasks,), dtype),
        skipped=jnp.zeros((), jnp.int32),
    )


def keep_finite(weights: chex.Array, alignment: chex.Array, previous_weights: chex.Array,
                previous_alignment: chex.Array, skipped: chex.Array):
    """The non-finite policy of a refresh: new weights only when every weight and alignment is finite.

    A NaN or inf loss makes the alignments, and so every weight, non-finite; cached weights would
    then poison the next `update_every` − 1 steps. Instead the previous weights and alignments are
    kept and `skipped` counts the refresh. With finite inputs the new values pass unchanged.

    Args:
      weights, alignment: the refresh's new values, any shape.
      previous_weights, previous_alignment: the values in use, the same shapes.
      skipped: () int32 count so far.

    Returns:
      (weights, alignment, skipped).
    """
    finite = jnp.all(jnp.isfinite(weights)) & jnp.all(jnp.isfinite(alignment))
    return (jnp.where(finite, weights, previous_weights), jnp.where(finite, alignment, previous_alignment),
            skipped + jnp.logical_not(finite).astype(skipped.dtype))


def is_refresh_step(count: chex.Numeric, update_every: int) -> chex.Array:
    """True on step 0 and every `update_every` steps after."""
    return jnp.asarray(count) % update_every == 0


def _normalize(
    raw: chex.Array,
    mode: str | None,
    target_sq_norm: chex.Array,
    task_sq_norms: chex.Array | None,
) -> chex.Array:
    tiny = jnp.finfo(jnp.float32).tiny
    if mode is None:
        return raw
    if mode == "val_norm":
        return raw / jnp.maximum(target_sq_norm, tiny)
    return raw / jnp.maximum(jnp.sqrt(target_sq_norm * task_sq_norms), tiny)


def refreshed_weights(
    hp: VamoHyperparams,
    raw: chex.Array,
    target_sq_norm: chex.Array,
    task_sq_norms: chex.Array | None,
    count: chex.Numeric,
) -> tuple[chex.Array, chex.Array]:
    """One target's weights at a refresh: normalise the raw alignments, then softmax(m / λ).

    Args:
      hp: the hyperparameters (`normalize`, `temperature`, `target_entropy`).
      raw: (K,) raw alignments ⟨target, g_k⟩.
      target_sq_norm: () ‖target‖².
      task_sq_norms: (K,) ‖g_k‖² (needed only for normalize="cosine", else None).
      count: () the step count (for a temperature schedule).

    Returns:
      weights: (K,) on the simplex; alignment: (K,) the normalised m.
    """
    m = _normalize(raw, hp.normalize, target_sq_norm, task_sq_norms)
    return task_weights(m, hp.temperature_for(count, m)), m


def _need_val_grad(hp: VamoHyperparams, val_grad) -> None:
    if hp.alignment == "validation" and val_grad is None:
        raise ValueError(
            "VAMO with alignment='validation' needs the validation gradient: call "
            "update(..., val_grad=g_val), or build it with alignment='train'. (flax's "
            "TrainState.apply_gradients does not pass extra keywords to the optimiser: compute "
            "the combined gradient first, e.g. with `vamo_jax.mtl.gradient_method`, then apply it.)"
        )


def _refreshed_from_stacked(hp: VamoHyperparams, stacked, val_grad, count):
    """(weights, alignment) from explicit per-task gradients."""
    target = val_grad if hp.alignment == "validation" else jax.tree.map(lambda g: jnp.mean(g, 0), stacked)
    raw = alignment_lib.stacked_vdot(stacked, target)
    task_sq = alignment_lib.stacked_sq_norms(stacked) if hp.normalize == "cosine" else None
    target_sq = optax.tree_utils.tree_vdot(target, target).astype(jnp.float32)
    return refreshed_weights(hp, raw, target_sq, task_sq, count)


def vamo_transform(
    num_tasks: int,
    temperature: Temperature = 1.0,
    update_every: int = 5,
    alignment: str = "validation",
    normalize: str | None = None,
    target_entropy: float | None = None,
) -> optax.GradientTransformationExtraArgs:
    """VAMO as an Optax transform over stacked per-task gradients.

    `update(per_task_grads, state, params=None, *, val_grad=None)` takes the params pytree with a
    leading axis K on every leaf (as returned by `per_task_grads`) and returns Σ_k w_k g_k, a
    pytree like params, so it composes with any optimiser:

        tx = optax.chain(vamo_transform(3, temperature=1.0), optax.adamw(1e-3))

    Gradient accumulation: wrap the optimiser after VAMO, `optax.chain(vamo_transform(...),
    optax.MultiSteps(optax.adamw(...), k).gradient_transformation())`; a MultiSteps around the
    whole chain would feed param-shaped zeros to this stacked-gradient transform.

    Non-finite input: a refresh whose alignments are not finite keeps the previous weights and
    counts itself in `state.skipped` (`keep_finite`); the output is then non-finite, so wrap the
    optimiser after VAMO in `optax.apply_if_finite` to skip the step:
    `optax.chain(vamo_transform(...), optax.apply_if_finite(optax.adamw(...), 5))` (around the
    whole chain it would feed this transform's stacked input to its zero fallback).

    Scale convention: when every task gradient equals g, the output is g.

    Args: see `VamoHyperparams`. `temperature` may be injected with
    `optax.inject_hyperparams(vamo_transform, static_args=("num_tasks", "update_every"))`.
    `update(per_task_grads, state, params=None, *, val_grad=None)`: `val_grad` is one gradient
    shaped like params (no task axis); a stacked one is refused.
    """
    hp = VamoHyperparams(num_tasks, temperature, update_every, alignment, normalize, target_entropy)

    def init_fn(params):
        del params
        return init_state(num_tasks)

    def update_fn(updates, state: VamoState, params=None, *, val_grad=None, **extra_args):
        del params
        check_extra_args(extra_args)
        check_stacked(updates, num_tasks)
        _need_val_grad(hp, val_grad)
        if val_grad is not None:
            check_val_grad(val_grad, jax.tree.map(lambda g: g[0], updates), "the per-task gradients' rows")
        refresh = is_refresh_step(state.count, update_every)

        def refreshed():
            w, m = _refreshed_from_stacked(hp, updates, val_grad, state.count)
            return keep_finite(w, m, state.weights, state.alignment, state.skipped)

        weights, m, skipped = jax.lax.cond(
            refresh, refreshed, lambda: (state.weights, state.alignment, state.skipped))
        new_state = VamoState(count=state.count + 1, weights=weights, alignment=m, skipped=skipped)
        return combine(updates, weights), new_state

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def vamo_gradient(
    task_losses_fn: alignment_lib.TaskLossesFn,
    params: chex.ArrayTree,
    state: VamoState,
    hp: VamoHyperparams,
    *,
    val_grad: chex.ArrayTree | None = None,
    refresh: Any = None,
):
    """VAMO's combined gradient by the exact fast path; the same result as `vamo_transform`.

    At a refresh: one `jax.linearize` of L(θ) at θ, alignments m = J_L·g_val by its forward map,
    Σ_k w_k g_k by its transpose (for alignment="train" the target (1/K) Σ_k g_k is one more
    transpose). Otherwise: one backward pass of Σ_k w_k L_k with the cached weights.
    normalize="cosine" needs every ‖g_k‖ and therefore takes the explicit path (O(K) cost).

    Args:
      task_losses_fn: params -> (K,) task-masked losses of the training batch.
      params: θ.
      state: the `VamoState` (from `init_state` or a previous call).
      hp: `VamoHyperparams`.
      val_grad: g_val, a pytree like params, or a function params -> g_val evaluated only at a
        refresh (so cached steps skip the validation backward pass). Required for
        alignment="validation".
      refresh: None to refresh on `state.count % update_every == 0`; a bool (static or traced)
        to override, e.g. from an unbatched loop counter so `vmap` over seeds keeps the branch.

    Returns:
      (grad like params, new VamoState, losses (K,)). A refresh with non-finite alignments keeps
      the previous weights (`keep_finite`, counted in `state.skipped`).
    """
    _need_val_grad(hp, val_grad)
    alignment_lib.check_floating(params)
    if val_grad is not None and not callable(val_grad):
        check_val_grad(val_grad, params, "params")
    if refresh is None:
        refresh = is_refresh_step(state.count, hp.update_every)
    count = state.count

    def validation_gradient():
        g = val_grad(params) if callable(val_grad) else val_grad
        check_val_grad(g, params, "params")
        return g

    def refreshed():
        if hp.normalize == "cosine":
            losses, stacked = alignment_lib.per_task_grads(task_losses_fn, params)
            target = validation_gradient() if hp.alignment == "validation" else None
            w, m = _refreshed_from_stacked(hp, stacked, target, count)
            w, m, skipped = keep_finite(w, m, state.weights, state.alignment, state.skipped)
            return combine(stacked, w), w, m, skipped, losses
        losses, jvp, vjp = alignment_lib.linearized_task_losses(task_losses_fn, params)
        k = losses.shape[0]
        if k != hp.num_tasks:
            raise ValueError(f"task_losses_fn returns {k} losses but num_tasks={hp.num_tasks}.")
        if hp.alignment == "validation":
            target = jax.tree.map(lambda p, g: jnp.asarray(g, p.dtype), params, validation_gradient())
        else:
            target = vjp(jnp.full((k,), 1.0 / k, losses.dtype))
        target_sq = optax.tree_utils.tree_vdot(target, target).astype(jnp.float32)
        w, m = refreshed_weights(hp, jvp(target).astype(jnp.float32), target_sq, None, count)
        w, m, skipped = keep_finite(w, m, state.weights, state.alignment, state.skipped)
        return vjp(w), w, m, skipped, losses

    def cached():
        losses, grad = alignment_lib.weighted_task_grad(task_losses_fn, params, state.weights)
        return grad, state.weights, state.alignment, state.skipped, losses

    if isinstance(refresh, bool):
        grad, w, m, skipped, losses = refreshed() if refresh else cached()
    else:
        grad, w, m, skipped, losses = jax.lax.cond(refresh, refreshed, cached)
    return grad, VamoState(count=count + 1, weights=w, alignment=m, skipped=skipped), losses
