"""Sweeps: one experiment is a base config and named variants, each trained and evaluated by
`compare.train_and_evaluate` in its own sub-workdir, all against one STL baseline.

A variant is a row label and `--set`-style overrides of the base config (its methods included),
so a command-line `--set train.steps=200` reaches every variant. The baseline (STL on the base
config) is trained once per experiment in `<workdir>/stl`; every row's Δm% is measured against
it. Output: `results.json`, `results.md` (the Table-1-shaped table of `report.markdown_table`),
`delta_m.png` (Δm% per row, every seed a dot), `returns.png` and, for weighted methods,
`task_weights.png`.
"""

from __future__ import annotations

import dataclasses
import re
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from vamo_jax.config import apply_overrides
from vamo_jax.data.tasks import task_names
from vamo_jax.experiments import compare
from vamo_jax.mtl.metrics import delta_m
from vamo_jax.report import config_record, markdown_table, plot_returns, plot_training, summarize, write_results

BASELINE = "stl"


@dataclasses.dataclass(frozen=True)
class Variant:
    """One arm of a sweep.

    Attributes:
      name: the row label; a variant that trains several methods gives one row per method,
        labelled `method` when `name` is empty and `name: method` otherwise.
      overrides: `a.b=value` strings applied to the base config, as `--set` would.
    """

    name: str
    overrides: tuple[str, ...] = ()

    @property
    def folder(self) -> str:
        """The sub-workdir's name: the label with anything but letters, digits, `.` and `-` as `_`."""
        return re.sub(r"[^A-Za-z0-9.\-]+", "_", self.name).strip("_") or "all"

    def config(self, base):
        return apply_overrides(base, self.overrides)

    def label(self, method: str, num_methods: int) -> str:
        if not self.name:
            return method
        return self.name if num_methods == 1 else f"{self.name}: {method}"


def baseline_variant() -> Variant:
    return Variant(BASELINE, ("train.methods=stl",))


_DEFAULT = object()


def run_sweep(config, workdir, variants: Sequence[Variant], *, resume: bool = False, title: str = "",
              baseline: Variant | None = _DEFAULT) -> dict:
    """Trains the baseline and every variant, writes the table, JSON and figures; returns the results.

    Args:
      config: the base config (the experiment's, with command-line overrides applied).
      workdir: the experiment's folder; variant `v` writes to `workdir/<v.folder>`.
      variants: the arms, in table order.
      baseline: the STL run (default: STL on the base config); None when a variant trains STL
        itself (its row `stl` is then the baseline).
    """
    workdir = Path(workdir)
    start = time.perf_counter()
    baseline = baseline_variant() if baseline is _DEFAULT else baseline
    returns, costs, histories, timing, settings = {}, {}, {}, {}, {}
    for variant in ([baseline] if baseline else []) + list(variants):
        vconfig = variant.config(config)
        tic = time.perf_counter()
        _, metrics, history, vtiming = compare.train_and_evaluate(vconfig, workdir / variant.folder, resume)
        methods = vconfig.train.methods
        for method in methods:
            row = variant.label(method, len(methods))
            if row in returns:
                raise ValueError(f"two variants give the row {row!r}; name them apart.")
            returns[row], costs[row] = metrics[method]["return"], metrics[method]["cost"]
            if method != "stl":
                histories[row] = history[method]
            timing[row] = vtiming[method]
        timing[f"{variant.folder} (wall, with data and compilation)"] = time.perf_counter() - tic
        settings[variant.name or "all"] = list(variant.overrides)
    tasks = task_names(config.data.env, config.data.num_tasks)
    results = summarize(returns, tasks, baseline=baseline.label("stl", 1) if baseline else BASELINE,
                        extra={"cost": costs})
    base_mean = np.asarray(returns[results["baseline"]]).mean(0)
    for row, entry in results["methods"].items():
        entry["delta_m_seeds"] = [np.nan if "note" in results else delta_m(r, base_mean)
                                  for r in np.asarray(returns[row], np.float64)]
    timing["total_seconds"] = time.perf_counter() - start
    results["timing"] = timing
    results["variants"] = settings
    results["config"] = config_record(config)
    table = markdown_table(
        results, title=title or f"{config.name}: test-day (day {config.data.test_day}) return per task"
    )
    table += (f"\n\n{config.train.num_seeds} seeds × {config.train.steps} steps; "
              f"wall time {timing['total_seconds']:.0f} s.")
    write_results(workdir, results, table)
    plot_delta_m(workdir, results)
    plot_returns(workdir, results)
    if histories:
        plot_training(workdir, histories, tasks)
    print("\n" + table)
    return results


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
    fig.tight_layout()
    path = Path(workdir) / name
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
