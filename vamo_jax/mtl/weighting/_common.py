"""Shared pieces of the weighting transforms: the Gram matrix, states, checks and small solvers.

Every solver here runs a fixed number of iterations on a K×K problem, so it is jittable and its
cost does not depend on the data; none of them touches the (K, P) gradients.
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple

import chex
import jax
import jax.numpy as jnp
import optax

from vamo_jax.mtl.alignment import check_extra_args, check_stacked, combine

__all__ = ["WeightsState", "check_extra_args", "check_stacked", "combine", "gram", "require_task_losses"]
_TINY = 1e-12


class WeightsState(NamedTuple):
    """State of a method whose weights are a function of the current gradients only.

    Attributes:
      count: () int32, number of updates so far.
      weights: (K,) the weights of the last combination Σ_k w_k g_k, for logging.
    """

    count: chex.Array
    weights: chex.Array


def init_weights_state(num_tasks: int) -> WeightsState:
    return WeightsState(jnp.zeros((), jnp.int32), jnp.full((num_tasks,), 1.0 / num_tasks, jnp.float32))


def gram_weighting(num_tasks: int, weights_of_gram, update_every: int = 1) -> optax.GradientTransformationExtraArgs:
    """The transform Σ_k w_k g_k of a method whose weights are w = weights_of_gram(G).

    Args:
      num_tasks: K.
      weights_of_gram: (K, K) Gram matrix -> (K,) weights (traced under jit).
      update_every: recompute the weights every this many steps (on step 0, then every
        `update_every`), reusing the last ones in between.
    """

    def init_fn(params):
        del params
        return init_weights_state(num_tasks)

    def update_fn(updates, state, params=None, **extra_args):
        del params
        check_extra_args(extra_args)
        check_stacked(updates, num_tasks)
        if update_every == 1:
            w = weights_of_gram(gram(updates))
        else:
            w = jax.lax.cond(state.count % update_every == 0, lambda: weights_of_gram(gram(updates)),
                             lambda: state.weights)
        return combine(updates, w), WeightsState(state.count + 1, w)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def gram(stacked: chex.ArrayTree) -> chex.Array:
    """G_kj = ⟨g_k, g_j⟩ summed over all leaves of a pytree with a leading axis K. Returns (K, K) f32."""
    def leaf_gram(g):
        flat = jnp.reshape(g, (g.shape[0], -1))
        return (flat @ flat.T).astype(jnp.float32)

    return sum(jax.tree.leaves(jax.tree.map(leaf_gram, stacked)))


def normalized_gram(G: chex.Array) -> tuple[chex.Array, chex.Array]:
    """(G / s, s) with s the mean squared gradient norm (≥ tiny): the K×K solvers see O(1) numbers."""
    scale = jnp.maximum(jnp.mean(jnp.diag(G)), _TINY)
    return G / scale, scale


def is_zero(G: chex.Array) -> chex.Array:
    """True when every task gradient is zero (the solvers then fall back to equal weights)."""
    return jnp.trace(G) <= _TINY


# ---------------------------------------------------------------------------------------------
# option checks


def check_positive_int(name: str, value, minimum: int = 1) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an int ≥ {minimum}, got {value!r}.")


def check_number(name: str, value, low: float, high: float = math.inf, *, low_open=False, high_open=True) -> None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}.") from None
    lo_ok = v > low if low_open else v >= low
    hi_ok = v < high if high_open else v <= high
    if math.isnan(v) or not (lo_ok and hi_ok):
        lo = "(" if low_open else "["
        hi = ")" if high_open else "]"
        raise ValueError(f"{name} must be in {lo}{low}, {high}{hi}, got {value!r}.")


def require_task_losses(method: str, task_losses, num_tasks: int) -> chex.Array:
    """The (K,) `task_losses=` extra argument of loss-based methods, checked."""
    if task_losses is None:
        raise ValueError(
            f"{method!r} is loss-based: call update(per_task_grads, state, params, task_losses=L) "
            f"with L the ({num_tasks},) vector of task losses."
        )
    task_losses = jnp.asarray(task_losses, jnp.float32)
    if task_losses.shape != (num_tasks,):
        raise ValueError(f"task_losses must have shape ({num_tasks},), got {task_losses.shape}.")
    return task_losses


def keep_if_finite(task_losses: chex.Array, new_state: NamedTuple, state: NamedTuple) -> NamedTuple:
    """A loss-based method's state after a step: unchanged but for `count` when a loss is NaN or inf.

    Without it one non-finite loss would poison the learned weights for good (FAMO's logits, UW's
    log-variances, DWA's epoch means); with finite losses `new_state` passes unchanged.
    """
    finite = jnp.all(jnp.isfinite(task_losses))
    kept = jax.tree.map(lambda new, old: jnp.where(finite, new, old), new_state, state)
    return kept._replace(count=new_state.count)


def key_data(seed: int) -> chex.Array:
    """Raw uint32 key data (orbax can save it; typed PRNG keys it cannot)."""
    return jax.random.key_data(jax.random.key(seed))


def opt_step(
    opt: optax.GradientTransformation, grad: chex.Array, opt_state, params: chex.Array
) -> tuple[chex.Array, optax.OptState]:
    updates, opt_state = opt.update(grad, opt_state, params)
    return optax.apply_updates(params, updates), opt_state


# ---------------------------------------------------------------------------------------------
# K×K solvers


def simplex_pgd(
    objective: Callable[[chex.Array], chex.Array], w0: chex.Array, num_iters: int, num_steps: int = 24
) -> chex.Array:
    """min_{w ∈ simplex} objective(w) by projected gradient with a fixed grid line search.

    Each of the `num_iters` iterations tries the step sizes 2^1 … 2^{2-num_steps} at once (vmap)
    and keeps the best point, so the iterates never increase the objective and no step size needs
    tuning; convex objectives (MGDA's, CAGrad's) converge. Fixed cost: jittable.
    """
    steps = 2.0 ** (1.0 - jnp.arange(num_steps, dtype=jnp.float32))
    grad_fn = jax.grad(objective)

    def body(_, w):
        g = grad_fn(w)
        cand = jax.vmap(lambda s: optax.projections.projection_simplex(w - s * g))(steps)
        vals = jax.vmap(objective)(cand)
        best = jnp.argmin(vals)
        return jnp.where(vals[best] < objective(w), cand[best], w)

    return jax.lax.fori_loop(0, num_iters, body, w0)


def simplex_min_quadratic(G: chex.Array, num_iters: int) -> chex.Array:
    """argmin_{w ∈ simplex} ½ wᵀGw by accelerated projected gradient (FISTA, step 1/λ_max(G)).

    O(1/t²) in general and linear when G is well conditioned on the optimal face; `num_iters`
    fixed iterations. Returns (K,) w.
    """
    k = G.shape[0]
    lipschitz = jnp.maximum(jnp.linalg.eigvalsh(G)[-1], _TINY)

    def body(_, carry):
        w, y, t = carry
        w_next = optax.projections.projection_simplex(y - (G @ y) / lipschitz)
        t_next = 0.5 * (1.0 + jnp.sqrt(1.0 + 4.0 * t * t))
        return w_next, w_next + ((t - 1.0) / t_next) * (w_next - w), t_next

    w0 = jnp.full((k,), 1.0 / k, jnp.float32)
    return jax.lax.fori_loop(0, num_iters, body, (w0, w0, jnp.ones((), jnp.float32)))[0]


def solve_alpha_fair(G: chex.Array, alpha: float, num_iters: int) -> chex.Array:
    """w > 0 with G w = w^{-1/α} (element-wise), FairGrad's system (α = 1: Nash-MTL's G w = 1/w).

    It is the stationarity condition of the strictly convex F(w) = ½ wᵀGw − Σ_k φ(w_k) with
    φ'(w) = w^{-1/α}, solved by damped Newton (fixed iterations, fixed grid line search on F that
    keeps w > 0). `G` should be normalised (`normalized_gram`); the solution of s·G is
    s^{-α/(1+α)} times that of G.

    Returns: (K,) w > 0 (not normalised).
    """
    p = 1.0 / alpha

    def phi(w):
        return jnp.log(w) if alpha == 1.0 else w ** (1.0 - p) / (1.0 - p)

    def F(w):
        feasible = jnp.all(w > 0)
        val = 0.5 * w @ G @ w - jnp.sum(phi(jnp.where(w > 0, w, 1.0)))
        return jnp.where(feasible, val, jnp.inf)

    ts = 2.0 ** (-jnp.arange(12, dtype=jnp.float32))

    def body(_, w):
        grad = G @ w - w ** (-p)
        hess = G + jnp.diag(p * w ** (-p - 1.0))
        d = -jnp.linalg.solve(hess, grad)
        cand = w[None] + ts[:, None] * d[None]
        vals = jax.vmap(F)(cand)
        best = jnp.argmin(vals)
        return jnp.where(vals[best] <= F(w), cand[best], w)

    return jax.lax.fori_loop(0, num_iters, body, jnp.ones(G.shape[0], jnp.float32))
