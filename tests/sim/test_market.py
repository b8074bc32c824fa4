"""Time structure: a planted 96-tick period, and a measurable task-specific day shift."""

import jax
import jax.numpy as jnp
import numpy as np
from scipy import stats

from vamo_jax.sim import market
from tests.sim.conftest import PARAMS, WORLD, simulate_days

T = PARAMS.ticks_per_day


def test_volume_fft_peaks_at_one_day():
    h = jnp.zeros((PARAMS.history_len, 3))
    days = jnp.arange(1, 5)
    keys = jax.random.split(jax.random.key(11), 4)
    _, traj, _ = simulate_days(keys, days, jnp.zeros(8, bool), jnp.float32(1.0), h)
    volume = np.asarray(traj.market[..., 0]).reshape(-1)  # 4 days of per-tick volume
    amp = np.abs(np.fft.rfft(volume - volume.mean()))
    freq = np.argmax(amp[1:]) + 1
    assert len(volume) / freq == T


def _day_values(day):
    """Expected channel values of every arriving impression of `day`, per task's advertisers."""
    drift = market.draw_block_drift(jax.random.key(day), PARAMS)
    keys = jax.random.split(jax.random.key(100 + day), T)

    def one(k, t):
        imps = market.draw_impressions(k, PARAMS, WORLD, WORLD.regime[day], drift, t)
        return imps.expected_values(), imps.valid

    ev, valid = jax.jit(jax.vmap(one))(keys, jnp.arange(T))
    ev, valid = np.asarray(ev), np.asarray(valid)
    task = np.asarray(WORLD.campaign)
    return [ev[..., task == k, k][valid].reshape(-1) for k in range(3)]


def test_day_shift_is_measurable_and_task_specific():
    v9, v10 = _day_values(9), _day_values(10)
    ratios = []
    for k in range(3):
        ks = stats.ks_2samp(v9[k], v10[k])
        assert ks.pvalue < 1e-3, (k, ks)
        ratios.append(np.mean(v10[k]) / np.mean(v9[k]))
    # The regime moves each channel by its own factor, not one common factor.
    assert np.ptp(np.log(ratios)) > 0.05, ratios
    shift = np.asarray(WORLD.regime[10, :3] - WORLD.regime[9, :3])
    assert np.ptp(shift) > 0.05
