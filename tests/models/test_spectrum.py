import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vamo_jax.models import dominant_periods, period_weights
from vamo_jax.models.spectrum import amplitude, standardize, trailing_period_weights, trailing_standardize

H = 192
PERIODS = (96, 48, 24)


def planted(period, length=H, seed=0):
    """Three market features: a strong planted period, weaker other periods, noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(length)[:, None]
    others = [q for q in PERIODS if q != period]
    x = (2.0 * np.sin(2 * np.pi * t / period + rng.uniform(0, 6, 3))
         + 0.5 * np.sin(2 * np.pi * t / others[0]) + 0.3 * np.cos(2 * np.pi * t / others[1])
         + 0.3 * rng.normal(size=(length, 3)) + 5.0)
    return x.astype(np.float32)


def test_amplitude_is_eq_12():
    x = planted(96)
    f = np.arange(H // 2 + 1)[:, None]
    h = np.arange(H)[None, :]
    direct = np.abs(np.exp(-2j * np.pi * f * h / H) @ x).mean(axis=1)
    np.testing.assert_allclose(amplitude(jnp.asarray(x)), direct, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("period", PERIODS)
def test_top_weight_lands_on_the_planted_period(period):
    history = jnp.stack([planted(period, seed=s) for s in range(4)]).reshape(2, 2, H, 3)
    weights = jax.jit(period_weights, static_argnums=1)(history, PERIODS)
    assert weights.shape == (2, 2, 3)
    np.testing.assert_allclose(weights.sum(-1), 1.0, rtol=1e-6)
    assert (np.argmax(np.asarray(weights), axis=-1) == PERIODS.index(period)).all()


def test_dominant_periods_of_a_diurnal_series():
    days = 8
    series = np.concatenate([planted(96, 96 * days, seed=1)], axis=0)
    assert dominant_periods(series, 2, max_period=H) == (96, 48)
    assert dominant_periods(series[:, 0], 1) == (96,)


def test_dominant_periods_respects_max_period():
    t = np.arange(960)
    series = 3 * np.sin(2 * np.pi * t / 480) + np.sin(2 * np.pi * t / 24)
    assert dominant_periods(series, 1, max_period=192) == (24,)
    with pytest.raises(ValueError, match="distinct periods"):
        dominant_periods(series[:8], 5)


def zero_padded_windows(series, window):
    """(L, H, F): the window of H ticks ending at each tick, zeros before the series' start."""
    padded = np.concatenate([np.zeros((window - 1, series.shape[1]), series.dtype), series])
    return np.stack([padded[i: i + window] for i in range(len(series))])


def test_trailing_statistics_are_those_of_each_window():
    series = planted(48, length=300)
    windows = zero_padded_windows(series, H)
    weights = jax.jit(trailing_period_weights, static_argnums=(1, 2))(jnp.asarray(series), H, PERIODS)
    standardized = standardize(jnp.asarray(windows))
    np.testing.assert_allclose(weights, period_weights(standardized, PERIODS), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(trailing_standardize(jnp.asarray(series), H), standardized[:, -1],
                               rtol=1e-3, atol=1e-3)
