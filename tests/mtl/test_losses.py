import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vamo_jax.mtl import check_task_ids, task_losses


def test_task_losses_match_numpy_means():
    rng = np.random.default_rng(0)
    per_example = rng.normal(size=37).astype(np.float32)
    task = rng.integers(0, 5, size=37)
    got = jax.jit(task_losses, static_argnums=2)(per_example, task, 5)
    want = [per_example[task == k].mean() for k in range(5)]
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_weighted_examples_are_masked():
    per_example = jnp.array([1.0, 3.0, 100.0, 2.0])
    task = jnp.array([0, 0, 0, 1])
    got = task_losses(per_example, task, 2, example_weights=jnp.array([1.0, 1.0, 0.0, 1.0]))
    np.testing.assert_allclose(got, [2.0, 2.0])


def test_absent_task_gives_zero_loss_and_zero_gradient_not_nan():
    task = jnp.array([0, 0, 2])

    def f(theta):
        return task_losses(theta * jnp.array([1.0, 2.0, 3.0]), task, 3)

    losses = jax.jit(f)(2.0)
    jac = jax.jit(jax.jacrev(f))(2.0)
    np.testing.assert_allclose(losses, [3.0, 0.0, 6.0])
    np.testing.assert_allclose(jac, [1.5, 0.0, 3.0])
    assert np.all(np.isfinite(jac))


@pytest.mark.parametrize(
    "ids, match",
    [([0, 1, 3], r"outside \[0, 3\)"), ([0, 0, 2], r"task\(s\) \[1\] have no samples"), ([0.0, 1.0], "integer")],
)
def test_check_task_ids_errors(ids, match):
    with pytest.raises(ValueError, match=match):
        check_task_ids(np.asarray(ids), 3 if len(ids) == 3 else 2)
