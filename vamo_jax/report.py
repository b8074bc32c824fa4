"""Results of a run: `results.json`, a Table-1-shaped markdown table, and plots."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from vamo_jax.mtl.metrics import delta_m, mean_rank


def summarize(
    returns: Mapping[str, np.ndarray],
    tasks: Sequence[str],
    baseline: str = "stl",
    extra: Mapping[str, Mapping[str, np.ndarray]] | None = None,
) -> dict:
    """The results dictionary.

    Δm% (paper §4.1) is taken over the tasks where the baseline's mean return is > 0 (a task
    whose baseline earns nothing has no relative change); `tasks_left_out` counts the others.

    Args:
      returns: method -> (S, K) per-seed, per-task test-day return.
      tasks: the K task names.
      baseline: the method Δm% is measured against (STL in the paper).
      extra: optional metric name -> method -> (S, K) further per-task metrics (cost, ROI, …).

    Returns:
      {"tasks": [...], "baseline": name, "methods": {name: {"per_task": {task: {"mean", "std",
      "seeds"}}, "delta_m": Δm% of the seed means, "delta_m_seeds": Δm% of each seed,
      "delta_m_std": their std, "tasks_left_out": …, "mean_rank": …, "metrics": {metric: {task:
      {"mean", "std", "seeds"}}}}}}, with a "note" when tasks are left out.
    """
    if baseline not in returns:
        raise ValueError(f"the baseline {baseline!r} has no results; methods: {sorted(returns)}.")
    base_mean = np.asarray(returns[baseline], np.float64).mean(0)
    scored = base_mean > 0
    ranks = mean_rank({m: np.asarray(r).mean(0) for m, r in returns.items()})
    out = {"tasks": list(tasks), "baseline": baseline, "methods": {}}
    if not scored.all():
        left_out = [t for t, s in zip(tasks, scored) if not s]
        out["note"] = (f"Δm% is over {int(scored.sum())} of {len(tasks)} tasks: the baseline earns nothing on "
                       f"{', '.join(left_out[:6])}{' …' if len(left_out) > 6 else ''}.")
    for method, r in returns.items():
        r = np.asarray(r, np.float64)
        dm, per_seed = delta_m_scored(r, base_mean)
        entry = {
            "per_task": _per_task(r, tasks),
            "delta_m": dm,
            "delta_m_seeds": per_seed,
            "delta_m_std": float(np.std(per_seed)) if per_seed else float("nan"),
            "tasks_left_out": int((~scored).sum()),
            "mean_rank": ranks[method],
        }
        if extra:
            entry["metrics"] = {name: _per_task(np.asarray(v[method], np.float64), tasks) for name, v in extra.items()}
        out["methods"][method] = entry
    return out


def delta_m_scored(returns: np.ndarray, baseline_mean: np.ndarray) -> tuple[float, list[float]]:
    """Δm% of the seed means and of each seed, over the tasks where the baseline's mean is > 0.

    Args:
      returns: (S, K) a method's per-seed, per-task returns.
      baseline_mean: (K,) the baseline's seed-mean returns.

    Returns:
      (Δm% of the seed means, [Δm% of each seed]); NaN and [] when the baseline earns nothing.
    """
    scored = np.asarray(baseline_mean) > 0
    if not scored.any():
        return float("nan"), []
    r, b = np.asarray(returns, np.float64)[:, scored], np.asarray(baseline_mean, np.float64)[scored]
    return delta_m(r.mean(0), b), [delta_m(row, b) for row in r]


def _per_task(values: np.ndarray, tasks: Sequence[str]) -> dict:
    return {
        t: {"mean": float(values[:, k].mean()), "std": float(values[:, k].std()), "seeds": values[:, k].tolist()}
        for k, t in enumerate(tasks)
    }


MAX_TASK_PANELS = 6
"""Tables and figures show per-task columns and panels for at most this many tasks (K > 3:
per-category tasks); every task's numbers are always in results.json."""


def markdown_table(results: dict, title: str = "Test-day return per task (mean ± std over seeds)") -> str:
    tasks = results["tasks"] if len(results["tasks"]) <= MAX_TASK_PANELS else []
    lines = [
        f"**{title}**; Δm% against {results['baseline']} (lower is better).",
        "",
        "| method | " + " | ".join(tasks) + " | Δm% | mean rank |",
        "|---|" + "---:|" * (len(tasks) + 2),
    ]
    for method, entry in results["methods"].items():
        cells = [f"{entry['per_task'][t]['mean']:.3f} ± {entry['per_task'][t]['std']:.3f}" for t in tasks]
        dm = f"{entry['delta_m']:+.2f} ± {entry['delta_m_std']:.2f}"
        lines.append(f"| {method} | " + " | ".join(cells) + f" | {dm} | {entry['mean_rank']:.2f} |")
    if not tasks:
        lines += ["", f"{len(results['tasks'])} tasks: their per-task returns are in results.json."]
    if "note" in results:
        lines += ["", results["note"]]
    return "\n".join(lines)


