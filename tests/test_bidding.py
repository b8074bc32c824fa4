"""The bidding problem on the tiny config's data: the cross-task sampler and one cross-task step."""

import jax
import numpy as np
import pytest

from vamo_jax import bidding
from vamo_jax.config import load_config
from vamo_jax.data import make_dataset
from vamo_jax.train import init_train_state, make_step

CONFIG = load_config("tiny")


@pytest.fixture(scope="module")
def problem():
    return bidding.make_problem(make_dataset(CONFIG.data), CONFIG.model, CONFIG.train.batch_size)


def test_cross_batches_are_the_training_rows_relabeled_for_every_target(problem):
    key = jax.random.PRNGKey(3)
    plain = problem.sample_train(key, problem.data)
    sources, batches = problem.sample_cross(key, problem.data)
    k = problem.num_tasks
    np.testing.assert_array_equal(sources, plain.task)
    assert batches.states.shape == (k,) + plain.states.shape
    for target in range(k):
        np.testing.assert_array_equal(batches.task[target], target)
        np.testing.assert_array_equal(batches.states[target], plain.states)  # same windows
        own = np.asarray(sources) == target  # a row relabeled for its own task is the row itself
        for field in ("actions", "returns_to_go", "requirement"):
            np.testing.assert_array_equal(np.asarray(getattr(batches, field)[target])[own],
                                          np.asarray(getattr(plain, field))[own], err_msg=field)
    assert not np.allclose(batches.returns_to_go[0], batches.returns_to_go[2])  # relabeled under another channel


@pytest.mark.parametrize("method", ["vao", "share"])
def test_a_cross_task_step_on_the_bidding_problem_is_finite(problem, method):
    state = init_train_state(problem, method, CONFIG.train, jax.random.PRNGKey(0))
    new, metrics = jax.jit(make_step(problem, method, CONFIG.train))(state, np.int32(0), problem.data)
    assert np.all(np.isfinite(metrics.losses)) and np.isfinite(metrics.grad_norm)
    np.testing.assert_allclose(np.asarray(metrics.weights).sum(0), 1.0, rtol=1e-5)
    assert int(new.step) == 1
