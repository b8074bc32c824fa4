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
    results = many_tasks.run(config, tmp_path, task_counts=(6,), methods=("equal", "vamo_every_step"), repeats=1)
    assert set(results["seconds_per_step"]) == {"6"}
    assert all(s > 0 for row in results["seconds_per_step"].values() for s in row.values())
    assert results["ratio_to_equal"]["6"]["equal"] == 1.0
    assert "| 6 |" in (tmp_path / "results.md").read_text() and (tmp_path / "cost_vs_k.png").exists()
