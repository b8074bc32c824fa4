"""TimesNet temporal module (Wu et al., 2023; paper §3.2 eq. 12–13), causal over whole market series.

z_t reads the market ticks before tick t, which every advertiser of a market shares and which
consecutive ticks share but one. So instead of one H-tick window per batch tick (each its own FFT
and Inception pass), the module runs once over each market series of the batch's table (an
episode's days end to end) and gives every tick's features in one causal pass; the batch's ticks
gather theirs. The cost grows with the table, not with B × C.

Periods are aligned to the series itself: the period-q grid of a series is its raster of rows of
q ticks (row = cycle, column = phase), read as a helix, so the tick left of phase 0 is the
previous cycle's last phase (the previous tick), as in the series. A k × k kernel on that grid is
then a 1-D kernel with taps at lags i·q + j (|i|, |j| ≤ k // 2), the same at every tick, and
keeping only the taps at or before the centre in raster order (i < 0, or i = 0 and j ≤ 0:
PixelCNN's mask) makes it causal. Per tick, softmax(S(H // q)) of the H-tick window it ends
(eq. 12, by a sliding DFT) weights the periods' outputs (eq. 13).
"""

from __future__ import annotations

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from vamo_jax.models import spectrum


def causal_taps(kernel_size: int) -> tuple[tuple[int, int], ...]:
    """(cycle, phase) offsets of a k × k kernel at or before its centre in raster order."""
    r = kernel_size // 2
    return tuple((i, j) for i in range(-r, 1) for j in range(-r, r + 1) if i < 0 or j <= 0)


def delayed(series: chex.Array, lags: tuple[int, ...]) -> chex.Array:
    """series: (N, L, D) -> (N, L, len(lags) · D): the series delayed by each lag ≥ 0, zeros first."""
    length, reach = series.shape[1], max(lags)
    padded = jnp.pad(series, ((0, 0), (reach, 0), (0, 0)))
    return jnp.concatenate([padded[:, reach - lag: reach - lag + length] for lag in lags], axis=-1)


class Inception(nn.Module):
    """Parallel causal k × k convolutions on the period × phase grid, averaged (Szegedy et al., 2015).

    The average of the branches is one kernel, the average of the zero-padded branch kernels,
    applied as one matrix product over the delayed series (im2col): XLA:CPU runs `conv` ops about
    8× slower inside a `while` loop (`lax.scan` over training steps) than outside one.

    Attributes:
      features: output channels.
      kernel_sizes: odd square kernel sizes, e.g. (1, 3, 5).
    """

    features: int
    kernel_sizes: tuple[int, ...]

    @nn.compact
    def __call__(self, series: chex.Array, period: int) -> chex.Array:
        """series: (N, L, D) -> (N, L, features); position i reads positions ≤ i only."""
        width = series.shape[-1]
        taps = causal_taps(max(self.kernel_sizes))
        kernel = 0.0
        for k in self.kernel_sizes:
            own = causal_taps(k)
            branch = self.param(f"kernel{k}", nn.initializers.lecun_normal(),
                                (len(own), width, self.features))
            kernel += jnp.zeros((len(taps), width, self.features)).at[
                np.asarray([taps.index(t) for t in own])].set(branch)
        kernel /= len(self.kernel_sizes)
        bias = self.param("bias", nn.initializers.zeros, (self.features,))
        lags = tuple(-(i * period + j) for i, j in taps)
        return delayed(series, lags) @ kernel.reshape(len(taps) * width, self.features) + bias


class TimesNet(nn.Module):
    """One causal TimesBlock over each market series, pooled per tick and gathered to z_t (eq. 13).

    Per position i of a series: the tick standardised by its trailing H-tick window, embedded;
    for each period q ∈ Q, a shared Inception block, GELU, Inception block on the period-q grid;
    the periods' outputs mixed by the weights of the window ending at i and added to the input
    (residual), layer-normalised to u_i. The features after position i are the mean of u over
    the H positions ending at i and u_i itself (the newest tick carries the phase the next bid
    falls in), projected to E.

    Attributes:
      periods: Q, static candidate periods (each ≥ max(kernel_sizes) // 2, so that no tap reads
        a later tick).
      width: channels D of the grids.
      embed_dim: E, width of z_t.
      kernel_sizes: the Inception block's kernel sizes.
      history_len: H, the window of the period weights, the standardisation and the pooling.
    """

    periods: tuple[int, ...]
    width: int
    embed_dim: int
    kernel_sizes: tuple[int, ...]
    history_len: int

    @nn.compact
    def __call__(self, market: chex.Array, market_index: chex.Array) -> chex.Array:
        """market: (P, L, F) series, oldest first; market_index: (B, C) flat index into the
        P · L ticks of the newest tick before each tick -> z: (B, C, E)."""
        p, length, _ = market.shape
        h = self.history_len
        weights = spectrum.trailing_period_weights(market, h, self.periods)  # (P, L, Q)
        series = nn.Dense(self.width, name="value_embedding")(spectrum.trailing_standardize(market, h))
        inception_in = Inception(self.width, self.kernel_sizes, name="inception_in")
        inception_out = Inception(self.width, self.kernel_sizes, name="inception_out")
        per_period = jnp.stack([inception_out(jax.nn.gelu(inception_in(series, q)), q)
                                for q in self.periods])  # (Q, P, L, D)
        mixed = jnp.einsum("plq,qpld->pld", weights, per_period)
        u = nn.LayerNorm(name="norm")(series + mixed)
        pooled = jnp.concatenate([spectrum.trailing_sum(u, h) / h, u], axis=-1)  # (P, L, 2D)
        gathered = pooled.reshape(p * length, 2 * self.width)[market_index]
        z = nn.Dense(self.embed_dim, name="project")(gathered)
        chex.assert_shape(z, market_index.shape + (self.embed_dim,))
        return z


def receptive_field(history_len: int, periods: tuple[int, ...], kernel_sizes: tuple[int, ...]) -> int:
    """The ticks, ending at the newest one before t, that z_t depends on.

    The standardisation and the period weights read H ticks, each Inception layer reaches back
    r · (max Q + 1) with r = max kernel // 2, and the pooling H ticks of those.
    """
    r = max(kernel_sizes) // 2
    return 2 * (history_len - 1) + 2 * r * (max(periods) + 1) + 1
