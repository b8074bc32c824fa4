import jax
import jax.numpy as jnp
import numpy as np

from vamo_jax.examples.theorem1 import quadratic_problem, running_val_grad_sq


def test_val_grad_floor_grows_with_temperature():
    centres, v = quadratic_problem()
    temperatures = jnp.array([0.01, 0.1, 1.0, 5.0, 1e6])
    curves = np.asarray(jax.jit(running_val_grad_sq, static_argnums=3)(temperatures, centres, v, 1500))
    floors = curves[:, -1]
    assert np.all(np.diff(floors) > 0), floors
    # The running mean falls: the floor is below the early average for every λ.
    assert np.all(curves[:, -1] < curves[:, 50])
    # λ → ∞ is equal weighting: θ → mean_k c_k, so ‖g_val‖² → ‖mean c − v‖² (closed form).
    equal_floor = float(np.sum((np.asarray(centres).mean(0) - np.asarray(v)) ** 2))
    np.testing.assert_allclose(floors[-1], equal_floor, rtol=0.03)
    assert floors[0] < 0.05 * equal_floor
