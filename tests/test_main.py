"""The main job's code path end to end on the tiny config, resume after a kill, and CLI errors."""

import errno
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from vamo_jax.config import load_config, to_dict
from vamo_jax import run
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
        assert "delta_m" in entry and set(entry["metrics"]) == {"value", "cost", "online_ratio", "violation_rate",
                                                                "val_loss", "test_loss"}
    assert set(results["premise"]["gradient_cosine"]) == {"test_vs_val", "test_vs_train"}
    assert results["timing"]["vamo"]["steps_per_s"] > 0
    assert "| vamo |" in (finished / "results.md").read_text()
    for name in ("task_weights.png", "losses.png", "scores.png"):
        assert (finished / name).stat().st_size > 1000
    assert (finished / "checkpoints" / "vamo" / "8").exists()
    recorded = results["config"]  # the full config, so results.json tells which run made it
    assert recorded["fingerprint"] == json.loads((finished / "config.json").read_text())["fingerprint"]
    assert recorded["config"] == json.loads(json.dumps(to_dict(load_config("tiny"))))


def test_killed_run_resumes_to_the_same_final_numbers(finished, tmp_path):
    config = load_config("tiny")
    prepare_workdir(tmp_path, config, resume=False, force=False)
    assert run.run(config, tmp_path, stop_after_step=4) is None  # killed after step 4
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
    assert "train.methods: unknown method 'vamoo'; valid: stl, equal," in capsys.readouterr().err
    assert not (tmp_path / "w").exists()  # nothing generated, trained or written


def test_force_removes_the_previous_run_before_a_run_that_fails(finished, tmp_path, capsys, monkeypatch):
    from vamo_jax import experiments
    from vamo_jax.config import ConfigError

    def fails(config, workdir, resume=False):
        raise ConfigError("the run failed after its workdir was prepared")

    monkeypatch.setattr(experiments, "run", fails)
    workdir = tmp_path / "rerun"
    shutil.copytree(finished, workdir)
    assert main(["--config", "tiny", "--workdir", str(workdir), "--force", "--set", "train.steps=16"]) == 2
    assert "the run failed after its workdir was prepared" in capsys.readouterr().err
    assert sorted(p.name for p in workdir.iterdir()) == ["config.json"]  # no results, plots or checkpoints left
    assert json.loads((workdir / "config.json").read_text())["config"]["train"]["steps"] == 16


def test_a_model_that_does_not_fit_the_data_is_refused_at_load_and_touches_nothing(finished, tmp_path, capsys):
    """K and history_len have one source of truth: the config checks the model against the data
    when it loads, before anything is generated or written."""
    workdir = tmp_path / "rerun"
    shutil.copytree(finished, workdir)
    before = sorted(p.name for p in workdir.iterdir())
    assert main(["--config", "tiny", "--workdir", str(workdir), "--force", "--set", "model.history_len=96"]) == 2
    assert "model.history_len=96 must equal data.env.history_len" in capsys.readouterr().err
    assert sorted(p.name for p in workdir.iterdir()) == before
    assert main(["--config", "tiny", "--workdir", str(workdir), "--set", "data.num_tasks=4"]) == 2
    assert "model.num_tasks=3 must equal data.num_tasks=4; set model.num_tasks=4" in capsys.readouterr().err


@pytest.mark.parametrize("code", [errno.EROFS, errno.ENOSPC])
def test_a_workdir_that_cannot_be_written_is_one_line(tmp_path, capsys, monkeypatch, code):
    """A read-only workdir (chmod'ed, or as root where chmod does not stop writes, a patched mkdir)
    and a full disk when config.json is written: exit 1, one line naming the path and the cause."""
    workdir = tmp_path / "w"
    if code == errno.EROFS and os.geteuid() != 0:
        tmp_path.chmod(0o555)
        code = errno.EACCES
    else:
        target = tmp_path / "w" if code == errno.EROFS else tmp_path / "w" / ".config.json.tmp"

        def refuse(self, *args, **kwargs):
            raise OSError(code, os.strerror(code), str(target))

        monkeypatch.setattr(Path, "mkdir" if code == errno.EROFS else "write_text", refuse)
    try:
        assert main(["--config", "tiny", "--workdir", str(workdir)]) == 1
    finally:
        tmp_path.chmod(0o755)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: {tmp_path / 'w'}") and os.strerror(code) in err
    assert ("free some space" if code == errno.ENOSPC else "choose a writable --workdir") in err


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


