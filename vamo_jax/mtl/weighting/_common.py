"""Shared pieces of the weighting transforms: the Gram matrix, states, checks and small solvers.

Every solver here works on the K×K Gram matrix, never the (K, P) gradients, and is jittable:
Wolfe's min-norm point (MGDA, CAGrad) stops on its duality gap within a cap on the steps; the
α-fair Newton solve (Nash-MTL, FairGrad) runs a fixed number of iterations.
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


def nonzero_tasks(G: chex.Array) -> chex.Array:
    """(K,) bool: ‖g_k‖ > eps · max_j ‖g_j‖ (float32 eps), the tasks whose gradient is not zero."""
    diag = jnp.diag(G)
    return diag > jnp.finfo(jnp.float32).eps ** 2 * jnp.maximum(jnp.max(diag), _TINY)


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


def min_norm_point(G: chex.Array, max_iters: int) -> tuple[chex.Array, chex.Array]:
    """argmin_{w ∈ simplex} wᵀGw, the min-norm point of conv{g_k}, by Wolfe's algorithm on G.

    Wolfe (1976), "Finding the nearest point in a polytope", written on the (K, K) Gram matrix:
    a corral S (affinely independent tasks) and its point w; a major step adds the task j of
    least ⟨d, g_j⟩ (d = Σ w_k g_k) unless the duality gap ⟨d, d⟩ − ⟨d, g_j⟩ is within float
    rounding of the objective (K·eps·‖d‖²) or j is already in S; a minor step moves w to the affine minimiser of S, or as far
    as the simplex allows and drops the task that reached 0. Each step solves one (K+1)-sized
    KKT system (with one round of iterative refinement), so it is exact up to that solve's
    rounding whatever the conditioning, and it stops on the gap, not on an iteration count; it
    ends in finitely many steps (typically a few K); `max_iters` only caps a pathological case.

    Returns:
      w: (K,) on the simplex; steps: () int32, the steps taken.
    """
    k = G.shape[0]
    dtype = G.dtype
    eps = k * jnp.finfo(dtype).eps
    first = jnp.argmin(jnp.diag(G))
    rhs = jnp.zeros((k + 1,), dtype).at[k].set(1.0)

    # Jacobi scaling of the KKT system: one gradient 100× the others makes G's diagonal span
    # 1e4, and the unscaled float32 solve loses the small residual d that MGDA is after.
    diag = jnp.diag(G)
    inv_norm = jnp.where(diag > _TINY, 1.0 / jnp.sqrt(jnp.where(diag > _TINY, diag, 1.0)), 1.0)
    scaling = jnp.concatenate([inv_norm, jnp.ones((1,), dtype)])

    def affine_minimiser(S):
        s = S.astype(dtype)
        M = G * jnp.outer(s, s) + jnp.diag(1.0 - s)
        kkt = jnp.block([[M, s[:, None]], [s[None, :], jnp.zeros((1, 1), dtype)]])
        kkt = kkt * jnp.outer(scaling, scaling)
        b = rhs * scaling
        y = jnp.linalg.solve(kkt, b)
        y = y + jnp.linalg.solve(kkt, b - kkt @ y)
        return (y * scaling)[:k] * s

    def body(carry):
        w, S, steps, _ = carry
        alpha = affine_minimiser(S)
        interior = jnp.all(jnp.where(S, alpha > 0, True))
        # major step (alpha is inside the simplex): w = alpha, then add the most violated task
        Gw = G @ alpha
        j = jnp.argmin(Gw)
        dd = alpha @ Gw
        optimal = (dd - Gw[j] <= eps * dd) | S[j]
        # minor step: move towards alpha until a weight reaches 0, and drop that task
        leaving = S & (alpha <= 0)
        ratios = jnp.where(leaving, w / jnp.where(leaving, w - alpha, 1.0), jnp.inf)
        i = jnp.argmin(ratios)
        moved = (w + ratios[i] * (alpha - w)).at[i].set(0.0)
        w_next = jnp.where(interior, alpha, moved)
        S_next = jnp.where(interior, S.at[j].set(True), S & (moved > 0))
        done = interior & optimal
        return jnp.where(done, alpha, w_next), jnp.where(done, S, S_next), steps + 1, done

    w0 = jax.nn.one_hot(first, k, dtype=dtype)
    w, _, steps, _ = jax.lax.while_loop(
        lambda c: (~c[3]) & (c[2] < max_iters), body, (w0, w0 > 0, jnp.zeros((), jnp.int32), jnp.zeros((), bool))
    )
    w = jnp.maximum(w, 0.0)
    return w / jnp.sum(w), steps


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


