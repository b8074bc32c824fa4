import jax
import jax.numpy as jnp
import numpy as np

from tests.models.conftest import key
from vamo_jax.models.timesnet import Inception, TimesNet, receptive_field

PERIODS, H = (20, 8, 3), 24
MODULE = TimesNet(PERIODS, width=4, embed_dim=6, kernel_sizes=(1, 3), history_len=H)
REACH = receptive_field(H, PERIODS, (1, 3))


def test_inception_is_the_causal_half_of_the_period_grid_convolution():
    """Against loops over the k × k kernel on the period × phase grid read as a helix: tap (i, j)
    reads the tick i cycles and j phases away, i.e. lag i·q + j; only taps before the centre in
    raster order (i < 0, or i = 0 and j ≤ 0) are kept, in raster order."""
    n, length, width, q = 2, 30, 3, 7
    series = np.asarray(jax.random.normal(key(0), (n, length, width)))
    inception = Inception(5, (1, 3, 5))
    params = jax.jit(inception.init, static_argnums=2)(key(1), series, q)["params"]
    params = {**params, "bias": jnp.arange(5.0)}
    out = jax.jit(inception.apply, static_argnums=2)({"params": params}, series, q)
    expected = np.zeros((n, length, 5)) + np.asarray(params["bias"])
    for k in (1, 3, 5):
        r, tap = k // 2, 0
        for i in range(-r, r + 1):
            for j in range(-r, r + 1):
                if i > 0 or (i == 0 and j > 0):
                    continue
                w = np.asarray(params[f"kernel{k}"][tap]) / 3
                tap += 1
                for t in range(length):
                    if 0 <= t + i * q + j:
                        expected[:, t] += series[:, t + i * q + j] @ w
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


def every_tick(market):
    p, length, _ = market.shape
    return jnp.arange(p * length, dtype=jnp.int32).reshape(p, length)


def test_features_of_a_tick_do_not_change_when_later_ticks_change():
    market = jax.random.normal(key(0), (2, 3 * H + 40, 3)) + 2.0
    params = jax.jit(MODULE.init)(key(1), market, every_tick(market))
    apply = jax.jit(MODULE.apply)
    z = apply(params, market, every_tick(market))
    assert z.shape == (2, market.shape[1], 6)
    for t in (0, 17, market.shape[1] - 2):
        later = market.at[:, t + 1:].set(jax.random.normal(key(t), market[:, t + 1:].shape))
        z_later = apply(params, later, every_tick(market))
        np.testing.assert_allclose(z_later[:, : t + 1], z[:, : t + 1], rtol=1e-6, atol=1e-6)
        assert not np.allclose(z_later[:, t + 1:], z[:, t + 1:])


def test_the_reach_before_a_tick_gives_its_features():
    """A series cut to the `receptive_field` ticks ending at a tick gives that tick's features
    (as a row of the whole table), and the oldest of them does matter."""
    market = jax.random.normal(key(2), (1, 4 * REACH, 3))
    params = jax.jit(MODULE.init)(key(1), market, every_tick(market))
    apply = jax.jit(MODULE.apply)
    end, oldest = 3 * REACH + 5, 2 * REACH + 6
    full = apply(params, market, jnp.array([[end]]))[0, 0]
    cut = apply(params, market[:, oldest: end + 1], jnp.array([[REACH - 1]]))[0, 0]
    np.testing.assert_allclose(cut, full, rtol=1e-4, atol=1e-4)
    moved = apply(params, market.at[:, oldest].add(100.0), jnp.array([[end]]))[0, 0]
    assert not np.allclose(moved, full, rtol=1e-4, atol=1e-4)


def test_features_ignore_the_series_scale():
    market = jax.random.normal(key(0), (1, 2 * REACH, 3))
    index = jnp.arange(REACH, 2 * REACH, dtype=jnp.int32)[None]  # windows clear of the zero start
    params = jax.jit(MODULE.init)(key(1), market, index)
    apply = jax.jit(MODULE.apply)
    np.testing.assert_allclose(apply(params, 10.0 * market + 3.0, index), apply(params, market, index),
                               rtol=1e-3, atol=1e-3)
