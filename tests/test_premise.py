import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vamo_jax.mtl import task_losses
from vamo_jax import methods
from vamo_jax.premise import REGIME_NAMES, gradient_cosines, regime_distances, task_gradient_cosines
from vamo_jax.problem import MultiTaskProblem, pooled_task_losses
from vamo_jax.train import held_out_losses


K, D, H = 3, 4, 5


def _mlp_problem() -> MultiTaskProblem:
    """A one-hidden-layer regression, task ids in the batch: small enough to compile in a second."""

    def per_example_loss(params, batch):
        return (jnp.tanh(batch["x"] @ params["w1"]) @ params["w2"] - batch["y"]) ** 2

    return MultiTaskProblem(
        num_tasks=K, per_example_loss=per_example_loss, task_of=lambda batch: batch["task"],
        init_params=lambda key: {"w1": jax.random.normal(key, (D, H)), "w2": jax.random.normal(jax.random.fold_in(key, 1), (H,))},
        sample_train=None, sample_val=None, sample_task=None, data=None)


def _day(seed: int, n: int = 4, b: int = 6):
    """n batches of b examples: {"x": (n, b, D), "y": (n, b), "task": (n, b)}."""
    rng = np.random.default_rng(seed)
    return {"x": jnp.asarray(rng.normal(size=(n, b, D))), "y": jnp.asarray(rng.normal(size=(n, b))),
            "task": jnp.asarray(rng.integers(0, K, (n, b)))}


def test_the_cosines_are_one_when_the_two_days_are_the_same_arrays():
    problem = _mlp_problem()
    params = jax.vmap(problem.init_params)(jax.random.split(jax.random.PRNGKey(0), 2))  # S = 2
    same, other = _day(1), _day(2)
    cos = gradient_cosines(problem, params, same, {"val": same, "train": other})
    assert cos["val"].shape == (2, K)
    np.testing.assert_allclose(cos["val"], 1.0, atol=1e-5)
    assert np.all(cos["train"] < 1.0 - 1e-4)  # another data set: not parallel


def _least_squares(w, x, y, tasks, k):
    """Task k's gradient of 0.5·mean_{i in k} (x_i·w − y_i)², by hand."""
    rows = tasks == k
    return ((x[rows] @ w - y[rows])[:, None] * x[rows]).mean(0)


def test_the_cosine_of_least_squares_task_gradients_against_numpy():
    rng = np.random.default_rng(0)
    k, d, n = 3, 4, 30
    w = rng.normal(size=d)
    sets = [(rng.normal(size=(n, d)), rng.normal(size=n), np.arange(n) % k) for _ in range(2)]

    def losses_fn(x, y, tasks):
        return lambda p: task_losses(0.5 * (jnp.asarray(x) @ p["w"] - y) ** 2, jnp.asarray(tasks), k)

    got = task_gradient_cosines(losses_fn(*sets[0]), losses_fn(*sets[1]), {"w": jnp.asarray(w)})
    for task in range(k):
        ga, gb = (_least_squares(w, *s, task) for s in sets)
        assert got[task] == pytest.approx(ga @ gb / np.linalg.norm(ga) / np.linalg.norm(gb), abs=1e-5)
    # A task with no example in one data set has no gradient there: NaN, not a number.
    x, y, tasks = sets[1]
    assert np.isnan(task_gradient_cosines(losses_fn(*sets[0]), losses_fn(x, y, tasks % 2), {"w": jnp.asarray(w)})[2])

    # Through a problem, pooled over batches: the n batches act as one data set.
    problem = MultiTaskProblem(num_tasks=k, init_params=None, task_of=lambda b: b["task"],
                               per_example_loss=lambda p, b: 0.5 * (b["x"] @ p["w"] - b["y"]) ** 2,
                               sample_train=None, sample_val=None, sample_task=None, data=None)
    as_batches = [{"x": jnp.asarray(x).reshape(5, 6, d), "y": jnp.asarray(y).reshape(5, 6),
                   "task": jnp.asarray(t).reshape(5, 6)} for x, y, t in sets]
    pooled = gradient_cosines(problem, {"w": jnp.asarray(w)[None]}, as_batches[0], {"b": as_batches[1]})["b"][0]
    np.testing.assert_allclose(pooled, got, atol=1e-5)


def test_held_out_losses_against_a_direct_masked_mean_per_task():
    problem, batches = _mlp_problem(), _day(3)
    keys = jax.random.split(jax.random.PRNGKey(0), 2)
    shared = jax.vmap(problem.init_params)(keys)  # (S, …)
    stl = jax.vmap(lambda key: jax.vmap(problem.init_params)(jax.random.split(key, K)))(keys)  # (S, K, …)
    x, y, tasks = (np.asarray(batches[name], np.float64).reshape((24,) + batches[name].shape[2:])
                   for name in ("x", "y", "task"))

    def direct(params, k):  # numpy: every example of the 4 batches, the mean over task k's
        w1, w2 = (np.asarray(params[name], np.float64) for name in ("w1", "w2"))
        return ((np.tanh(x @ w1) @ w2 - y) ** 2)[tasks == k].mean()

    got = held_out_losses(problem, methods.get("equal"), shared, batches)
    expected = [[direct(jax.tree.map(lambda p: p[s], shared), k) for k in range(K)] for s in range(2)]
    np.testing.assert_allclose(got, expected, rtol=1e-4)
    got = held_out_losses(problem, methods.get("stl"), stl, batches)  # model k scored on task k
    expected = [[direct(jax.tree.map(lambda p: p[s, k], stl), k) for k in range(K)] for s in range(2)]
    np.testing.assert_allclose(got, expected, rtol=1e-4)
    one = jax.tree.map(lambda p: p[1], shared)
    np.testing.assert_allclose(pooled_task_losses(problem, one, batches), [direct(one, k) for k in range(K)], rtol=1e-4)


def test_regime_distances_by_hand():
    regime = np.zeros((11, 5))
    regime[1:9, 0] = 1.0  # training days: GMV shifted by +1
    regime[2, 0] = 3.0  # one of them by +3: the mean of days 1–8 is 1.25
    regime[9, 2] = 0.5  # validation day: carts shifted
    regime[10] = [1.0, 0.0, 0.5, 0.0, 0.0]  # test day
    d = regime_distances(regime, test_day=10, val_day=9, train_days=range(1, 9))
    assert d["test_vs_val"] == pytest.approx(1.0)
    assert d["test_vs_train_mean"] == pytest.approx(np.hypot(0.25, 0.5))
    assert d["test_vs_train_days"] == pytest.approx((7 * 0.5 + np.hypot(2.0, 0.5)) / 8)
    assert d["test_minus_val"] == dict(zip(REGIME_NAMES, [1.0, 0.0, 0.0, 0.0, 0.0]))
    assert len(d["day_to_day"]) == 10 and d["day_to_day"][0] == pytest.approx(1.0)
