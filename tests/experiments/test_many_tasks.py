import dataclasses

import numpy as np

from vamo_jax.config import SweepConfig, Variant, apply_overrides, load_config
from vamo_jax.experiments import many_tasks
from vamo_jax.report import delta_m_scored


def test_delta_m_half_on_tiny_subtasks(tmp_path):
    """K = 6 per-category tasks end to end: data, STL over 6 models, VAMO, evaluation, table."""
    config = apply_overrides(load_config("tiny"), ("train.steps=4", "train.methods=stl,vamo"))
    config = dataclasses.replace(config, experiment="many_tasks", sweep=SweepConfig(
        variants=(Variant("K=6", ("data.num_tasks=6", "model.num_tasks=6")),), shared_baseline=False))
    results = many_tasks.run(config, tmp_path)
    rows = results["arms"]["K=6"]["methods"]
    assert set(rows) == {"stl", "vamo"} and rows["stl"]["delta_m"] == 0.0
    vamo = np.array([rows["vamo"]["per_task"][t]["seeds"] for t in results["arms"]["K=6"]["tasks"]]).T
    stl = np.array([rows["stl"]["per_task"][t]["seeds"] for t in results["arms"]["K=6"]["tasks"]]).T
    assert vamo.shape == (2, 6)
    dm, _ = delta_m_scored(vamo, stl.mean(0))
    assert np.isclose(rows["vamo"]["delta_m"], dm) and rows["vamo"]["tasks_left_out"] < 6
    assert "| K=6 |" in (tmp_path / "results.md").read_text() and (tmp_path / "delta_m_vs_k.png").exists()
    assert (tmp_path / "K_6" / "results.json").exists()
