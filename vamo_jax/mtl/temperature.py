"""VAMO's temperature λ: the weights softmax(m / λ), a λ schedule, and λ matched to a weight entropy.

`task_weights(m, λ)` is eq. 9 itself; it lives here, below `vamo.py`, so that both VAMO and the
entropy-matched λ use it without importing each other.

The paper fixes λ (= 1, §4.1) and ablates it (Fig. 4). Two ways to let it move:
  * `exponential_schedule(start, end, steps)`: λ_t = start · (end / start)^{min(t / steps, 1)},
    a `count -> λ` callable for `VamoHyperparams(temperature=...)`;
  * `entropy_matched_temperature(m, target)`: at each refresh, the λ whose weights
    softmax(m / λ) have entropy `target` (in nats). The entropy of softmax(m / λ) rises
    monotonically from that of the argmax set (λ → 0) to log K (λ → ∞), so λ is found by
    bisection on log λ; it is a pure function of m, so no state is added. It makes λ
    scale-free: raw alignments m ∝ ‖g‖² shrink during training, which at a fixed λ drifts
    the weights to uniform; a fixed entropy keeps the weights equally decisive throughout.
"""

from __future__ import annotations

from typing import Callable

import chex
import jax
import jax.numpy as jnp


def exponential_schedule(start: float, end: float, steps: int) -> Callable[[chex.Numeric], chex.Numeric]:
    """count -> λ, geometric from `start` at count 0 to `end` at `steps`, then constant."""
    if not (start > 0 and end > 0 and steps >= 1):
        raise ValueError(f"exponential_schedule needs start, end > 0 and steps ≥ 1, got {start}, {end}, {steps}.")

    def schedule(count):
        frac = jnp.clip(jnp.asarray(count, jnp.float32) / steps, 0.0, 1.0)
        return start * (end / start) ** frac

    return schedule


def task_weights(alignment: chex.Array, temperature: chex.Numeric) -> chex.Array:
    """w = softmax(m / λ) (eq. 9), finite for every λ > 0 including λ → 0 and λ = ∞.

    Args:
      alignment: (K,) m.
      temperature: λ > 0.

    Returns:
      (K,) a point of the simplex: the argmax set shares the mass as λ → 0, uniform as λ → ∞.
    """
    shifted = alignment - jnp.max(alignment)
    logits = jnp.where(shifted == 0, 0.0, shifted / temperature)
    return jax.nn.softmax(logits)


def weight_entropy(weights: chex.Array) -> chex.Array:
    """H(w) = −Σ_k w_k log w_k in nats (0 log 0 = 0)."""
    return -jnp.sum(jnp.where(weights > 0, weights * jnp.log(jnp.where(weights > 0, weights, 1.0)), 0.0))


def entropy_matched_temperature(alignment: chex.Array, target_entropy: chex.Numeric,
                                iterations: int = 60) -> chex.Array:
    """The λ > 0 with H(softmax(m / λ)) = target_entropy, by bisection on log λ.

    Args:
      alignment: (K,) m.
      target_entropy: in nats, within (0, log K); outside, λ goes to the bracket's end.
      iterations: bisection steps over log λ ∈ [log(1e-6 s), log(1e6 s)], s = spread of m.

    Returns:
      () λ; the largest bracket end when every m_k is equal (any λ gives uniform weights).
    """
    m = jnp.asarray(alignment, jnp.float32)
    scale = jnp.maximum(jnp.max(m) - jnp.min(m), 1e-30)
    lo, hi = jnp.log(1e-6 * scale), jnp.log(1e6 * scale)

    def body(_, bracket):
        lo, hi = bracket
        mid = 0.5 * (lo + hi)
        too_sharp = weight_entropy(task_weights(m, jnp.exp(mid))) < target_entropy
        return jnp.where(too_sharp, mid, lo), jnp.where(too_sharp, hi, mid)

    lo, hi = jax.lax.fori_loop(0, iterations, body, (lo, hi))
    return jnp.exp(0.5 * (lo + hi))
