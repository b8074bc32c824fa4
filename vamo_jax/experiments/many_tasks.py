"""Many tasks: Δm% and the cost of a training step as K grows, VAMO's fast path against the zoo.

The paper has K = 3. Its open question, "what do VAMO and the zoo give and cost at K = 8, 32,
64?", is answered in two halves on the config's market (`configs/many_tasks.py`):

* Δm%: K per-category learning tasks (`data.num_tasks = K`, `vamo_jax.data.tasks`: each campaign
  type's advertisers split into same-category groups, a group a task) for K in
  `DELTA_TASK_COUNTS`; STL (K models) and each method train on days 1–8 and are scored on day 10
  as in table1, every seed at once. Δm% is taken over the tasks where STL's mean return is > 0
  (a task of one advertiser can earn nothing); the table says how many tasks that left out.
* cost: each method's step (one seed, jitted `lax.scan` of `CHUNK` steps, as in training) on the
  same policy and batches, with the batch's examples regrouped into K synthetic tasks (example i
  belongs to task i mod K) so every K is timed on identical data; median seconds per step after
  a warm-up, and the ratio to equal weighting.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import jax
import numpy as np

from vamo_jax.config import apply_overrides
from vamo_jax.experiments import compare
from vamo_jax.experiments.compare import _problem
from vamo_jax.mtl.metrics import delta_m
from vamo_jax.train import init_train_states, make_chunk

TASK_COUNTS = (3, 8, 32, 64)
METHODS = ("equal", "vamo", "vamo_every_step", "famo", "pcgrad", "mgda")
DELTA_TASK_COUNTS = (8, 32, 64)
DELTA_METHODS = ("stl", "equal", "vamo", "famo", "pcgrad", "mgda")
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


def cost_per_step(config, task_counts, methods, repeats: int) -> dict:
    """{K: {method: median seconds per step}} on the config's problem regrouped into K tasks."""
    base = _problem(config.data, config.model, config.train.batch_size)
    seconds = {}
    for k in task_counts:
        problem = regrouped(base, k)
        seconds[k] = {m: time_method(problem, m, config.train, repeats) for m in methods}
        print(f"K={k}: " + ", ".join(f"{m} {s * 1e3:.1f} ms" for m, s in seconds[k].items()), flush=True)
    return seconds


def delta_m_scored(returns: np.ndarray, baseline_mean: np.ndarray) -> tuple[float, list[float], int]:
    """Δm% of the seed means and of each seed over the tasks where the baseline is > 0.

    Args:
      returns: (S, K) a method's per-seed, per-task returns.
      baseline_mean: (K,) the baseline's seed-mean returns.
    Returns:
      (Δm% of the seed means, [Δm% of each seed], number of tasks left out).
    """
    scored = baseline_mean > 0
    if not scored.any():
        raise ValueError("many_tasks: the baseline earns nothing on every task; Δm% is undefined.")
    r, b = np.asarray(returns, np.float64)[:, scored], np.asarray(baseline_mean, np.float64)[scored]
    return delta_m(r.mean(0), b), [delta_m(row, b) for row in r], int((~scored).sum())


def delta_m_vs_k(config, workdir: Path, task_counts, methods, resume: bool) -> dict:
    """Trains and evaluates `methods` (STL first) on K per-category tasks for each K."""
    if "stl" not in methods:
        raise ValueError("many_tasks: the Δm% half needs 'stl' among its methods (the baseline).")
    out = {}
    for k in task_counts:
        tic = time.perf_counter()
        kconfig = apply_overrides(config, (f"data.num_tasks={k}", f"model.num_tasks={k}",
                                           "train.methods=" + ",".join(methods)))
        _, metrics, _, timing = compare.train_and_evaluate(kconfig, workdir / f"k{k}", resume)
        base = np.asarray(metrics["stl"]["return"], np.float64).mean(0)
        row = {}
        for m in methods:
            dm, per_seed, left_out = delta_m_scored(metrics[m]["return"], base)
            row[m] = {"delta_m": dm, "delta_m_std": float(np.std(per_seed)), "delta_m_seeds": per_seed,
                      "tasks_left_out": left_out, "returns": np.asarray(metrics[m]["return"]).tolist(),
                      "steps_per_s": timing[m]["steps_per_s"], "train_seconds": timing[m]["train_seconds"],
                      "eval_seconds": timing[m]["eval_seconds"]}
        out[k] = {"methods": row, "wall_seconds": time.perf_counter() - tic}
        print(f"K={k}: " + ", ".join(f"{m} Δm {v['delta_m']:+.1f}" for m, v in row.items()), flush=True)
    return out


