"""The sweep's bookkeeping against a fake trainer, and one tiny sweep end to end."""

import dataclasses
import json

import numpy as np
import pytest

from vamo_jax.config import load_config
from vamo_jax.experiments import compare, sweep
from vamo_jax.experiments.sweep import Variant

RETURNS = {"stl": [[10.0, 20.0, 4.0], [14.0, 20.0, 4.0]], "vamo": [[12.0, 30.0, 2.0], [12.0, 10.0, 6.0]],
           "equal": [[6.0, 20.0, 4.0], [6.0, 20.0, 4.0]]}


def fake_train_and_evaluate(config, workdir, resume=False):
    metrics = {m: {"return": np.asarray(RETURNS[m]), "cost": np.ones((2, 3))} for m in config.train.methods}
    histories = {m: {"steps": np.arange(2), "weights": np.full((2, 2, 3), 1 / 3), "losses": np.ones((2, 2, 3)),
                     "val_steps": np.arange(1), "val_losses": np.ones((2, 1, 3))} for m in config.train.methods}
    timing = {m: {"train_seconds": 1.0} for m in config.train.methods}
    return None, metrics, histories, timing


def test_rows_delta_m_and_files(tmp_path, monkeypatch):
    monkeypatch.setattr(compare, "train_and_evaluate", fake_train_and_evaluate)
    config = load_config("tiny")
    results = sweep.run_sweep(config, tmp_path, [Variant("", ("train.methods=vamo,equal",))])
    assert list(results["methods"]) == ["stl", "vamo", "equal"] and results["baseline"] == "stl"
    base = np.mean(RETURNS["stl"], 0)  # (12, 20, 4)
    per_seed = [np.mean(-(np.asarray(r) - base) / base) * 100 for r in RETURNS["vamo"]]
    np.testing.assert_allclose(results["methods"]["vamo"]["delta_m_seeds"], per_seed)
    np.testing.assert_allclose(results["methods"]["vamo"]["delta_m_std"], np.std(per_seed))
    # equal: gmv halved, the rest unchanged -> Δm% = +50/3
    assert results["methods"]["equal"]["delta_m"] == pytest.approx(50 / 3)
    assert json.loads((tmp_path / "results.json").read_text())["variants"]["all"] == ["train.methods=vamo,equal"]
    assert "| equal |" in (tmp_path / "results.md").read_text()
    for name in ("delta_m.png", "returns.png", "task_weights.png"):
        assert (tmp_path / name).stat().st_size > 1000


def test_labels_folders_and_duplicate_rows(tmp_path, monkeypatch):
    monkeypatch.setattr(compare, "train_and_evaluate", fake_train_and_evaluate)
    assert Variant("λ=0.1 raw").folder == "0.1_raw" and Variant("").folder == "all"
    assert Variant("a", ()).label("vamo", 2) == "a: vamo" and Variant("a").label("vamo", 1) == "a"
    twice = [Variant("x", ("train.methods=vamo",)), Variant("x", ("train.methods=vamo",))]
    with pytest.raises(ValueError, match="two variants"):
        sweep.run_sweep(load_config("tiny"), tmp_path, twice)


def test_tiny_sweep_end_to_end(tmp_path):
    """The tiny config's own run (STL among its methods) through the sweep: real training,
    evaluation and files. Its config is the main job's test's, so the compilations are shared."""
    config = dataclasses.replace(load_config("tiny"), experiment="table1")
    results = sweep.run_sweep(config, tmp_path, [Variant("")], baseline=None)
    assert list(results["methods"]) == ["stl", "equal", "vamo"] and results["baseline"] == "stl"
    assert len(results["methods"]["vamo"]["per_task"]["gmv"]["seeds"]) == 2
    assert (tmp_path / "all" / "checkpoints" / "vamo" / "8").exists()
    assert (tmp_path / "delta_m.png").exists() and "| vamo |" in (tmp_path / "results.md").read_text()


@pytest.mark.parametrize("name", ["table1", "ablation_validation", "ablation_temperature", "ablation_temporal",
                                  "ablation_film", "ablation_heads", "validation_size", "adaptive_temperature"])
def test_every_experiment_runs_on_the_tiny_config(name, tmp_path, monkeypatch):
    """Each experiment's own `run` through `experiments.run` on the tiny config (a fake trainer:
    the real one is exercised end to end above and in tests/test_main.py)."""
    import importlib

    from vamo_jax import experiments

    def fake(config, workdir, resume=False):
        rng = np.random.default_rng(len(str(workdir)))
        returns = {m: rng.uniform(1.0, 2.0, (2, 3)) for m in config.train.methods}
        metrics = {m: {"return": r, "cost": np.ones((2, 3))} for m, r in returns.items()}
        history = {"steps": np.arange(2), "weights": np.full((2, 2, 3), 1 / 3), "losses": np.ones((2, 2, 3)),
                   "val_steps": np.arange(1), "val_losses": np.ones((2, 1, 3))}
        return None, metrics, {m: history for m in config.train.methods}, {m: {} for m in config.train.methods}

    monkeypatch.setattr(compare, "train_and_evaluate", fake)
    tiny = load_config("tiny")
    config = dataclasses.replace(tiny, name=name, experiment=name,
                                 train=dataclasses.replace(tiny.train, methods=("equal", "vamo")))
    results = experiments.run(config, tmp_path)
    module = importlib.import_module(f"vamo_jax.experiments.{name}")
    expected = {"stl"} | ({"equal", "vamo"} if name == "table1" else {v.name for v in module.variants(config)})
    assert set(results["methods"]) == expected
    table = (tmp_path / "results.md").read_text()
    assert all(f"| {row} |" in table for row in expected)
    assert (tmp_path / "delta_m.png").stat().st_size > 1000 and (tmp_path / "results.json").exists()
