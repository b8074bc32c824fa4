"""Theorem 1 of the paper on a smooth problem: the running mean of ‖g_val‖² falls to a floor O(λ).

Tasks are quadratics L_k(θ) = ½‖θ − c_k‖²; the validation loss is ½‖θ − v‖² with v inside the hull
of the centres but away from their mean. VAMO with refresh every step drives θ toward v; the
entropy term keeps the weights off the optimal simplex point, by an amount that grows with λ.
As λ → ∞ (equal weights) θ → mean_k c_k and the floor is ‖mean_k c_k − v‖².
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from vamo_jax.mtl import VamoHyperparams, vamo_gradient
from vamo_jax.mtl.vamo import init_state


def quadratic_problem(num_tasks: int = 3, dim: int = 4, seed: int = 0):
    """(centres (K, d), v (d,)): v = 0.7 c_0 + 0.3 c_1."""
    centres = jnp.asarray(np.random.default_rng(seed).normal(size=(num_tasks, dim)) * 2, jnp.float32)
    return centres, 0.7 * centres[0] + 0.3 * centres[1]


def running_val_grad_sq(temperatures: jax.Array, centres: jax.Array, v: jax.Array, steps: int, lr: float = 0.05):
    """(L, steps) running means (1/I) Σ_{i<I} ‖g_val,i‖² for each temperature (vmapped)."""
    num_tasks, dim = centres.shape

    def task_losses_fn(params):
        return 0.5 * jnp.sum((params[None] - centres) ** 2, axis=1)

    def one(temperature):
        hp = VamoHyperparams(num_tasks, temperature=lambda _: temperature, update_every=1)

        def body(carry, _):
            theta, state = carry
            val_grad = theta - v
            grad, state, _ = vamo_gradient(task_losses_fn, theta, state, hp, val_grad=val_grad, refresh=True)
            return (theta - lr * grad, state), jnp.sum(val_grad**2)

        _, sq = jax.lax.scan(body, (jnp.zeros(dim), init_state(num_tasks)), None, length=steps)
        return jnp.cumsum(sq) / jnp.arange(1, steps + 1)

    return jax.vmap(one)(temperatures)