def run(config, workdir, resume: bool = False, task_counts=TASK_COUNTS, methods=METHODS, repeats: int = 3,
        delta_task_counts=DELTA_TASK_COUNTS, delta_methods=DELTA_METHODS) -> dict:
    workdir = Path(workdir)
    start = time.perf_counter()
    results = {"batch_size": config.train.batch_size, "device": jax.devices()[0].device_kind,
               "seeds": config.train.num_seeds, "steps": config.train.steps}
    tables = []
    if delta_task_counts:
        delta = delta_m_vs_k(config, workdir, delta_task_counts, delta_methods, resume)
        results["delta_m"] = {str(k): v for k, v in delta.items()}
        tables.append(delta_markdown(results, delta_methods))
    if task_counts:
        seconds = cost_per_step(config, task_counts, methods, repeats)
        results["seconds_per_step"] = {str(k): v for k, v in seconds.items()}
        results["ratio_to_equal"] = {str(k): {m: s / v["equal"] for m, s in v.items()} for k, v in seconds.items()}
        tables.append(markdown(results, methods))
    results["total_seconds"] = time.perf_counter() - start
    table = "\n\n".join(tables)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "results.json").write_text(json.dumps(results, indent=2))
    (workdir / "results.md").write_text(table + "\n")
    if task_counts:
        plot(workdir, seconds, methods)
    if delta_task_counts:
        plot_delta(workdir, results["delta_m"], delta_methods)
    print("\n" + table)
    return results


def delta_markdown(results: dict, methods) -> str:
    shown = [m for m in methods if m != "stl"]
    lines = [
        (f"**Δm% against STL with K per-category tasks** (lower is better; mean ± std over "
         f"{results['seeds']} seeds, {results['steps']} steps; training steps/s in brackets)."),
        "",
        "| K | " + " | ".join(shown) + " | tasks left out |",
        "|---:|" + "---:|" * (len(shown) + 1),
    ]
    for k, entry in results["delta_m"].items():
        row = entry["methods"]
        cells = [f"{row[m]['delta_m']:+.1f} ± {row[m]['delta_m_std']:.1f} ({_rate(row[m]['steps_per_s'])})"
                 for m in shown]
        lines.append(f"| {k} | " + " | ".join(cells) + f" | {row['stl']['tasks_left_out']} |")
    return "\n".join(lines)


def markdown(results: dict, methods) -> str:
    lines = [
        (f"**Cost per training step as K grows** (ms per step, ×equal in brackets; batch "
         f"{results['batch_size']}, one seed, {results['device']})."),
        "",
        "| K | " + " | ".join(methods) + " |",
        "|---:|" + "---:|" * len(methods),
    ]
    for k, row in results["seconds_per_step"].items():
        ratios = results["ratio_to_equal"][k]
        lines.append(f"| {k} | " + " | ".join(f"{row[m] * 1e3:.1f} (×{ratios[m]:.1f})" for m in methods) + " |")
    return "\n".join(lines)


def _rate(steps_per_s: float) -> str:
    return "–" if not np.isfinite(steps_per_s) else f"{steps_per_s:.1f}/s"


def plot_delta(workdir: Path, delta: dict, methods) -> Path:
    """Δm% against K per method, every seed a dot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    ks = sorted(int(k) for k in delta)
    for m in (m for m in methods if m != "stl"):
        ax.plot(ks, [delta[str(k)]["methods"][m]["delta_m"] for k in ks], marker="o", label=m)
        for k in ks:
            seeds = delta[str(k)]["methods"][m]["delta_m_seeds"]
            ax.scatter(np.full(len(seeds), k), seeds, s=6, color=ax.lines[-1].get_color(), alpha=0.5)
    ax.axhline(0.0, color="grey", lw=0.8)
    ax.set(xscale="log", xlabel="K (tasks)", ylabel="Δm% vs STL (lower is better)", title="Δm% vs K")
    return _save_k_figure(fig, ax, ks, workdir / "delta_m_vs_k.png")


def plot(workdir: Path, seconds: dict, methods) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    ks = sorted(seconds)
    for m in methods:
        ax.plot(ks, [seconds[k][m] * 1e3 for k in ks], marker="o", label=m)
    ax.set(xscale="log", yscale="log", xlabel="K (tasks)", ylabel="ms per step", title="cost per step vs K")
    return _save_k_figure(fig, ax, ks, workdir / "cost_vs_k.png")


def _save_k_figure(fig, ax, ks, path: Path) -> Path:
    import matplotlib.pyplot as plt

    ax.set_xticks(ks)
    ax.set_xticklabels(ks)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
