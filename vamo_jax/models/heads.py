"""Task-specific generators f_θk (paper §3.2): per-task MLPs stacked on a leading axis K."""

from __future__ import annotations

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp


class TaskHeads(nn.Module):
    """A two-layer MLP per task; each example uses the head of its own task.

    The K heads' parameters are stacked on a leading axis and gathered by the task id inside
    the computation (no Python branch on the task), so one compiled function serves any mix of
    tasks. With `per_task=False` there is one head (a leading axis of 1) shared by all tasks.

    Attributes:
      num_tasks: K.
      features: output width.
      hidden: hidden width.
      per_task: one head per task (True) or one shared head (False).
    """

    num_tasks: int
    features: int
    hidden: int
    per_task: bool

    @nn.compact
    def __call__(self, inputs: chex.Array, task: chex.Array) -> chex.Array:
        """inputs: (B, C, I), task: (B,) int in [0, K) -> (B, C, features)."""
        b, _, width = inputs.shape
        chex.assert_shape(task, (b,))
        num_heads = self.num_tasks if self.per_task else 1
        head = task if self.per_task else jnp.zeros_like(task)
        init = nn.initializers.lecun_normal(in_axis=-2, out_axis=-1, batch_axis=(0,))
        w1 = self.param("w1", init, (num_heads, width, self.hidden))
        b1 = self.param("b1", nn.initializers.zeros, (num_heads, self.hidden))
        w2 = self.param("w2", init, (num_heads, self.hidden, self.features))
        b2 = self.param("b2", nn.initializers.zeros, (num_heads, self.features))
        w1, b1, w2, b2 = (jnp.take(p, head, axis=0) for p in (w1, b1, w2, b2))
        hidden = jax.nn.gelu(jnp.einsum("bci,bio->bco", inputs, w1) + b1[:, None])
        return jnp.einsum("bch,bho->bco", hidden, w2) + b2[:, None]
