import errno
import json
import os
from pathlib import Path

import numpy as np
import pytest

from vamo_jax.report import (
    markdown_table,
    plot_returns,
    plot_training,
    summarize,
    write_atomic,
    write_results,
)


def test_summary_schema_delta_m_and_files(tmp_path):
    returns = {"stl": np.array([[1.0, 2.0], [1.2, 2.2]]), "vamo": np.array([[2.0, 2.0], [2.2, 2.4]])}
    results = summarize(returns, ["gmv", "cart"], extra={"cost": {m: r * 0 + 1 for m, r in returns.items()}})
    vamo = results["methods"]["vamo"]
    assert results["tasks"] == ["gmv", "cart"]
    assert vamo["per_task"]["gmv"] == {"mean": pytest.approx(2.1), "std": pytest.approx(0.1), "seeds": [2.0, 2.2]}
    base = np.array([1.1, 2.1])
    assert vamo["delta_m"] == pytest.approx(-np.mean((np.array([2.1, 2.2]) - base) / base) * 100)
    assert results["methods"]["stl"]["delta_m"] == 0.0
    assert vamo["mean_rank"] == 1.0 and vamo["metrics"]["cost"]["cart"]["mean"] == 1.0
    table = markdown_table(results)
    assert "| vamo | 2.100 ± 0.100 | 2.200 ± 0.200 |" in table
    write_results(tmp_path, results, table)
    assert json.loads((tmp_path / "results.json").read_text())["methods"]["vamo"]["delta_m"] == vamo["delta_m"]
    history = {"steps": np.arange(20), "losses": np.ones((2, 20, 2)), "weights": np.full((2, 20, 2), 0.5),
               "val_steps": np.array([10, 20]), "val_losses": np.ones((2, 2, 2))}
    paths = plot_training(tmp_path, {"stl": history, "vamo": history}, ["gmv", "cart"]) + [plot_returns(tmp_path, results)]
    assert all(p.stat().st_size > 1000 for p in paths)
    with pytest.raises(ValueError, match="baseline 'stl' has no results"):
        summarize({"vamo": returns["vamo"]}, ["gmv", "cart"])


def test_zero_baseline_gives_nan_delta_m_with_a_note():
    results = summarize({"stl": np.array([[1.0, 0.0]]), "vamo": np.array([[2.0, 1.0]])}, ["gmv", "cart"])
    assert np.isnan(results["methods"]["vamo"]["delta_m"]) and "cart" in results["note"]
    assert "undefined" in markdown_table(results)


def test_many_tasks_table_and_figures_stay_readable(tmp_path):
    tasks = [f"gmv.{k}" for k in range(8)]
    returns = {"stl": np.ones((2, 8)), "vamo": np.full((2, 8), 2.0)}
    results = summarize(returns, tasks)
    table = markdown_table(results)
    assert "gmv.0" not in table and "8 tasks" in table and "| vamo |" in table
    assert results["methods"]["vamo"]["delta_m"] == -100.0 and set(results["methods"]["vamo"]["per_task"]) == set(tasks)
    history = {"steps": np.arange(3), "weights": np.full((2, 3, 8), 1 / 8), "losses": np.ones((2, 3, 8)),
               "val_steps": np.arange(2), "val_losses": np.ones((2, 2, 8))}
    plot_training(tmp_path, {"vamo": history}, tasks)
    plot_returns(tmp_path, results)
    from matplotlib.image import imread

    assert imread(tmp_path / "losses.png").shape[1] < 2500  # MAX_TASK_PANELS panels wide, not 8


def test_a_write_that_fails_leaves_the_previous_file_whole(tmp_path, monkeypatch):
    path = tmp_path / "results.json"
    write_atomic(path, "old")
    real = Path.write_text

    def half_then_full_disk(self, text, *args, **kwargs):
        real(self, text[: len(text) // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))

    monkeypatch.setattr(Path, "write_text", half_then_full_disk)
    with pytest.raises(OSError, match="No space left"):
        write_atomic(path, "new results")
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["results.json"]
