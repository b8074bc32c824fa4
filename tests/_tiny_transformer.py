"""A minimal causal Transformer regressor over a mixed-task batch, for tests and benchmarks.

It is deliberately independent of `vamo_jax.models` so that `vamo_jax.mtl` can be checked and
timed on a real Flax model without the bidding stack.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from vamo_jax.mtl.losses import task_losses


class TinyCausalTransformer(nn.Module):
    """Inputs (B, T, D) -> predictions (B, T); causal self-attention, pre-norm blocks."""

    width: int = 32
    depth: int = 2
    heads: int = 2

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        t = x.shape[1]
        h = nn.Dense(self.width)(x) + self.param("pos", nn.initializers.normal(0.02), (t, self.width))
        mask = nn.make_causal_mask(jnp.ones(x.shape[:2]))
        for _ in range(self.depth):
            y = nn.LayerNorm()(h)
            h = h + nn.MultiHeadDotProductAttention(num_heads=self.heads)(y, y, mask=mask)
            y = nn.LayerNorm()(h)
            h = h + nn.Dense(self.width)(nn.gelu(nn.Dense(4 * self.width)(y)))
        return nn.Dense(1)(nn.LayerNorm()(h))[..., 0]


def mixed_batch(key: jax.Array, batch: int, seq: int, features: int, num_tasks: int):
    """A regression batch whose targets depend on the task: (x (B,T,D), y (B,T), task (B,))."""
    kx, kw = jax.random.split(key)
    x = jax.random.normal(kx, (batch, seq, features))
    task = jnp.arange(batch) % num_tasks
    w = jax.random.normal(kw, (num_tasks, features))
    y = jnp.cumsum(jnp.einsum("btd,bd->bt", x, w[task]), axis=1) / jnp.sqrt(jnp.arange(1, seq + 1))
    return x, y, task


def make_task_losses_fn(model: nn.Module, x, y, task, num_tasks: int):
    """params -> (K,) per-task mean squared errors on the batch."""

    def task_losses_fn(params):
        per_example = jnp.mean((model.apply(params, x) - y) ** 2, axis=1)
        return task_losses(per_example, task, num_tasks)

    return task_losses_fn
