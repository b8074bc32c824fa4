"""Adaptive temperatures: the schedule's end points and the entropy-matched λ, checked in numpy."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vamo_jax.mtl import VamoHyperparams
from vamo_jax.mtl.temperature import entropy_matched_temperature, exponential_schedule


def np_entropy(m, lam):
    z = np.asarray(m, np.float64) / lam
    w = np.exp(z - z.max())
    w /= w.sum()
    return -np.sum(w * np.log(np.maximum(w, 1e-300)))


def test_exponential_schedule_ends_and_midpoint():
    schedule = exponential_schedule(10.0, 0.1, 100)
    np.testing.assert_allclose([schedule(0), schedule(50), schedule(100), schedule(500)], [10.0, 1.0, 0.1, 0.1],
                               rtol=1e-5)


@pytest.mark.parametrize("scale", [1e-6, 1.0, 1e4])
@pytest.mark.parametrize("rho", [0.3, 0.9])
def test_entropy_matched_temperature_hits_the_target_at_any_scale(scale, rho):
    m = np.array([0.3, -1.2, 0.8, 0.1, 2.0]) * scale
    target = rho * math.log(5)
    lam = float(jax.jit(entropy_matched_temperature)(jnp.asarray(m, jnp.float32), target))
    assert np_entropy(m, lam) == pytest.approx(target, abs=1e-3)
    assert lam / scale == pytest.approx(float(entropy_matched_temperature(jnp.asarray(m / scale), target)), rel=1e-3)


def test_hyperparams_use_the_matched_temperature():
    hp = VamoHyperparams(3, temperature=123.0, target_entropy=0.5)
    m = jnp.array([1.0, 0.0, -1.0])
    assert np_entropy(m, float(hp.temperature_for(0, m))) == pytest.approx(0.5 * math.log(3), abs=1e-3)
    assert VamoHyperparams(3, temperature=2.0).temperature_for(0, m) == 2.0
    with pytest.raises(ValueError, match="target_entropy"):
        VamoHyperparams(3, target_entropy=1.5)


def test_entropy_targeted_vamo_trains_with_weights_of_the_target_entropy():
    from tests._problem import make_problem
    from vamo_jax.train import TrainConfig, init_train_states, make_chunk

    problem = make_problem()
    config = TrainConfig(methods=("vamo",), num_seeds=2, steps=10, log_every=10, target_entropy=0.5, progress=False)
    states, metrics = make_chunk(problem, "vamo", config)(init_train_states(problem, "vamo", config), np.int32(0),
                                                          problem.data)
    weights = np.asarray(metrics.weights, np.float64)  # (S, steps, K), refreshed at steps 0 and 5
    entropy = -np.sum(weights * np.log(weights), axis=-1)
    np.testing.assert_allclose(entropy, 0.5 * math.log(3), atol=1e-3)
    assert np.all(np.isfinite(np.asarray(metrics.losses)))
