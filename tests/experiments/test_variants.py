"""Every experiment's arms are valid configs that differ from the base exactly as the paper's ablation says."""

import importlib
import math

import pytest

from vamo_jax.config import load_config

EXPERIMENTS = ["table1", "ablation_validation", "ablation_temperature", "ablation_temporal", "ablation_film",
               "ablation_heads", "adaptive_temperature", "validation_size"]


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_config_runs_its_experiment_on_the_sim_data(name):
    config, sim = load_config(name), load_config("sim")
    assert config.experiment == name and config.data == sim.data and config.train.steps == sim.train.steps
    module = importlib.import_module(f"vamo_jax.experiments.{name}")
    arms = [v.config(config) for v in module.variants(config)]
    assert len({v.folder for v in module.variants(config)}) == len(arms)
    assert all("stl" not in arm.train.methods for arm in arms)  # STL is the sweep's shared baseline


def test_table1_trains_the_papers_methods_and_the_zoo():
    from vamo_jax.mtl import weighting

    methods = load_config("table1").train.methods
    assert methods[:6] == ("equal", "dwa", "famo", "pcgrad", "fairgrad", "vamo")
    assert set(weighting.available()) - set(methods) == {"vamo_train", "greedy"}


def test_temperature_arms():
    from vamo_jax.experiments import ablation_temperature

    tiny = load_config("tiny")
    arms = {v.name: v.config(tiny).train for v in ablation_temperature.variants(tiny)}
    assert arms["λ=0.01 raw"].temperature == 0.01 and arms["λ=0.01 raw"].normalize is None
    assert arms["λ=10 cosine"].normalize == "cosine" and arms["λ=10 cosine"].methods == ("vamo",)
    assert arms["λ=∞ (equal)"].methods == ("equal",)  # softmax(m / ∞) is uniform: equal weighting exactly
    assert len(arms) == 2 * len(ablation_temperature.TEMPERATURES) + 1 and not math.isinf(max(
        a.temperature for a in arms.values()))
    quick = load_config("ablation_temperature_quick")
    assert len(ablation_temperature.variants(quick)) == 2 * len(ablation_temperature.QUICK_TEMPERATURES) + 1


def test_ablation_arms_change_one_switch():
    from vamo_jax.experiments import ablation_film, ablation_heads, ablation_temporal, ablation_validation

    tiny = load_config("tiny")
    assert [v.config(tiny).model.temporal for v in ablation_temporal.variants(tiny)] == ["none", "lstm", "timesnet"]
    assert [v.config(tiny).model.film for v in ablation_film.variants(tiny)] == [True, False]
    assert [v.config(tiny).model.mode for v in ablation_heads.variants(tiny)] == ["action", "next_state"]
    assert [v.config(tiny).train.methods for v in ablation_validation.variants(tiny)] == [
        ("vamo",), ("vamo_train",), ("equal",)]


def test_open_question_arms():
    from vamo_jax.experiments import adaptive_temperature, validation_size

    sim = load_config("sim")
    adaptive = {v.name: v.config(sim).train for v in adaptive_temperature.variants(sim)}
    assert adaptive["λ 1→0.01 (exp. decay)"].temperature_end == 0.01
    assert adaptive["entropy 0.5 log K"].target_entropy == 0.5 and adaptive["fixed λ=1 (paper)"].target_entropy is None
    sizes = [v.config(sim).data for v in validation_size.variants(sim)]
    assert [d.val_per_task for d in sizes] == [None, (10, 10, 5), (4, 4, 2), (1, 1, 1), None]
    assert all(d.train_per_task == sim.data.train_per_task and d.test_per_task == sim.data.test_per_task for d in sizes)
