"""Results of a run: `results.json`, a Table-1-shaped markdown table, and plots.

Every file is written to a temporary name and then renamed, so a run that fails (or is killed)
while writing leaves either the complete file or none, never half of one.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from vamo_jax.mtl.metrics import delta_m, mean_rank


def summarize(
    returns: Mapping[str, np.ndarray],
    tasks: Sequence[str],
    baseline: str = "stl",
    extra: Mapping[str, Mapping[str, np.ndarray]] | None = None,
) -> dict:
    """The results dictionary.

    Args:
      returns: method -> (S, K) per-seed, per-task test-day return.
      tasks: the K task names.
      baseline: the method Δm% is measured against (STL in the paper).
      extra: optional metric name -> method -> (S, K) further per-task metrics (cost, ROI, …).

    Returns:
      {"tasks": [...], "baseline": name, "methods": {name: {"per_task": {task: {"mean", "std",
      "seeds"}}, "delta_m": Δm% of the seed means, "delta_m_std": std over seeds of per-seed Δm%,
      "mean_rank": …, "metrics": {metric: {task: {"mean", "std", "seeds"}}}}}}
    """
    if baseline not in returns:
        raise ValueError(f"the baseline {baseline!r} has no results; methods: {sorted(returns)}.")
    base_mean = np.asarray(returns[baseline]).mean(0)
    zero = [t for t, b in zip(tasks, base_mean) if b == 0]
    ranks = mean_rank({m: np.asarray(r).mean(0) for m, r in returns.items()})
    out = {"tasks": list(tasks), "baseline": baseline, "methods": {}}
    if zero:
        out["note"] = f"Δm% is undefined (NaN): the baseline's return is 0 on task(s) {', '.join(zero)}."
    for method, r in returns.items():
        r = np.asarray(r, np.float64)
        per_seed = [np.nan if zero else delta_m(row, base_mean) for row in r]
        entry = {
            "per_task": _per_task(r, tasks),
            "delta_m": np.nan if zero else delta_m(r.mean(0), base_mean),
            "delta_m_std": float(np.std(per_seed)),
            "mean_rank": ranks[method],
        }
        if extra:
            entry["metrics"] = {name: _per_task(np.asarray(v[method], np.float64), tasks) for name, v in extra.items()}
        out["methods"][method] = entry
    return out


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


RESULT_FILES = ("results.json", "results.md", "*.png")
"""What a run writes in its workdir besides config.json and checkpoints (globs)."""

NOT_IN_FINGERPRINT = ("train.progress",)
"""Config fields that cannot change a run's numbers: a run may resume with them changed."""


def config_record(config: Any) -> dict:
    """What `config.json` and `results.json` record of the run's config: its name, seeds and
    steps, its fingerprint (`config.fingerprint` without `NOT_IN_FINGERPRINT`) and every value."""
    from vamo_jax import config as config_lib

    return {"name": config.name, "seeds": config.train.num_seeds, "steps": config.train.steps,
            "fingerprint": config_lib.fingerprint(config, ignore=NOT_IN_FINGERPRINT),
            "config": config_lib.to_dict(config)}


def write_atomic(path: Path, text: str) -> None:
    """Writes `text` to `path` through a temporary file in the same folder and a rename."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_results(workdir: Path, results: dict, markdown: str) -> None:
    workdir = Path(workdir)
    write_atomic(workdir / "results.json", json.dumps(results, indent=2, default=str))
    write_atomic(workdir / "results.md", markdown + "\n")


def plot_training(workdir: Path, histories: Mapping[str, dict], tasks: Sequence[str]) -> list[Path]:
    """Task weights over training, train and validation loss per task; one PNG each."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    weighted = {m: h for m, h in histories.items() if m != "stl"}
    if weighted:
        fig, axes = plt.subplots(1, len(weighted), figsize=(4 * len(weighted), 3), squeeze=False)
        for ax, (method, h) in zip(axes[0], weighted.items()):
            w = h["weights"]  # (S, steps, K)
            for k, task in enumerate(tasks):
                ax.plot(h["steps"], w[:, :, k].mean(0), label=task)
                if len(tasks) <= MAX_TASK_PANELS:
                    ax.fill_between(h["steps"], w[:, :, k].min(0), w[:, :, k].max(0), alpha=0.2)
            ax.set(title=f"{method}: task weights", xlabel="step", ylim=(0, 1))
        if len(tasks) <= MAX_TASK_PANELS:
            axes[0][0].legend()
        paths.append(_save(fig, Path(workdir) / "task_weights.png"))
    shown = tasks[:MAX_TASK_PANELS]
    fig, axes = plt.subplots(2, len(shown), figsize=(4 * len(shown), 6), squeeze=False)
    for method, h in histories.items():
        for k, task in enumerate(shown):
            axes[0][k].plot(h["steps"], _smooth(h["losses"][:, :, k].mean(0)), label=method)
            axes[1][k].plot(h["val_steps"], h["val_losses"][:, :, k].mean(0), marker="o", label=method)
            axes[0][k].set(title=f"{task}: training loss", yscale="log")
            axes[1][k].set(title=f"{task}: validation loss (day 9)", xlabel="step", yscale="log")
    axes[0][0].legend()
    paths.append(_save(fig, Path(workdir) / "losses.png"))
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
    return _save(fig, Path(workdir) / "returns.png")


def _smooth(x: np.ndarray, window: int = 10) -> np.ndarray:
    if len(x) < window:
        return x
    return np.convolve(x, np.ones(window) / window, mode="same")


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    tmp = path.with_name(f".{path.stem}.tmp.png")  # the suffix tells matplotlib the format
    fig.savefig(tmp, dpi=90)
    os.replace(tmp, path)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path
