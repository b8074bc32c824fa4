import flax.linen as nn
import jax
import numpy as np

from tests.models.conftest import compiled, key, tiny_config
from vamo_jax.models.film import FiLM


def test_film_is_the_identity_at_init():
    hidden = jax.random.normal(key(0), (3, 5, 8))
    requirement = jax.random.uniform(key(1), (3, 6))
    film = FiLM(8)
    params = film.init(key(2), hidden, requirement)
    np.testing.assert_array_equal(film.apply(params, hidden, requirement), hidden)
    # … and it is a real affine map of y once its parameters move.
    moved = jax.tree.map(lambda p: p + 0.1, params)
    kernel_g = moved["params"]["delta_gamma"]["kernel"]
    bias_g = moved["params"]["delta_gamma"]["bias"]
    kernel_b = moved["params"]["beta"]["kernel"]
    bias_b = moved["params"]["beta"]["bias"]
    scale = 1 + requirement @ kernel_g + bias_g
    expected = scale[:, None] * hidden + (requirement @ kernel_b + bias_b)[:, None]
    np.testing.assert_allclose(film.apply(moved, hidden, requirement), expected, rtol=1e-5, atol=1e-6)


def test_policy_with_film_at_init_equals_policy_without_film(batch):
    model, params, apply = compiled(tiny_config())

    def bypass_film(next_fun, args, kwargs, context):
        if isinstance(context.module, FiLM) and context.method_name == "__call__":
            return args[0]
        return next_fun(*args, **kwargs)

    with nn.intercept_methods(bypass_film):
        plain = jax.jit(model.apply)(params, batch)
    np.testing.assert_allclose(apply(params, batch).action, plain.action, rtol=1e-5, atol=1e-6)
    # The requirement reaches the hidden features through FiLM once FiLM has moved.
    film0 = params["params"]["backbone"]["film0"]
    moved = {"params": {**params["params"], "backbone": {
        **params["params"]["backbone"],
        "film0": {**film0, "beta": {**film0["beta"], "kernel": np.ones_like(film0["beta"]["kernel"])
                                                      * np.linspace(-1, 1, 16)}},
    }}}
    assert not np.allclose(apply(moved, batch).action, plain.action)
