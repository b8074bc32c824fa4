"""A recurrent temporal baseline (the `temporal="lstm"` ablation): z_t from an LSTM over the history."""

from __future__ import annotations

import chex
import flax.linen as nn

from vamo_jax.models import spectrum


class HistoryLSTM(nn.Module):
    """An LSTM reads each tick's H-tick market window; its last hidden state, projected, is z_t.

    Attributes:
      width: LSTM hidden size.
      embed_dim: E, width of z_t.
    """

    width: int
    embed_dim: int

    @nn.compact
    def __call__(self, history: chex.Array) -> chex.Array:
        """history: (B, C, H, F), oldest first -> z: (B, C, E)."""
        b, c, h, f = history.shape
        x = spectrum.standardize(history.reshape(b * c, h, f))
        last = nn.RNN(nn.OptimizedLSTMCell(self.width), return_carry=True)(x)[0][1]
        z = nn.Dense(self.embed_dim, name="project")(last).reshape(b, c, self.embed_dim)
        chex.assert_shape(z, (b, c, self.embed_dim))
        return z
