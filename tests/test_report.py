import errno
import json
import os
from pathlib import Path

import numpy as np
import pytest

from vamo_jax import figures as figures_module
from vamo_jax.mtl.metrics import delta_m
from vamo_jax.figures import plot_delta_m, plot_scores, plot_training
from vamo_jax.report import markdown_table, summarize, traffic_summary, write_atomic, write_results
from vamo_jax.stats import delta_m_ci, probability_of_improvement


def test_summary_schema_delta_m_and_files(tmp_path):
    returns = {"stl": np.array([[1.0, 2.0], [1.2, 2.2]]), "vamo": np.array([[2.0, 2.0], [2.2, 2.4]])}
    results = summarize(returns, ["gmv", "cart"], extra={"cost": {m: r * 0 + 1 for m, r in returns.items()}})
    vamo = results["methods"]["vamo"]
    assert results["tasks"] == ["gmv", "cart"]
    assert vamo["per_task"]["gmv"] == {"mean": pytest.approx(2.1), "std": pytest.approx(0.1), "seeds": [2.0, 2.2],
                                           "draws": [[2.0], [2.2]]}
    base = np.array([1.1, 2.1])
    assert vamo["delta_m"] == pytest.approx(-np.mean((np.array([2.1, 2.2]) - base) / base) * 100)
    assert results["methods"]["stl"]["delta_m"] == 0.0
    assert vamo["mean_rank"] == 1.0 and vamo["metrics"]["cost"]["cart"]["mean"] == 1.0
    table = markdown_table(results)
    assert "| vamo | 2.100 (no CI) | 2.200 (no CI) |" in table and "fewer than 3 seeds" in table  # 2 seeds
    write_results(tmp_path, results, table)
    assert json.loads((tmp_path / "results.json").read_text())["methods"]["vamo"]["delta_m"] == vamo["delta_m"]
    history = {"steps": np.arange(20), "losses": np.ones((2, 20, 2)), "weights": np.full((2, 20, 2), 0.5),
               "val_steps": np.array([10, 20]), "val_losses": np.ones((2, 2, 2))}
    paths = plot_training(tmp_path, {"stl": history, "vamo": history}, ["gmv", "cart"]) + [plot_scores(tmp_path, results)]
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
    plot_scores(tmp_path, results)
    from matplotlib.image import imread

    assert imread(tmp_path / "losses.png").shape[1] < 2500  # MAX_TASK_PANELS panels wide, not 8


def _eight_seeds():
    rng = np.random.default_rng(0)
    stl = rng.uniform(80.0, 120.0, (8, 3))
    noise = np.array([1.0, -1.0, 2.0, -2.0, 3.0, -3.0, 0.5, -0.5])[:, None] * [4.0, 6.0, 5.0]  # symmetric, mean 0
    return {"stl": stl, "big": 1.5 * stl + rng.normal(0.0, 1.0, (8, 3)), "noise": stl + noise}


def test_a_large_improvement_is_resolved_pure_noise_is_not_and_the_table_marks_only_the_first():
    results = summarize(_eight_seeds(), ["gmv", "dir_gmv", "cart"])
    big, noise = (results["methods"][m]["comparisons"]["stl"] for m in ("big", "noise"))
    assert big["delta_m"]["resolved"] and big["delta_m"]["high"] < -40.0
    assert all(big["per_task"][t]["resolved"] for t in results["tasks"])
    assert not noise["delta_m"]["resolved"] and noise["delta_m"]["low"] < 0.0 < noise["delta_m"]["high"]
    assert not any(noise["per_task"][t]["resolved"] for t in results["tasks"])
    assert big["probability_of_improvement"]["mean"] > 0.9
    rows = {line.split(" | ")[0][2:]: line for line in markdown_table(results).splitlines() if line.startswith("| ")}
    assert rows["big"].count("*") == 4 and "*" not in rows["noise"] and "*" not in rows["stl"]
    assert "Δm% vs stl [95% CI]" in rows["method"] and "the CI excludes 0" in markdown_table(results)