def write_results(workdir: Path, results: dict, markdown: str) -> None:
    workdir = Path(workdir)
    (workdir / "results.json").write_text(json.dumps(results, indent=2))
    (workdir / "results.md").write_text(markdown + "\n")


WEIGHT_PANELS_PER_ROW = 4


def plot_training(workdir: Path, histories: Mapping[str, dict], tasks: Sequence[str],
                  weighted: Sequence[str] | None = None) -> list[Path]:
    """Task weights over training (a grid: one panel per weighted row, one per target for a
    cross-task row), train and validation loss per task; one PNG each. `weighted`: the rows whose
    weights mean something (default: all but stl). Weights: (S, steps, K) or (S, steps, K, K)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    weighted = {m: histories[m] for m in (weighted if weighted is not None else histories) if m != "stl"}
    # One panel per weighted row; a cross-task row's weights are (K, K): a panel per target k
    # with its weights over the sources.
    panels = [(f"{m}: task weights", h["steps"], h["weights"]) if h["weights"].ndim == 3 else
              (f"{m}: sources for {tasks[k]}", h["steps"], h["weights"][..., k])
              for m, h in weighted.items() for k in range(h["weights"].shape[-1] if h["weights"].ndim == 4 else 1)]
    if panels:
        cols = min(len(panels), WEIGHT_PANELS_PER_ROW)
        rows = -(-len(panels) // cols)
        fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3 * rows), squeeze=False)
        for ax in axes.flat[len(panels):]:
            ax.set_visible(False)
        for ax, (title, steps, w) in zip(axes.flat, panels):  # w: (S, steps, K)
            for k, task in enumerate(tasks):
                ax.plot(steps, w[:, :, k].mean(0), label=task)
                if len(tasks) <= MAX_TASK_PANELS:
                    ax.fill_between(steps, w[:, :, k].min(0), w[:, :, k].max(0), alpha=0.2)
            ax.set(title=title, xlabel="step", ylim=(0, 1))
        if len(tasks) <= MAX_TASK_PANELS:
            axes[0][0].legend()
        paths.append(save_figure(fig, Path(workdir) / "task_weights.png"))
    shown = tasks[:MAX_TASK_PANELS]
    fig, axes = plt.subplots(2, len(shown), figsize=(4 * len(shown), 6), squeeze=False)
    for method, h in histories.items():
        for k, task in enumerate(shown):
            axes[0][k].plot(h["steps"], _smooth(h["losses"][:, :, k].mean(0)), label=method)
            axes[1][k].plot(h["val_steps"], h["val_losses"][:, :, k].mean(0), marker="o", label=method)
            axes[0][k].set(title=f"{task}: training loss", yscale="log")
            axes[1][k].set(title=f"{task}: validation loss (day 9)", xlabel="step", yscale="log")
    axes[0][0].legend()
    paths.append(save_figure(fig, Path(workdir) / "losses.png"))
    return paths


def plot_returns(workdir: Path, results: dict) -> Path:
    """Test-day return per task and method, bars at the seed mean with every seed as a dot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks, methods = results["tasks"][:MAX_TASK_PANELS], list(results["methods"])
    fig, axes = plt.subplots(1, len(tasks), figsize=(4 * len(tasks), 3), squeeze=False)
    for k, task in enumerate(tasks):
        ax = axes[0][k]
        for i, method in enumerate(methods):
            entry = results["methods"][method]["per_task"][task]
            ax.bar(i, entry["mean"], yerr=entry["std"], alpha=0.6, capsize=3)
            ax.scatter(np.full(len(entry["seeds"]), i), entry["seeds"], color="k", s=8, zorder=3)
        ax.set(title=f"{task}: test-day return", xticks=range(len(methods)))
        ax.set_xticklabels(methods, rotation=30)
    return save_figure(fig, Path(workdir) / "returns.png")


def plot_delta_m(workdir: Path, results: dict, name: str = "delta_m.png") -> Path:
    """Δm% against the baseline per row: a bar at the Δm% of the seed means, every seed a dot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in results["methods"] if r != results["baseline"]]
    fig, ax = plt.subplots(figsize=(max(4.0, 0.6 * len(rows) + 2), 3.2))
    for i, row in enumerate(rows):
        entry = results["methods"][row]
        ax.bar(i, entry["delta_m"], yerr=entry["delta_m_std"], alpha=0.6, capsize=3)
        ax.scatter(np.full(len(entry["delta_m_seeds"]), i), entry["delta_m_seeds"], color="k", s=8, zorder=3)
    ax.axhline(0.0, color="grey", lw=0.8)
    ax.set(title=f"Δm% against {results['baseline']} (lower is better)", xticks=range(len(rows)))
    ax.set_xticklabels(rows, rotation=35, ha="right")
    return save_figure(fig, Path(workdir) / name)


def _smooth(x: np.ndarray, window: int = 10) -> np.ndarray:
    if len(x) < window:
        return x
    return np.convolve(x, np.ones(window) / window, mode="same")


def save_figure(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path
