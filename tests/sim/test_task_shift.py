"""The task-shift axis: s = 0 is the market as it is, bit for bit; s > 0 moves the declared
channels of the days from the onset on, by s × the declared direction, and nothing else."""

import jax
import jax.numpy as jnp
import numpy as np

from vamo_jax import sim
from tests.sim.conftest import PARAMS, WORLD

ONSET = 9


def test_zero_strength_keeps_every_bit_traced_or_not():
    # A regime holding −0.0 as well: an add of 0.0 would flip its sign bit.
    world = WORLD.replace(regime=WORLD.regime.at[0, 0].set(-0.0))
    shifted = jax.jit(sim.shift_world)(world, jnp.float32(0.0), ONSET)
    assert np.asarray(shifted.regime).tobytes() == np.asarray(world.regime).tobytes()
    assert np.asarray(sim.shift_world(world, 0.0, ONSET).regime).tobytes() == np.asarray(world.regime).tobytes()


def test_strength_moves_only_the_declared_channels_of_the_later_days():
    s = 0.7
    before, after = np.asarray(WORLD.regime), np.asarray(jax.jit(sim.shift_world)(WORLD, s, ONSET).regime)
    np.testing.assert_array_equal(after[:ONSET], before[:ONSET])
    expected = before[ONSET:].copy()
    expected[:, :3] += s * np.asarray(sim.TASK_SHIFT_DIRECTION, np.float32)
    np.testing.assert_allclose(after[ONSET:], expected, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(after[ONSET:, 3:], before[ONSET:, 3:])  # volume and competition kept


def test_shifted_day_moves_the_cart_values_by_the_declared_factor():
    # Same key, same day: the expected add-to-cart value of the shifted day's impressions is the
    # unshifted one times e^(s × direction) wherever neither is clipped at probability 1.
    s = 0.5
    day = ONSET
    drift = jnp.ones((PARAMS.num_blocks, PARAMS.num_advertisers))
    key = jax.random.key(7)
    draw = jax.jit(sim.market.draw_impressions, static_argnums=1)
    plain = draw(key, PARAMS, WORLD, WORLD.regime[day], drift, 40)
    shifted_world = sim.shift_world(WORLD, s, ONSET)
    moved = draw(key, PARAMS, shifted_world, shifted_world.regime[day], drift, 40)
    factor = np.exp(s * sim.TASK_SHIFT_DIRECTION[2])
    ok = np.asarray(moved.pcart) < 1.0
    np.testing.assert_allclose(np.asarray(moved.pcart)[ok], np.asarray(plain.pcart)[ok] * factor, rtol=1e-5)
    np.testing.assert_array_equal(moved.amount, plain.amount)  # GMV's direction is 0
