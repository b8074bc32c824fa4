import jax
import jax.numpy as jnp
import numpy as np

from tests.models.conftest import key
from vamo_jax.models.timesnet import Inception, TimesNet


def test_inception_is_the_mean_of_same_padded_convolutions():
    grid = jax.random.normal(key(0), (2, 3, 7, 4))
    inception = Inception(5, (1, 3, 5))
    params = jax.jit(inception.init)(key(1), grid)["params"]
    params = {**params, "bias": jnp.arange(5.0)}
    out = jax.jit(inception.apply)({"params": params}, grid)
    branches = [
        jax.lax.conv_general_dilated(grid, params[f"kernel{k}"], (1, 1), "SAME",
                                     dimension_numbers=("NHWC", "HWIO", "NHWC"))
        for k in (1, 3, 5)
    ]
    np.testing.assert_allclose(out, sum(branches) / 3 + params["bias"], rtol=1e-5, atol=1e-5)


def test_timesnet_maps_each_ticks_history_to_z():
    history = jax.random.normal(key(0), (2, 3, 40, 3))
    module = TimesNet((20, 8, 3), width=4, embed_dim=6, kernel_sizes=(1, 3))
    params = jax.jit(module.init)(key(1), history)
    apply = jax.jit(module.apply)
    z = apply(params, history)
    assert z.shape == (2, 3, 6)
    # Each tick's z reads only that tick's window, and is invariant to the series' scale.
    moved = history.at[1, 2].multiply(-1.0)
    z_moved = apply(params, moved)
    np.testing.assert_allclose(np.delete(np.asarray(z_moved).reshape(6, 6), 5, 0),
                               np.delete(np.asarray(z).reshape(6, 6), 5, 0), rtol=1e-5, atol=1e-5)
    assert not np.allclose(z_moved[1, 2], z[1, 2])
    scaled = apply(params, 10.0 * history + 3.0)
    np.testing.assert_allclose(scaled, z, rtol=1e-3, atol=1e-3)
