"""The figures of a run: task weights, training and validation losses, scores and Δm% with their
confidence intervals. Each PNG is written to a temporary name and renamed (`save_figure`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from vamo_jax.report import MAX_TASK_PANELS, RESOLVED_MARKS


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


def _error_bar(ci: dict) -> list[list[float]]:
    """(2, 1) asymmetric error bar from an interval; zero length where there is none."""
    if ci["low"] is None:
        return [[0.0], [0.0]]
    return [[max(ci["estimate"] - ci["low"], 0.0)], [max(ci["high"] - ci["estimate"], 0.0)]]


def plot_scores(workdir: Path, results: dict) -> Path:
    """Scored-day score per task and method: bars at the seed mean, error bars the 95% bootstrap CI
    of the mean (none below `stats.MIN_SEEDS` seeds), every seed a dot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks, methods = results["tasks"][:MAX_TASK_PANELS], list(results["methods"])
    fig, axes = plt.subplots(1, len(tasks), figsize=(4 * len(tasks), 3), squeeze=False)
    for k, task in enumerate(tasks):
        ax = axes[0][k]
        for i, method in enumerate(methods):
            entry = results["methods"][method]["per_task"][task]
            ci = results["methods"][method]["per_task_ci"][task]
            ax.bar(i, entry["mean"], yerr=_error_bar(ci), alpha=0.6, capsize=3)
            ax.scatter(np.full(len(entry["seeds"]), i), entry["seeds"], color="k", s=8, zorder=3)
        ax.set(title=f"{task}: score (95% CI)", xticks=range(len(methods)))
        ax.set_xticklabels(methods, rotation=30)
    return save_figure(fig, Path(workdir) / "scores.png")


def plot_delta_m(workdir: Path, results: dict, name: str = "delta_m.png") -> Path:
    """Δm% against the baseline per row: a bar at the Δm% of the seed means, error bars its 95%
    paired bootstrap CI (none below `stats.MIN_SEEDS` seeds), every seed a dot; a resolved row's
    label ends in `*`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in results["methods"] if r != results["baseline"]]
    fig, ax = plt.subplots(figsize=(max(4.0, 0.6 * len(rows) + 2), 3.2))
    for i, row in enumerate(rows):
        entry = results["methods"][row]
        ci = entry["comparisons"][results["baseline"]]["delta_m"]
        ax.bar(i, entry["delta_m"], yerr=_error_bar(ci), alpha=0.6, capsize=3)
        ax.scatter(np.full(len(entry["delta_m_seeds"]), i), entry["delta_m_seeds"], color="k", s=8, zorder=3)
    ax.axhline(0.0, color="grey", lw=0.8)
    ax.set(title=f"Δm% against {results['baseline']} (lower is better; 95% CI)", xticks=range(len(rows)))
    labels = [row + RESOLVED_MARKS[0] * results["methods"][row]["comparisons"][results["baseline"]]["delta_m"]["resolved"]
              for row in rows]
    ax.set_xticklabels(labels, rotation=35, ha="right")
    return save_figure(fig, Path(workdir) / name)


def _smooth(x: np.ndarray, window: int = 10) -> np.ndarray:
    if len(x) < window:
        return x
    return np.convolve(x, np.ones(window) / window, mode="same")


def save_figure(fig, path: Path) -> Path:
    fig.tight_layout()
    tmp = path.with_name(f".{path.stem}.tmp.png")  # the suffix tells matplotlib the format
    fig.savefig(tmp, dpi=90)
    os.replace(tmp, path)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path
