"""The market series' spectrum (paper eq. 12): TimesNet's candidate periods Q and their weights.

Q is static (it fixes the shapes of the period × phase tensors), so it is chosen once, at
data-prep time, from the training data's spectrum (`dominant_periods`); at run time each window
weights the fixed Q by its own amplitudes (`period_weights`).
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
