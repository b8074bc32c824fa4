"""The bidding problem on the tiny config's data: the guard on data that cannot train, the
cross-task sampler and one cross-task step."""

import jax
import numpy as np
import pytest

from tests.data.conftest import dataset  # noqa: F401  (the tiny config's data, shared fixture)
from vamo_jax import bidding
from vamo_jax.bidding import check_compatible
from vamo_jax.config import load_config
from vamo_jax.train import init_train_state, make_step

CONFIG = load_config("tiny")


@pytest.fixture(scope="module")
def problem(dataset):  # noqa: F811
    return bidding.make_problem(dataset, CONFIG.model, CONFIG.train.batch_size)


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
    state = jax.jit(lambda key: init_train_state(problem, method, CONFIG.train, key))(jax.random.PRNGKey(0))
    step = make_step(problem, method, CONFIG.train)  # step 0 refreshes: the refreshing branch alone is compiled
    new, metrics = jax.jit(lambda s, i, d: step(s, i, d, True))(state, np.int32(0), problem.data)
    assert np.all(np.isfinite(metrics.losses)) and np.isfinite(metrics.grad_norm)
    np.testing.assert_allclose(np.asarray(metrics.weights).sum(0), 1.0, rtol=1e-5)
    assert int(new.step) == 1


def test_one_non_finite_value_is_named_by_split_field_and_trajectory(dataset):  # noqa: F811
    rewards = np.array(dataset.train.rewards)
    rewards[2, 5, 0] = np.nan  # one cell of one tick of trajectory 2
    poisoned = dataset.__class__(**{**dataset.__dict__, "train": dataset.train.replace(rewards=rewards)})
    e, d, a = (int(np.asarray(getattr(dataset.train, f))[2]) for f in ("episode", "day", "advertiser"))
    with pytest.raises(ValueError, match=rf"data split 'train': rewards holds NaN/Inf \(1 trajectory\(ies\); the "
                                         rf"first is trajectory 2: episode {e}, day {d}, advertiser {a}\)"):
        check_compatible(poisoned, CONFIG.model)