def test_comparisons_against_the_baseline_and_equal_match_a_direct_computation():
    returns = _eight_seeds()
    returns["equal"] = returns.pop("noise")
    tasks = ["gmv", "dir_gmv", "cart"]
    results = summarize(returns, tasks, extra={"score": returns, "violation_rate": {m: r * 0 for m, r in returns.items()}},
                        ci_seed=3)
    big = results["methods"]["big"]
    assert results["compared_with"] == ["stl", "equal"] and set(big["comparisons"]) == {"stl", "equal"}
    assert set(results["methods"]["stl"]["comparisons"]) == {"equal"}
    assert big["comparisons"]["stl"]["delta_m"]["estimate"] == pytest.approx(big["delta_m"])
    assert big["comparisons"]["equal"]["delta_m"]["estimate"] == pytest.approx(
        delta_m(returns["big"].mean(0), returns["equal"].mean(0)))
    direct = delta_m_ci(returns["big"], returns["equal"], seed=3)
    assert (big["comparisons"]["equal"]["delta_m"]["low"], big["comparisons"]["equal"]["delta_m"]["high"]) == (direct.low, direct.high)
    diff = big["comparisons"]["equal"]["per_task"]["cart"]["estimate"]
    assert diff == pytest.approx(returns["big"][:, 2].mean() - returns["equal"][:, 2].mean())
    assert big["comparisons"]["equal"]["probability_of_improvement"]["mean"] == probability_of_improvement(
        returns["big"], returns["equal"])[0]
    ci = big["per_task_ci"]["gmv"]
    assert ci["low"] < returns["big"][:, 0].mean() < ci["high"]
    assert set(big["metrics"]) == {"score", "violation_rate"} and big["metrics"]["violation_rate"]["cart"]["mean"] == 0.0
    assert summarize(returns, tasks, ci_seed=3) == summarize(returns, tasks, ci_seed=3)  # deterministic
    table = markdown_table(results)
    assert "Δm% vs equal [95% CI]" in table and "†" in table


def test_test_draws_are_averaged_within_each_seed():
    returns = {m: np.repeat(r[..., None], 4, axis=-1) + [-1.0, 1.0, -2.0, 2.0] for m, r in _eight_seeds().items()}
    with_draws = summarize(returns, ["gmv", "dir_gmv", "cart"])
    for entry, r in zip(with_draws["methods"].values(), returns.values()):
        for k, cell in enumerate(entry["per_task"].values()):
            np.testing.assert_array_equal(cell.pop("draws"), r[:, k])
    means = summarize({m: r.mean(-1) for m, r in returns.items()}, ["gmv", "dir_gmv", "cart"])
    for entry in means["methods"].values():
        for cell in entry["per_task"].values():
            assert np.shape(cell.pop("draws"))[1] == 1
    # The variance components split the draws off (traffic); from seed means there is no traffic level.
    for a, b in zip(with_draws["methods"].values(), means["methods"].values()):
        for other in a["comparisons"]:
            drawn, meaned = a["comparisons"][other].pop("variance_components"), b["comparisons"][other].pop(
                "variance_components")
            assert drawn["delta_m"]["draws"] == 4 and meaned["delta_m"]["traffic_variance"] is None
            assert drawn["delta_m"]["markets"] == 1 and drawn["delta_m"]["market_variance"] is None
    assert with_draws == means


def test_traffic_summary_splits_the_paired_delta_m_by_hand():
    # 2 seeds × 2 draws, one task; the baseline's mean is 10.
    base = np.array([[[9.0, 11.0]], [[9.0, 11.0]]])
    method = base + np.array([[[1.0, 3.0]], [[3.0, 5.0]]])  # paired gains (1, 3) and (3, 5)
    out = traffic_summary({"stl": base, "equal": method}, ["gmv"])
    # Δm% difference per (seed, draw) = −100·gain/10: (−10, −30) and (−30, −50).
    split = out["methods"]["equal"]["delta_m_vs_stl"]
    assert split["traffic_variance"] == pytest.approx(200.0)  # var(−10, −30) = var(−30, −50) = 200
    assert split["seed_mean_variance"] == pytest.approx(200.0)  # var(−20, −40)
    assert split["seed_variance"] == pytest.approx(100.0)
    assert out["methods"]["stl"]["per_task"]["gmv"]["traffic_variance"] == pytest.approx(2.0)
    assert out["draws"] == 2 and "delta_m_vs_stl" not in out["methods"]["stl"]


def test_the_plots_draw_the_ci_not_the_std(tmp_path, monkeypatch):
    results = summarize(_eight_seeds(), ["gmv", "dir_gmv", "cart"])
    figures = []
    monkeypatch.setattr(figures_module, "save_figure", lambda fig, path: figures.append(fig) or path)
    plot_delta_m(tmp_path, results)
    plot_scores(tmp_path, results)
    from matplotlib.container import BarContainer

    delta_ax, gmv_ax = figures[0].axes[0], figures[1].axes[0]
    delta_bars, gmv_bars = ([c for c in ax.containers if isinstance(c, BarContainer)] for ax in (delta_ax, gmv_ax))
    rows = [r for r in results["methods"] if r != "stl"]
    for i, row in enumerate(rows):
        ci = results["methods"][row]["comparisons"]["stl"]["delta_m"]
        segment = delta_bars[i].errorbar.lines[2][0].get_segments()[0]
        np.testing.assert_allclose(sorted(segment[:, 1]), [ci["low"], ci["high"]])
    for i, method in enumerate(results["methods"]):
        ci = results["methods"][method]["per_task_ci"]["gmv"]
        segment = gmv_bars[i].errorbar.lines[2][0].get_segments()[0]
        np.testing.assert_allclose(sorted(segment[:, 1]), [ci["low"], ci["high"]])
    assert [t.get_text() for t in delta_ax.get_xticklabels()] == ["big*", "noise"]


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
