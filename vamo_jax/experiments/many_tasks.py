"""Many tasks: the cost of a training step as K grows, VAMO's fast path against the zoo.

The paper has K = 3. Its question "what does VAMO cost at K = 8, 32, 64?" is answered here on
the real policy and the real bidding batches, with the batch's examples regrouped into K
synthetic tasks (example i of a batch belongs to task i mod K): the policy, its heads and its
per-example losses are unchanged, only the grouping the weighting sees has K tasks. Each
method's step (one seed, jitted `lax.scan` of `CHUNK` steps, as in training) is timed after a
warm-up; the table gives seconds per step and the ratio to equal weighting.

Not done: Δm% at K ≫ 3. The data spec has three value channels (GMV, Dir-GMV, CartCnt) and
the evaluator, the model's task heads and STL are built per value channel, so K real tasks need
new campaign types (or per-category tasks) in the simulator, the data spec and the evaluator.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import jax
import numpy as np

from vamo_jax.experiments.compare import _problem
from vamo_jax.train import init_train_states, make_chunk

TASK_COUNTS = (3, 8, 32, 64)
METHODS = ("equal", "vamo", "vamo_every_step", "famo", "pcgrad", "mgda")
CHUNK = 5  # steps per timed call: one VAMO refresh (update_every=5) and four cached steps


def regrouped(problem, num_tasks: int):
    """The problem with every batch's example i assigned to task i mod `num_tasks`."""
    def task_of(batch):
        return jax.numpy.arange(problem.task_of(batch).shape[0]) % num_tasks

    return problem._replace(num_tasks=num_tasks, task_of=task_of)


def time_method(problem, method: str, train_config, repeats: int) -> float:
    """Median seconds per training step of `method` (one seed) after a warm-up chunk."""
    name, config = method, dataclasses.replace(train_config, num_seeds=1, log_every=CHUNK, steps=CHUNK,
                                               checkpoint_every=CHUNK, methods=(method,))
    if method == "vamo_every_step":
        name, config = "vamo", dataclasses.replace(config, methods=("vamo",), update_every=1)
    states = init_train_states(problem, name, config)
    chunk = make_chunk(problem, name, config)
    states, _ = chunk(states, np.int32(0), problem.data)
    jax.block_until_ready(states)
    times = []
    for r in range(repeats):
        tic = time.perf_counter()
        states, metrics = chunk(states, np.int32(CHUNK * (r + 1)), problem.data)
        jax.block_until_ready(metrics)
        times.append((time.perf_counter() - tic) / CHUNK)
    return float(np.median(times))


def run(config, workdir, resume: bool = False, task_counts=TASK_COUNTS, methods=METHODS, repeats: int = 3) -> dict:
    workdir = Path(workdir)
    start = time.perf_counter()
    base = _problem(config.data, config.model, config.train.batch_size)
    seconds = {}
    for k in task_counts:
        problem = regrouped(base, k)
        seconds[k] = {m: time_method(problem, m, config.train, repeats) for m in methods}
        print(f"K={k}: " + ", ".join(f"{m} {s * 1e3:.1f} ms" for m, s in seconds[k].items()), flush=True)
    results = {
        "seconds_per_step": {str(k): v for k, v in seconds.items()},
        "ratio_to_equal": {str(k): {m: s / v["equal"] for m, s in v.items()} for k, v in seconds.items()},
        "batch_size": config.train.batch_size,
        "device": jax.devices()[0].device_kind,
        "total_seconds": time.perf_counter() - start,
    }
    table = markdown(results, methods)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "results.json").write_text(json.dumps(results, indent=2))
    (workdir / "results.md").write_text(table + "\n")
    plot(workdir, seconds, methods)
    print("\n" + table)
    return results


def markdown(results: dict, methods) -> str:
    lines = [
        f"**Cost per training step as K grows** (ms per step, ×equal in brackets; batch "
        f"{results['batch_size']}, one seed, {results['device']}).",
        "",
        "| K | " + " | ".join(methods) + " |",
        "|---:|" + "---:|" * len(methods),
    ]
    for k, row in results["seconds_per_step"].items():
        ratios = results["ratio_to_equal"][k]
        lines.append(f"| {k} | " + " | ".join(f"{row[m] * 1e3:.1f} (×{ratios[m]:.1f})" for m in methods) + " |")
    return "\n".join(lines)


def plot(workdir: Path, seconds: dict, methods) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    ks = sorted(seconds)
    for m in methods:
        ax.plot(ks, [seconds[k][m] * 1e3 for k in ks], marker="o", label=m)
    ax.set(xscale="log", yscale="log", xlabel="K (tasks)", ylabel="ms per step", title="cost per step vs K")
    ax.set_xticks(ks)
    ax.set_xticklabels(ks)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path = workdir / "cost_vs_k.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
