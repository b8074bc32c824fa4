"""The market series' spectrum (paper eq. 12): TimesNet's candidate periods Q and their weights.

Q is static (it fixes the shapes of the period × phase tensors), so it is chosen once, at
data-prep time, from the training data's spectrum (`dominant_periods`); at run time each window
weights the fixed Q by its own amplitudes (`period_weights`).

The `trailing_*` functions give the same statistics for the window of H ticks ending at every
position of a series at once (a series is zero before its first tick), in O(L) per series:
windowed sums are differences of prefix sums, so position i reads ticks ≤ i only.
"""

from __future__ import annotations

from typing import Sequence

import chex
import jax
import jax.numpy as jnp
import numpy as np


def standardize(series: chex.Array, eps: float = 1e-5) -> chex.Array:
    """Each window and feature to zero mean, unit variance over its H ticks.

    Market series have arbitrary scales (volume vs price); the temporal modules read shapes of
    the series, and the state features carry their levels.

    Args:
      series: (..., H, F).

    Returns:
      (..., H, F) standardised series.
    """
    mean = series.mean(axis=-2, keepdims=True)
    std = series.std(axis=-2, keepdims=True)
    return (series - mean) / (std + eps)


def amplitude(series: chex.Array) -> chex.Array:
    """S(f) of eq. 12, averaged over features.

    Args:
      series: (..., H, F) real series, oldest tick first.

    Returns:
      (..., H // 2 + 1) amplitudes |Σ_h x_h e^{-2πi f h / H}| for f = 0 .. H // 2.
    """
    return jnp.abs(jnp.fft.rfft(series, axis=-2)).mean(axis=-1)


def period_weights(series: chex.Array, periods: Sequence[int]) -> chex.Array:
    """Per-window weights over the candidate periods: softmax of the amplitudes at f = H // q.

    Args:
      series: (..., H, F) market history.
      periods: Q, static candidate periods (each in [2, H]).

    Returns:
      (..., |Q|) weights summing to 1, in the order of `periods`.
    """
    h = series.shape[-2]
    frequencies = np.asarray([h // q for q in periods])
    return jax.nn.softmax(amplitude(series)[..., frequencies], axis=-1)


def trailing_sum(series: chex.Array, window: int) -> chex.Array:
    """Σ of the `window` positions ending at each position (zeros before the start).

    Args:
      series: (..., L, F).
      window: H ≥ 1.

    Returns:
      (..., L, F); entry i is Σ_{h=i−H+1}^{i} series[h].
    """
    total = jnp.cumsum(series, axis=-2)
    pad = [(0, 0)] * (series.ndim - 2) + [(window, 0), (0, 0)]
    return total - jnp.pad(total, pad)[..., : series.shape[-2], :]


def trailing_moments(series: chex.Array, window: int) -> tuple[chex.Array, chex.Array]:
    """Mean and (population) std of the H-tick window ending at each position.

    Args:
      series: (..., L, F), zero before its first tick.
      window: H.

    Returns:
      (mean, std), each (..., L, F).
    """
    mean = trailing_sum(series, window) / window
    var = trailing_sum(jnp.square(series), window) / window - jnp.square(mean)
    return mean, jnp.sqrt(jnp.maximum(var, 0.0))


def trailing_standardize(series: chex.Array, window: int, eps: float = 1e-5) -> chex.Array:
    """Each tick standardised by the moments of the H-tick window that it ends (causal).

    Args:
      series: (..., L, F).
      window: H.

    Returns:
      (..., L, F).
    """
    mean, std = trailing_moments(series, window)
    return (series - mean) / (std + eps)


def trailing_period_weights(series: chex.Array, window: int, periods: Sequence[int],
                            eps: float = 1e-5) -> chex.Array:
    """`period_weights` of the H-tick window ending at every position, by a sliding DFT.

    For f ≥ 1 the DFT ignores the window's mean, so the amplitude of the standardised window is
    |Σ_h x_h e^{−2πi f h / H}| / (std + eps); and |Σ_h x_{i−H+1+h} e^{−2πi f h / H}| equals
    |Σ_{s=i−H+1}^{i} x_s e^{−2πi f s / H}|, a windowed sum of one fixed rotating series.

    Args:
      series: (..., L, F), zero before its first tick.
      window: H.
      periods: Q, static (each in [2, H]).

    Returns:
      (..., L, |Q|): entry i equals `period_weights(window ending at i, periods)`.
    """
    length = series.shape[-2]
    frequencies = np.asarray([window // q for q in periods])
    # The angle mod 2π in exact integers, so that it does not lose precision on long series.
    turns = (frequencies[:, None] * np.arange(length)[None, :]) % window / window  # (Q, L)
    angle = jnp.asarray(2 * np.pi * turns.T, jnp.float32)[:, None, :]  # (L, 1, Q)
    x = series[..., None]  # (..., L, F, 1)
    shape = series.shape[:-1] + (-1,)
    real = trailing_sum((x * jnp.cos(angle)).reshape(shape), window)
    imag = trailing_sum((x * jnp.sin(angle)).reshape(shape), window)
    magnitude = jnp.sqrt(jnp.square(real) + jnp.square(imag)).reshape(series.shape + (len(periods),))
    _, std = trailing_moments(series, window)
    amp = (magnitude / (std[..., None] + eps)).mean(axis=-2)  # (..., L, Q)
    return jax.nn.softmax(amp, axis=-1)


def dominant_periods(series, k: int, max_period: int | None = None) -> tuple[int, ...]:
    """TimesNet's Q: the periods of the k largest amplitudes of a market series (numpy).

    Frequency 0 (the mean) is excluded; a frequency f of a length-L series is the period L // f.
    Frequencies that round to an already chosen period, or to a period above `max_period`
    (use the model's history_len: a period must fit in the window), are skipped.

    Args:
      series: (L,) or (L, F) market series of the training days, oldest first.
      k: number of periods to return.
      max_period: largest admissible period (default L // 2).

    Returns:
      k distinct periods, strongest first.
    """
    x = np.asarray(series, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise ValueError(f"series must be (L,) or (L, F), got shape {x.shape}.")
    length = x.shape[0]
    x = (x - x.mean(axis=0)) / (x.std(axis=0) + 1e-8)
    amp = np.abs(np.fft.rfft(x, axis=0)).mean(axis=1)
    max_period = length // 2 if max_period is None else max_period
    periods: list[int] = []
    for f in np.argsort(-amp[1:], kind="stable") + 1:
        q = int(length // f)
        if 2 <= q <= max_period and q not in periods:
            periods.append(q)
        if len(periods) == k:
            return tuple(periods)
    raise ValueError(
        f"only {len(periods)} distinct periods ≤ max_period={max_period} in a series of "
        f"length {length}; ask for fewer than k={k}."
    )
