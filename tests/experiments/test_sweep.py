"""The sweep's bookkeeping against a fake trainer (the tiny run end to end is tests/test_main.py's)."""

import dataclasses
import json

import numpy as np
import pytest

from vamo_jax.config import SweepConfig, Variant, load_config
from vamo_jax.experiments import compare, sweep

RETURNS = {"stl": [[10.0, 20.0, 4.0], [14.0, 20.0, 4.0]], "vamo": [[12.0, 30.0, 2.0], [12.0, 10.0, 6.0]],
           "equal": [[6.0, 20.0, 4.0], [6.0, 20.0, 4.0]]}


def fake_metrics(returns) -> dict:
    """Every metric of `sweep.METRICS`: `returns` as the return, ones elsewhere."""
    returns = np.asarray(returns)
    return {name: returns if name == "return" else np.ones_like(returns) for name in sweep.METRICS}


def fake_train_and_evaluate(config, workdir, resume=False, builds=None, with_premise=True):
    metrics = {m: fake_metrics(RETURNS[m]) for m in config.train.methods}
    metrics["logged"] = fake_metrics(np.ones((1, 3)))
    histories = {m: {"steps": np.arange(2), "weights": np.full((2, 2, 3), 1 / 3), "losses": np.ones((2, 2, 3)),
                     "val_steps": np.arange(1), "val_losses": np.ones((2, 1, 3))} for m in config.train.methods}
    timing = {m: {"train_seconds": 1.0} for m in config.train.methods}
    return compare.ArmResult(metrics, histories, timing, None)


def with_arms(*variants, shared_baseline=True):
    return dataclasses.replace(load_config("tiny"), sweep=SweepConfig(variants=variants, shared_baseline=shared_baseline))


def test_rows_delta_m_and_files(tmp_path, monkeypatch):
    monkeypatch.setattr(compare, "train_and_evaluate", fake_train_and_evaluate)
    results = sweep.run(with_arms(Variant("", ("train.methods=vamo,equal",))), tmp_path)
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
    with pytest.raises(ValueError, match="share a folder"):
        with_arms(Variant("x", ("train.methods=vamo",)), Variant("x", ("train.methods=equal",)))
    with pytest.raises(ValueError, match="two arms give the row 'stl'"):
        sweep.run(with_arms(Variant("stl", ("train.methods=vamo",))), tmp_path)


def test_every_arm_is_validated_before_anything_trains(tmp_path, monkeypatch):
    trained = []
    monkeypatch.setattr(compare, "train_and_evaluate", lambda config, *a, **k: trained.append(config))
    with pytest.raises(Exception, match="train.methods: unknown method 'vamoo'"):
        sweep.run(with_arms(Variant("ok", ("train.methods=vamo",)), Variant("bad", ("train.methods=vamoo",))),
                  tmp_path)
    assert trained == []


def test_arms_that_differ_in_evaluation_alone_share_their_training():
    import dataclasses

    from vamo_jax.config import load_config

    config = load_config("tiny")
    calls = []
    builds = compare.Builds()

    def fit():
        calls.append(1)
        return len(calls)

    other_eval = dataclasses.replace(config, eval=dataclasses.replace(config.eval, target_quantile=0.5))
    other_train = dataclasses.replace(config, train=dataclasses.replace(config.train, learning_rate=3e-3))
    assert builds.trained(config, "equal", fit) == builds.trained(other_eval, "equal", fit) == 1
    assert builds.trained(config, "stl", fit) == 2 and builds.trained(other_train, "equal", fit) == 3
    assert compare.Builds().trained(config, "equal", fit) == 4  # a new run trains again


def test_runs_of_one_process_share_their_pure_builds_and_the_newest_are_kept(monkeypatch):
    """A second run's data, problems and evaluators are the first run's objects (so jit's cache
    serves them); trained states are not shared; the least recently used are dropped first."""
    monkeypatch.setattr(compare, "_SHARED", compare.collections.OrderedDict())
    monkeypatch.setattr(compare, "_SHARED_SIZE", 2)
    built = []

    def build(name):
        return lambda: built.append(name) or f"{name}{len(built)}"

    first, second = compare.Builds(), compare.Builds()
    assert first._get(("a",), build("a")) == second._get(("a",), build("a")) == "a1"
    second._get(("b",), build("b"))
    first._get(("a",), build("a"))  # a is now the most recently used
    compare.Builds()._get(("c",), build("c"))
    assert list(compare._SHARED) == [("a",), ("c",)]
    assert compare.Builds()._get(("b",), build("b")) == "b4" and built == ["a", "b", "c", "b"]
    assert compare.Builds()._get(("a",), build("a"), shared=False) == "a5"
