"""many_tasks' reading across K (a fake trainer: the K > 3 per-category tasks are tested in
tests/data/test_tasks.py and tests/test_evaluate.py, the training and evaluation path by the tiny
main job)."""

import dataclasses

import numpy as np
import pytest

from tests.test_run import fake_measuring
from vamo_jax.config import SweepConfig, Variant, load_config
from vamo_jax.experiments import many_tasks
from vamo_jax.stats import delta_m_seeds


def scores(k: int) -> dict:
    rng = np.random.default_rng(k)
    return {"stl": np.concatenate([np.zeros((2, 1)), rng.uniform(1.0, 2.0, (2, k - 1))], 1),  # task 0: no return
            "vamo": rng.uniform(1.0, 2.0, (2, k))}


def test_delta_m_against_k_from_each_arms_own_stl(tmp_path, monkeypatch):
    fake_measuring(monkeypatch, lambda arm, method, arm_dir: scores(arm.data.num_tasks)[method])
    tiny = load_config("tiny")
    config = dataclasses.replace(
        tiny, experiment="many_tasks", train=dataclasses.replace(tiny.train, methods=("stl", "vamo")),
        sweep=SweepConfig(variants=tuple(Variant(f"K={k}", (f"data.num_tasks={k}", f"model.num_tasks={k}"))
                                         for k in (4, 6)), shared_baseline=False))
    results = many_tasks.run(config, tmp_path)
    for k in (4, 6):
        arm = results["arms"][f"K={k}"]
        dm, _ = delta_m_seeds(scores(k)["vamo"], scores(k)["stl"].mean(0))
        assert arm["methods"]["vamo"]["delta_m"] == pytest.approx(dm) and arm["methods"]["vamo"]["tasks_left_out"] == 1
        assert len(arm["tasks"]) == k and (tmp_path / f"K_{k}" / "results.json").exists()
    table = (tmp_path / "results.md").read_text()
    assert "| K=4 |" in table and "| K=6 |" in table and (tmp_path / "delta_m_vs_k.png").exists()


def test_every_arm_needs_its_own_stl(tmp_path):
    config = dataclasses.replace(load_config("tiny"), experiment="many_tasks", sweep=SweepConfig(
        variants=(Variant("K=4", ("data.num_tasks=4", "model.num_tasks=4", "train.methods=vamo")),),
        shared_baseline=False))
    with pytest.raises(ValueError, match="every arm needs 'stl'"):
        many_tasks.run(config, tmp_path)
