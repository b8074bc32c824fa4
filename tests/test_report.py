import json

import numpy as np
import pytest

from vamo_jax.report import (
    markdown_table,
    plot_returns,
    plot_training,
    summarize,
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


def test_tasks_where_the_baseline_earns_nothing_are_left_out_of_delta_m_by_hand():
    returns = {"stl": np.array([[2.0, 0.0, 1.0], [2.0, 0.0, 3.0]]), "vamo": np.array([[2.0, 5.0, 1.0], [4.0, 7.0, 3.0]])}
    results = summarize(returns, ["gmv", "dir_gmv", "cart"])
    vamo = results["methods"]["vamo"]
    assert vamo["tasks_left_out"] == 1 and "dir_gmv" in results["note"] and "2 of 3" in results["note"]
    # base over the scored tasks (gmv, cart) = (2, 2); seeds (2, 1) and (4, 3); mean (3, 2)
    np.testing.assert_allclose(vamo["delta_m_seeds"], [-(0.0 - 0.5) / 2 * 100, -(1.0 + 0.5) / 2 * 100])
    np.testing.assert_allclose(vamo["delta_m"], -(0.5 + 0.0) / 2 * 100)
    assert results["note"] in markdown_table(results)


def test_a_baseline_that_earns_nothing_anywhere_gives_nan():
    results = summarize({"stl": np.zeros((1, 2)), "vamo": np.ones((1, 2))}, ["gmv", "cart"])
    assert np.isnan(results["methods"]["vamo"]["delta_m"]) and results["methods"]["vamo"]["delta_m_seeds"] == []


def test_task_weights_of_many_methods_are_a_grid(tmp_path):
    from matplotlib.image import imread

    history = {"steps": np.arange(3), "weights": np.full((2, 3, 3), 1 / 3), "losses": np.ones((2, 3, 3)),
               "val_steps": np.arange(2), "val_losses": np.ones((2, 2, 3))}
    plot_training(tmp_path, {f"m{i}": history for i in range(14)}, ["gmv", "dir_gmv", "cart"])
    height, width = imread(tmp_path / "task_weights.png").shape[:2]
    assert width < 1600 and height > 3 * 270  # 4 panels a row, 4 rows (was 14 in one 5040 × 270 row)


def test_cross_task_weights_get_a_panel_per_target(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    w = np.zeros((2, 3, 3, 3))
    w[..., 0, :] = 1.0  # every target puts all its weight on source 0
    history = {"steps": np.arange(3), "weights": w, "losses": np.ones((2, 3, 3)),
               "val_steps": np.arange(2), "val_losses": np.ones((2, 2, 3))}
    titles, original = [], plt.Axes.set
    monkeypatch.setattr(plt.Axes, "set", lambda ax, **kw: (titles.append(kw.get("title")), original(ax, **kw))[1])
    plot_training(tmp_path, {"vao": history}, ["gmv", "dir_gmv", "cart"])
    assert [t for t in titles if t and "sources" in t] == [f"vao: sources for {t}" for t in ("gmv", "dir_gmv", "cart")]


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
