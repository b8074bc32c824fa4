"""many_tasks: the regrouping into K synthetic tasks and the timing of a method's step."""

import jax
import jax.numpy as jnp
import numpy as np

from tests._problem import make_problem
from vamo_jax.experiments import many_tasks
from vamo_jax.train import TrainConfig, task_losses_on


def test_regrouped_problem_has_k_tasks_of_the_same_examples():
    problem = make_problem()
    grouped = many_tasks.regrouped(problem, 4)

    @jax.jit
    def both(key):
        batch = problem.sample_train(key, problem.data)
        params = problem.init_params(key)
        return task_losses_on(grouped, params, batch), problem.per_example_loss(params, batch)

    losses, per_example = both(jax.random.PRNGKey(0))  # (4,), (12,): examples i, i+4, i+8 form task i
    np.testing.assert_allclose(losses, jnp.mean(per_example.reshape(3, 4), axis=0), rtol=1e-5)


def test_every_method_is_timed_at_k_tasks(tmp_path, monkeypatch):
    monkeypatch.setattr(many_tasks, "_problem", lambda *args: make_problem())
    config = type("C", (), {"data": None, "model": None, "train": TrainConfig(progress=False, batch_size=12)})()
    results = many_tasks.run(config, tmp_path, task_counts=(6,), methods=("equal", "vamo_every_step"), repeats=1,
                             delta_task_counts=())
    assert set(results["seconds_per_step"]) == {"6"}
    assert all(s > 0 for row in results["seconds_per_step"].values() for s in row.values())
    assert results["ratio_to_equal"]["6"]["equal"] == 1.0
    assert "| 6 |" in (tmp_path / "results.md").read_text() and (tmp_path / "cost_vs_k.png").exists()


def test_delta_m_over_scored_tasks_by_hand():
    returns = np.array([[2.0, 5.0, 1.0], [4.0, 7.0, 3.0]])
    base = np.array([2.0, 0.0, 2.0])  # task 1: STL earned nothing, left out
    dm, seeds, left_out = many_tasks.delta_m_scored(returns, base)
    assert left_out == 1
    np.testing.assert_allclose(seeds, [-(0.0 + -0.5) / 2 * 100, -(1.0 + 0.5) / 2 * 100])
    np.testing.assert_allclose(dm, -(0.5 + 0.0) / 2 * 100)


def test_delta_m_half_on_tiny_subtasks(tmp_path):
    """K = 6 per-category tasks end to end: data, STL over 6 models, VAMO, evaluation, table."""
    from vamo_jax.config import apply_overrides, load_config

    config = apply_overrides(load_config("tiny"), ("train.steps=4",))
    results = many_tasks.run(config, tmp_path, task_counts=(), delta_task_counts=(6,), delta_methods=("stl", "vamo"))
    row = results["delta_m"]["6"]["methods"]
    assert set(row) == {"stl", "vamo"} and row["stl"]["delta_m"] == 0.0
    vamo, stl = np.asarray(row["vamo"]["returns"]), np.asarray(row["stl"]["returns"])
    assert vamo.shape == (2, 6)
    dm, _, left_out = many_tasks.delta_m_scored(vamo, stl.mean(0))
    assert np.isclose(row["vamo"]["delta_m"], dm) and left_out == row["vamo"]["tasks_left_out"] < 6
    assert "| 6 |" in (tmp_path / "results.md").read_text() and (tmp_path / "delta_m_vs_k.png").exists()
