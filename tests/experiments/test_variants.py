"""Every experiment is a config: its arms are valid configs that differ from the base exactly as
the paper's ablation says, and each runs through the one sweep (a fake trainer)."""

import math

import numpy as np
import pytest

from vamo_jax import experiments
from vamo_jax.config import load_config
from tests.test_run import fake_measuring

EXPERIMENTS = ["table1", "ablation_validation", "ablation_temperature", "ablation_temporal", "ablation_film",
               "ablation_heads", "adaptive_temperature", "validation_size"]


def arms(name):
    return {v.name: c for v, c in load_config(name).arms()}


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_config_runs_its_arms_on_the_sim_data_against_a_shared_stl(name):
    config, sim = load_config(name), load_config("sim")
    assert config.experiment == "sweep" and config.data == sim.data and config.train.steps == sim.train.steps
    (first, baseline), *rest = config.arms()
    assert first.name == "stl" and baseline.train.methods == ("stl",)
    assert all("stl" not in arm.train.methods for _, arm in rest)


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_every_experiment_runs_through_the_sweep(name, tmp_path, monkeypatch):
    fake_measuring(monkeypatch, lambda arm, method, arm_dir: np.random.default_rng(len(str(arm_dir))).uniform(
        1.0, 2.0, (2, 3)))
    config = load_config(name)
    results = experiments.run(config, tmp_path)
    expected = {v.label(m, len(c.train.methods)) for v, c in config.arms() for m in c.train.methods}
    assert set(results["methods"]) == expected
    table = (tmp_path / "results.md").read_text()
    assert all(f"| {row} |" in table for row in expected)
    assert (tmp_path / "delta_m.png").stat().st_size > 1000 and (tmp_path / "results.json").exists()


def test_table1_trains_the_papers_methods_and_the_zoo():
    from vamo_jax.mtl import weighting

    methods = arms("table1")[""].train.methods
    assert methods[:6] == ("equal", "dwa", "famo", "pcgrad", "fairgrad", "vamo")
    assert set(weighting.available()) - set(methods) == {"vamo_train", "greedy"}


def test_temperature_arms():
    from configs import ablation_temperature, ablation_temperature_quick

    train = {name: c.train for name, c in arms("ablation_temperature").items()}
    assert train["λ=0.01 raw"].temperature == 0.01 and train["λ=0.01 raw"].normalize is None
    assert train["λ=10 cosine"].normalize == "cosine" and train["λ=10 cosine"].methods == ("vamo",)
    assert train["λ=∞ (equal)"].methods == ("equal",)  # softmax(m / ∞) is uniform: equal weighting exactly
    assert len(train) == 1 + 2 * len(ablation_temperature.TEMPERATURES) + 1
    assert not math.isinf(max(t.temperature for t in train.values()))
    quick = arms("ablation_temperature_quick")
    assert len(quick) == 1 + 2 * len(ablation_temperature_quick.TEMPERATURES) + 1
    assert all(c.train.steps == 200 and c.train.num_seeds == 2 for c in quick.values())


def test_ablation_arms_change_one_switch():
    assert [c.model.temporal for n, c in arms("ablation_temporal").items() if n != "stl"] == ["none", "lstm", "timesnet"]
    assert [c.model.film for n, c in arms("ablation_film").items() if n != "stl"] == [True, False]
    assert [c.model.mode for n, c in arms("ablation_heads").items() if n != "stl"] == ["action", "next_state"]
    assert [c.train.methods for n, c in arms("ablation_validation").items() if n != "stl"] == [
        ("vamo",), ("vamo_train",), ("equal",)]


def test_open_question_arms():
    adaptive = {n: c.train for n, c in arms("adaptive_temperature").items()}
    assert adaptive["λ 1→0.01 (exp. decay)"].temperature_end == 0.01
    assert adaptive["entropy 0.5 log K"].target_entropy == 0.5 and adaptive["fixed λ=1 (paper)"].target_entropy is None
    sim = load_config("sim")
    sizes = [c.data for n, c in arms("validation_size").items() if n != "stl"]
    assert [d.val_per_task for d in sizes] == [None, (10, 10, 5), (4, 4, 2), (1, 1, 1), None]
    assert all(d.train_per_task == sim.data.train_per_task and d.test_per_task == sim.data.test_per_task for d in sizes)


def test_many_tasks_arms_set_k_everywhere():
    ks = {n: (c.data.num_tasks, c.model.num_tasks, c.train.methods[0]) for n, c in arms("many_tasks").items()}
    assert ks == {"K=8": (8, 8, "stl"), "K=32": (32, 32, "stl"), "K=64": (64, 64, "stl")}
