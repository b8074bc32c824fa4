import jax
import jax.numpy as jnp
import pytest

from vamo_jax import sim

PARAMS = sim.EnvParams(num_advertisers=8, num_categories=2, impressions_per_day=96 * 16, history_len=24)
NUM_DAYS = 11


def const_policy(obs, multiplier, key):
    """Every controlled advertiser plays the same multiplier (a scalar policy state)."""
    return jnp.full(obs.state.shape[0], multiplier), multiplier


def _simulate(key, day, mask, mult, history):
    return sim.simulate_day(key, PARAMS, WORLD, day, const_policy, mult, mask, history)


# Compilations shared by every test: day, history, mask and multiplier are traced.
simulate = jax.jit(_simulate)
simulate_days = jax.jit(jax.vmap(_simulate, in_axes=(0, 0, None, None, None)))


WORLD = sim.make_world(jax.random.key(0), PARAMS, NUM_DAYS)


@pytest.fixture(scope="session")
def params():
    return PARAMS
