"""PCGrad (Yu et al. 2020): project each task gradient off the gradients it conflicts with."""

from __future__ import annotations

from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp
import optax

from vamo_jax.mtl.weighting import _common


class PCGradState(NamedTuple):
    """Attributes: count () int32; weights (K,) effective weights of the last output
    (d = Σ_k weights_k g_k); key (2,) uint32 raw PRNG key data for the task orders."""

    count: chex.Array
    weights: chex.Array
    key: chex.Array


def pcgrad_weights(G: chex.Array, orders: chex.Array) -> chex.Array:
    """Effective weights of PCGrad's output for Gram matrix G (K, K) and per-task orders (K, K).

    Every projected gradient is a combination Σ_j c_ij g_j of the originals, so the projections
    run on the K×K coefficients: for task i, over j in orders[i], if ⟨g_i^PC, g_j⟩ < 0 then
    g_i^PC ← g_i^PC − ⟨g_i^PC, g_j⟩/‖g_j‖² g_j. The output is (1/K) Σ_i g_i^PC.
    """
    k = G.shape[0]
    diag = jnp.diag(G)

    def project_task(i, order):
        def body(p, c):
            j = order[p]
            dot = c @ G[:, j]
            coef = jnp.where((dot < 0) & (diag[j] > 0), dot / jnp.where(diag[j] > 0, diag[j], 1.0), 0.0)
            return c.at[j].add(-coef)

        return jax.lax.fori_loop(0, k, body, jax.nn.one_hot(i, k, dtype=G.dtype))

    coeffs = jax.vmap(project_task)(jnp.arange(k), orders)
    return jnp.mean(coeffs, axis=0)


def pcgrad(num_tasks: int, seed: int = 0) -> optax.GradientTransformationExtraArgs:
    """d = (1/K) Σ_i g_i^PC, each g_i projected in a fresh random order on the normal planes of
    the g_j it conflicts with (⟨g_i^PC, g_j⟩ < 0).

    The reference shuffles the tasks anew for every g_i at every step; so do we, from the key in
    the state (seeded by `seed`), with one `fori_loop` per task under `vmap`. Averaging (the
    reference's `reduction="mean"`) gives the scale convention: identical gradients g never
    conflict and the output is g. For K = 2 the output has a non-negative inner product with
    both task gradients.

    Args:
      num_tasks: K.
      seed: int seed of the task-order key (default 0).

    Reference: Yu et al., "Gradient Surgery for Multi-Task Learning", NeurIPS 2020.
    """
    _common.check_positive_int("num_tasks", num_tasks)
    _common.check_positive_int("seed", seed, minimum=0)

    def init_fn(params):
        del params
        return PCGradState(
            jnp.zeros((), jnp.int32), jnp.full((num_tasks,), 1.0 / num_tasks, jnp.float32), _common.key_data(seed)
        )

    def update_fn(updates, state, params=None, **extra_args):
        del params
        _common.check_extra_args(extra_args)
        _common.check_stacked(updates, num_tasks)
        key, sub = jax.random.split(jax.random.wrap_key_data(state.key))
        orders = jax.vmap(lambda kk: jax.random.permutation(kk, num_tasks))(jax.random.split(sub, num_tasks))
        w = pcgrad_weights(_common.gram(updates), orders)
        return _common.combine(updates, w), PCGradState(state.count + 1, w, jax.random.key_data(key))

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)
