"""TimesNet temporal module (Wu et al., 2023; paper §3.2 eq. 12–13): z_t from the market history."""

from __future__ import annotations

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp

from vamo_jax.models import spectrum


class Inception(nn.Module):
    """Parallel 2-D convolutions of several kernel sizes, averaged (Szegedy et al., 2015).

    The average of SAME-padded convolutions is one convolution whose kernel is the average of
    the zero-padded kernels, applied here as one matrix product over the stacked shifted grids (im2col):
    XLA:CPU runs `conv` ops about 8× slower inside a `while` loop (`lax.scan` over training
    steps) than outside one, while matrix products keep their speed.

    Attributes:
      features: output channels.
      kernel_sizes: odd square kernel sizes, e.g. (1, 3, 5).
    """

    features: int
    kernel_sizes: tuple[int, ...]

    @nn.compact
    def __call__(self, grid: chex.Array) -> chex.Array:
        """grid: (N, rows, period, D) -> (N, rows, period, features)."""
        _, rows, cols, width = grid.shape
        size = max(self.kernel_sizes)
        kernel = 0.0
        for k in self.kernel_sizes:
            branch = self.param(f"kernel{k}", nn.initializers.lecun_normal(),
                                (k, k, width, self.features))
            edge = (size - k) // 2
            kernel += jnp.pad(branch, ((edge, edge), (edge, edge), (0, 0), (0, 0)))
        kernel /= len(self.kernel_sizes)
        bias = self.param("bias", nn.initializers.zeros, (self.features,))
        r = size // 2
        padded = jnp.pad(grid, ((0, 0), (r, r), (r, r), (0, 0)))
        patches = jnp.concatenate(
            [padded[:, i:i + rows, j:j + cols] for i in range(size) for j in range(size)], axis=-1
        )  # (N, rows, period, size² · D), tap-major like the kernel's reshape
        return patches @ kernel.reshape(size * size * width, self.features) + bias


class TimesNet(nn.Module):
    """One TimesBlock over the history window of every tick, pooled to z_t (eq. 13).

    For each static period q ∈ Q, the embedded window is front-padded to q·⌈H/q⌉ ticks (so the
    newest tick ends a period row) and reshaped to a ⌈H/q⌉ × q (cycle × phase) grid: columns
    hold the same phase of successive cycles, rows the ticks of one cycle. A shared Inception
    block convolves every grid; the results, back on the H ticks, are averaged with the
    window's own weights softmax(S(H // q)) (eq. 12) and added to the input (residual).

    Attributes:
      periods: Q, static candidate periods.
      width: channels D of the grids.
      embed_dim: E, width of z_t.
      kernel_sizes: the Inception block's kernel sizes.
    """

    periods: tuple[int, ...]
    width: int
    embed_dim: int
    kernel_sizes: tuple[int, ...]

    @nn.compact
    def __call__(self, history: chex.Array) -> chex.Array:
        """history: (B, C, H, F), the H ticks before each tick, oldest first -> z: (B, C, E)."""
        b, c, h, f = history.shape
        x = spectrum.standardize(history.reshape(b * c, h, f))
        weights = spectrum.period_weights(x, self.periods)  # (N, Q)
        series = nn.Dense(self.width, name="value_embedding")(x)  # (N, H, D)
        inception_in = Inception(self.width, self.kernel_sizes, name="inception_in")
        inception_out = Inception(self.width, self.kernel_sizes, name="inception_out")
        per_period = []
        for period in self.periods:
            cycles = -(-h // period)
            pad = cycles * period - h
            grid = jnp.pad(series, ((0, 0), (pad, 0), (0, 0)))
            grid = grid.reshape(b * c, cycles, period, self.width)
            grid = inception_out(jax.nn.gelu(inception_in(grid)))
            per_period.append(grid.reshape(b * c, cycles * period, self.width)[:, pad:])
        mixed = jnp.einsum("nq,qnhd->nhd", weights, jnp.stack(per_period))
        series = nn.LayerNorm(name="norm")(series + mixed)
        # The mean sees every cycle; the newest tick carries the phase the next bid falls in.
        pooled = jnp.concatenate([series.mean(axis=1), series[:, -1]], axis=-1)
        z = nn.Dense(self.embed_dim, name="project")(pooled).reshape(b, c, self.embed_dim)
        chex.assert_shape(z, (b, c, self.embed_dim))
        return z