# The tiny main job's per-seed test-day values [seed][task] (the unpenalised return). The one-home
# restructuring left them bit-identical to the code before it (commit 3d2d64e; the full `sim` job
# too); the causal TimesNet computed once per market tick (issue 13) moved them, and they are
# pinned here as that code computes them: a change of the numbers must be deliberate. Re-pinned
# when the main job (and so the tiny one) took the parameter average (train.ema_decay) chosen on day 9.
PINNED_VALUES = {
    "stl": [[1.4460651636123658, 2.841191864013672, 0.0], [17.120633602142334, 0.0, 0.0]],
    "equal": [[30.001453495025636, 123.48196773529052, 26.487773895263672],
              [12.211055755615234, 12.15562400817871, 0.8666561841964722]],
    "vamo": [[37.341123294830325, 133.5449827194214, 26.368557929992676],
             [14.691709899902344, 10.976521062850953, 0.44573771953582764]],
}


def test_main_job_numbers_are_pinned(finished):
    results = json.loads((finished / "results.json").read_text())
    for method, expected in PINNED_VALUES.items():
        value = results["methods"][method]["metrics"]["value"]
        got = [[value[t]["draws"][s][0] for t in results["tasks"]] for s in range(2)]  # draw 0: the logged traffic
        np.testing.assert_allclose(got, expected, rtol=1e-5, err_msg=method)


def test_summary_numbers_follow_from_the_per_seed_scores(finished):
    """Δm%, its per-seed values and the mean rank, recomputed by hand from the per-seed scores."""
    results = json.loads((finished / "results.json").read_text())
    tasks, rows = results["tasks"], results["methods"]
    seeds = {m: np.array([[rows[m]["per_task"][t]["seeds"][s] for t in tasks] for s in range(2)]) for m in rows}
    base = seeds["stl"].mean(0)
    scored = base > 0
    for method, entry in rows.items():
        per_seed = [100 * np.mean((base[scored] - row[scored]) / base[scored]) for row in seeds[method]]
        np.testing.assert_allclose(entry["delta_m_seeds"], per_seed, rtol=1e-12)
        np.testing.assert_allclose(entry["delta_m"], 100 * np.mean((base - seeds[method].mean(0))[scored] / base[scored]),
                                   rtol=1e-12)
        assert entry["tasks_left_out"] == int((~scored).sum())
        better = [sum(seeds[o].mean(0)[k] > seeds[method].mean(0)[k] for o in rows) for k in range(len(tasks))]
        ties = [sum(seeds[o].mean(0)[k] == seeds[method].mean(0)[k] for o in rows) - 1 for k in range(len(tasks))]
        assert entry["mean_rank"] == pytest.approx(np.mean([1 + b + 0.5 * t for b, t in zip(better, ties)]))


def test_test_draws_and_references_are_reported(finished):
    results = json.loads((finished / "results.json").read_text())
    draws = load_config("tiny").eval.draws
    assert draws >= 2 and results["traffic"]["draws"] == draws
    for entry in results["methods"].values():
        for task in results["tasks"]:
            cell = entry["per_task"][task]
            assert np.shape(cell["draws"]) == (2, draws)
            np.testing.assert_allclose(cell["seeds"], np.mean(cell["draws"], 1))
    assert results["methods"]["stl"]["per_task"]["gmv"]["draws"][0][0] != results["methods"]["stl"]["per_task"]["gmv"]["draws"][0][1]
    assert set(results["traffic"]["methods"]["equal"]) == {"per_task", "delta_m_vs_stl"}
    for key in ("logged_behaviour", "best_fixed_multiplier"):
        assert set(results[key]) == {"score", "value", "cost", "online_ratio", "violation_rate"}
    assert "best fixed multiplier in hindsight" in (finished / "results.md").read_text()
