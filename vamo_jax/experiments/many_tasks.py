"""Many tasks: Δm% against K. Each arm of `config.sweep` (a task count K) is a run of its own,
every method against its own STL on K per-category tasks (`vamo_jax.run.run` in `<workdir>/<arm>`,
with its full table); this module adds the reading across K: `results.md` (a Δm%-vs-K table)
and `delta_m_vs_k.png`.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import jax
import numpy as np

from vamo_jax.config import SweepConfig
from vamo_jax import run as run_lib
from vamo_jax.figures import save_figure
from vamo_jax.report import write_results


def run(config, workdir, resume: bool = False) -> dict:
    workdir, start = Path(workdir), time.perf_counter()
    arms = config.arms()
    if not all("stl" in arm.train.methods for _, arm in arms):
        raise ValueError("many_tasks: every arm needs 'stl' among train.methods (its baseline).")
    per_k = {}
    for variant, arm in arms:
        single = dataclasses.replace(arm, name=f"{config.name} {variant.name}", experiment="sweep",
                                     sweep=SweepConfig())
        per_k[variant.name] = run_lib.run(single, workdir / variant.folder, resume)
    results = {"arms": per_k, "seeds": config.train.num_seeds, "steps": config.train.steps,
               "total_seconds": time.perf_counter() - start,
               "config": {"name": config.name, "seeds": config.train.num_seeds, "steps": config.train.steps}}
    methods = [m for m in config.train.methods if m != "stl"]
    table = markdown(per_k, methods, config)
    if jax.process_index() == 0:  # every process holds the results; one writes them
        write_results(workdir, results, table)
        plot(workdir, per_k, methods)
    print("\n" + table)
    return results


def markdown(per_k: dict, methods, config) -> str:
    lines = [
        (f"**Δm% against STL with K per-category tasks** (lower is better; mean ± std over "
         f"{config.train.num_seeds} seeds, {config.train.steps} steps; training steps/s in brackets)."),
        "",
        "| arm | " + " | ".join(methods) + " | tasks left out |",
        "|---|" + "---:|" * (len(methods) + 1),
    ]
    for arm, results in per_k.items():
        rows = results["methods"]
        cells = [f"{rows[m]['delta_m']:+.1f} ± {rows[m]['delta_m_std']:.1f} "
                 f"({results['timing'][m].get('steps_per_s', float('nan')):.1f}/s)" for m in methods]
        lines.append(f"| {arm} | " + " | ".join(cells) + f" | {rows['stl']['tasks_left_out']} |")
    return "\n".join(lines)


def plot(workdir: Path, per_k: dict, methods) -> Path:
    """Δm% against the arm (K) per method, every seed a dot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    arms = list(per_k)
    for m in methods:
        line, = ax.plot(range(len(arms)), [per_k[a]["methods"][m]["delta_m"] for a in arms], marker="o", label=m)
        for i, a in enumerate(arms):
            seeds = per_k[a]["methods"][m]["delta_m_seeds"]
            ax.scatter(np.full(len(seeds), i), seeds, s=6, color=line.get_color(), alpha=0.5)
    ax.axhline(0.0, color="grey", lw=0.8)
    ax.set(xticks=range(len(arms)), ylabel="Δm% vs STL (lower is better)", title="Δm% vs K")
    ax.set_xticklabels(arms)
    ax.legend(fontsize=7)
    return save_figure(fig, Path(workdir) / "delta_m_vs_k.png")
