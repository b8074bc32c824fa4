"""The main job's code path end to end on the tiny config, resume after a kill, and CLI errors."""

import json

import numpy as np
import pytest

from vamo_jax.config import load_config
from vamo_jax.experiments import compare
from vamo_jax.main import main, prepare_workdir


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("tiny")
    assert main(["--config", "tiny", "--workdir", str(workdir)]) == 0
    return workdir


def test_tiny_run_writes_results_table_and_plots(finished, capsys):
    results = json.loads((finished / "results.json").read_text())
    assert results["tasks"] == ["gmv", "dir_gmv", "cart"] and results["baseline"] == "stl"
    assert list(results["methods"]) == ["stl", "equal", "vamo"]
    for entry in results["methods"].values():
        for task in results["tasks"]:
            cell = entry["per_task"][task]
            assert len(cell["seeds"]) == 2 and np.isclose(cell["mean"], np.mean(cell["seeds"]))
        assert "delta_m" in entry and set(entry["metrics"]) == {"cost", "online_ratio"}
    assert results["timing"]["vamo"]["steps_per_s"] > 0
    assert "| vamo |" in (finished / "results.md").read_text()
    for name in ("task_weights.png", "losses.png", "returns.png"):
        assert (finished / name).stat().st_size > 1000
    assert (finished / "checkpoints" / "vamo" / "8").exists()


def test_killed_run_resumes_to_the_same_final_numbers(finished, tmp_path):
    config = load_config("tiny")
    prepare_workdir(tmp_path, config, resume=False, force=False)
    assert compare.train_and_evaluate(config, tmp_path, stop_after_step=4) is None  # killed after step 4
    assert not (tmp_path / "checkpoints" / "stl" / "8").exists()
    assert main(["--config", "tiny", "--workdir", str(tmp_path)]) == 2  # refuses to overwrite
    assert main(["--config", "tiny", "--workdir", str(tmp_path), "--resume"]) == 0
    resumed = json.loads((tmp_path / "results.json").read_text())
    full = json.loads((finished / "results.json").read_text())
    for method in full["methods"]:
        assert resumed["methods"][method]["per_task"] == full["methods"][method]["per_task"]
    for name in ("losses", "weights", "val_losses"):
        a = np.load(tmp_path / "checkpoints" / "vamo" / "history_8.npz")[name]
        np.testing.assert_array_equal(a, np.load(finished / "checkpoints" / "vamo" / "history_8.npz")[name])


def test_unknown_method_fails_at_config_load_before_any_work(tmp_path, capsys):
    assert main(["--config", "tiny", "--workdir", str(tmp_path / "w"), "--set", "train.methods=stl,vamoo"]) == 2
    assert "train.methods: unknown method(s) 'vamoo'; valid: stl, equal," in capsys.readouterr().err
    assert not (tmp_path / "w").exists()  # nothing generated, trained or written


def test_workdir_of_another_config_is_refused(finished, capsys):
    assert main(["--config", "tiny", "--workdir", str(finished), "--set", "train.seed=1"]) == 2
    assert "holds a run of a different config" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args, message",
    [
        (["--config", "nope"], "unknown config 'nope'; available:"),
        (["--config", "tiny", "--set", "train.stepz=3"], "unknown config key 'train.stepz'"),
        (["--config", "tiny", "--set", "model.temporal=gru"], "ModelConfig.temporal must be one of"),
        (["--config", "tiny", "--set", "model.history_len=96"], "model.history_len=96 must equal data.env.history_len=48"),
        (["--config", "tiny", "--set", "data.num_tasks=6"], "model.num_tasks=3 must equal data.num_tasks=6; set model.num_tasks=6"),
        (["--config", "tiny", "--set", "data.num_tasks=13"], "DataConfig.num_tasks=13 is invalid"),
    ],
)
def test_config_errors_exit_2_with_the_fix(args, message, capsys, tmp_path):
    assert main(args + ["--workdir", str(tmp_path / "w")]) == 2
    assert message in capsys.readouterr().err
