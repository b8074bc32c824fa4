"""The run's bookkeeping against a fake `measure` (the tiny run end to end is tests/test_main.py's)."""

import dataclasses
import json

import numpy as np
import pytest

from vamo_jax import run
from vamo_jax.config import SweepConfig, Variant, load_config
from vamo_jax.score import METRICS

RETURNS = {"stl": [[10.0, 20.0, 4.0], [14.0, 20.0, 4.0]], "vamo": [[12.0, 30.0, 2.0], [12.0, 10.0, 6.0]],
           "equal": [[6.0, 20.0, 4.0], [6.0, 20.0, 4.0]]}


def fake_metrics(scores) -> dict:
    """Every metric a method is measured on: `scores` as the score, ones elsewhere."""
    scores = np.asarray(scores)
    return {name: scores if name == "score" else np.ones_like(scores) for name in METRICS + run.HELD_OUT}


def fake_measuring(monkeypatch, scores_of) -> list:
    """`run.measure` and `run.reference_bidders` faked: a method's (S, K) scores are
    `scores_of(arm, method name, arm_dir)`; returns the list of (row config, method name) measured."""
    measured = []

    def measure(arm, method, arm_dir, trained, **options):
        measured.append((arm, method.name))
        k = arm.data.num_tasks
        history = {"steps": np.arange(2), "weights": np.full((2, 2, k), 1 / k), "losses": np.ones((2, 2, k)),
                   "val_steps": np.arange(1), "val_losses": np.ones((2, 1, k))}
        return run.Measured(fake_metrics(scores_of(arm, method.name, arm_dir)), history,
                            {"train_seconds": 1.0, "steps_per_s": 1.0}, None)

    monkeypatch.setattr(run, "measure", measure)
    monkeypatch.setattr(run, "reference_bidders",
                        lambda config: {"logged_behaviour": fake_metrics(np.ones((1, config.data.num_tasks)))})
    return measured


def with_arms(*variants, shared_baseline=True):
    return dataclasses.replace(load_config("tiny"), sweep=SweepConfig(variants=variants, shared_baseline=shared_baseline))


def test_rows_delta_m_and_files(tmp_path, monkeypatch):
    fake_measuring(monkeypatch, lambda arm, method, arm_dir: RETURNS[method])
    results = run.run(with_arms(Variant("", ("train.methods=vamo,equal",))), tmp_path)
    assert list(results["methods"]) == ["stl", "vamo", "equal"] and results["baseline"] == "stl"
    base = np.mean(RETURNS["stl"], 0)  # (12, 20, 4)
    per_seed = [np.mean(-(np.asarray(r) - base) / base) * 100 for r in RETURNS["vamo"]]
    np.testing.assert_allclose(results["methods"]["vamo"]["delta_m_seeds"], per_seed)
    np.testing.assert_allclose(results["methods"]["vamo"]["delta_m_std"], np.std(per_seed))
    # equal: gmv halved, the rest unchanged -> Δm% = +50/3
    assert results["methods"]["equal"]["delta_m"] == pytest.approx(50 / 3)
    assert json.loads((tmp_path / "results.json").read_text())["variants"]["all"] == ["train.methods=vamo,equal"]
    assert "| equal |" in (tmp_path / "results.md").read_text()
    for name in ("delta_m.png", "scores.png", "task_weights.png"):
        assert (tmp_path / name).stat().st_size > 1000


def test_labels_folders_and_duplicate_rows(tmp_path, monkeypatch):
    fake_measuring(monkeypatch, lambda arm, method, arm_dir: RETURNS[method])
    assert Variant("λ=0.1 raw").folder == "0.1_raw" and Variant("").folder == "all"
    assert Variant("a", ()).label("vamo", 2) == "a: vamo" and Variant("a").label("vamo", 1) == "a"
    with pytest.raises(ValueError, match="share a folder"):
        with_arms(Variant("x", ("train.methods=vamo",)), Variant("x", ("train.methods=equal",)))
    with pytest.raises(ValueError, match="two arms give the row 'stl'"):
        run.run(with_arms(Variant("stl", ("train.methods=vamo",))), tmp_path)


def test_every_arm_is_validated_before_anything_trains(tmp_path, monkeypatch):
    measured = fake_measuring(monkeypatch, lambda arm, method, arm_dir: RETURNS[method])
    with pytest.raises(Exception, match="train.methods: unknown method 'vamoo'"):
        run.run(with_arms(Variant("ok", ("train.methods=vamo",)), Variant("bad", ("train.methods=vamoo",))),
                tmp_path)
    assert measured == []


def test_arms_that_differ_in_evaluation_alone_share_their_training():
    config = load_config("tiny")
    other_eval = dataclasses.replace(config, eval=dataclasses.replace(config.eval, target_quantile=0.5))
    other_train = dataclasses.replace(config, train=dataclasses.replace(config.train, learning_rate=3e-3))
    other_methods = dataclasses.replace(config, train=dataclasses.replace(config.train, methods=("equal",)))
    assert run.training_key(config, "equal") == run.training_key(other_eval, "equal")
    assert run.training_key(config, "equal") == run.training_key(other_methods, "equal")
    assert run.training_key(config, "stl") != run.training_key(config, "equal")
    assert run.training_key(other_train, "equal") != run.training_key(config, "equal")


def test_runs_of_one_process_share_their_pure_builds_and_the_newest_are_kept(monkeypatch):
    """A second run's data set is the first run's object (so jit's cache serves what is built on
    it), by its frozen config; the least recently used are dropped first."""
    built = []
    monkeypatch.setattr(run, "make_dataset", lambda data_config: built.append(data_config.seed) or object())
    run.dataset.cache_clear()
    try:
        configs = [dataclasses.replace(load_config("tiny").data, seed=s) for s in range(run.BUILDS_KEPT + 1)]
        assert run.dataset(configs[0]) is run.dataset(dataclasses.replace(configs[0]))
        for data_config in configs[1:]:
            run.dataset(data_config)
        run.dataset(configs[0])  # dropped: the least recently used when the 17th came
        assert built == [*range(run.BUILDS_KEPT + 1), 0]
    finally:
        run.dataset.cache_clear()
