"""Compare multi-task methods on the simulated three-task data (the paper's Table 1 setting).

Trains every method of `config.train.methods` on days 1–8 (validation batches from day 9), every
seed at once, evaluates each trained policy on day 10 and writes `results.json`, `results.md`
and plots (task weights, training and validation losses, returns with seed spread).
"""

from __future__ import annotations

import functools
import time
from pathlib import Path

import jax
import numpy as np

from vamo_jax.bidding import make_problem
from vamo_jax.data import make_dataset
from vamo_jax.data.tasks import advertiser_tasks, task_channels, task_names
from vamo_jax.evaluate import (
    RATIO_NAMES,
    logged_totals,
    make_evaluator,
    per_task_metrics,
    per_task_params,
)
from vamo_jax.loop import fit_method
from vamo_jax.report import (
    config_record,
    markdown_table,
    plot_returns,
    plot_training,
    summarize,
    write_results,
)


@functools.lru_cache(maxsize=4)
def _dataset(data_config):
    return make_dataset(data_config)


@functools.lru_cache(maxsize=4)
def _problem(data_config, model_config, batch_size: int):
    """Built once per process per config, so repeated runs share the jit caches."""
    return make_problem(_dataset(data_config), model_config, batch_size)


@functools.lru_cache(maxsize=4)
def _evaluator(data_config, model_config, eval_config):
    return make_evaluator(_dataset(data_config), model_config, eval_config)


@functools.lru_cache(maxsize=4)
def _logged(data_config, eval_config):
    return logged_totals(_dataset(data_config), eval_config)


def train_and_evaluate(config, workdir: Path, resume: bool = False, stop_after_step: int | None = None):
    """Trains and evaluates every method; returns (dataset, per-method metrics, histories, timing).

    `stop_after_step` stops the whole run right after that checkpoint of the first method (as
    if it were killed there) and returns None; for tests of `--resume`.
    """
    tic = time.perf_counter()
    dataset = _dataset(config.data)
    problem = _problem(config.data, config.model, config.train.batch_size)
    timing = {"data_seconds": time.perf_counter() - tic}
    env, num_tasks = config.data.env, config.data.num_tasks
    tasks, channels = advertiser_tasks(env, num_tasks), task_channels(env, num_tasks)
    campaign = channels[tasks]  # each advertiser's campaign type (value channel)
    metrics, histories = {}, {}
    for method in config.train.methods:
        tic = time.perf_counter()
        states, history, steps_per_s = fit_method(
            problem, method, config.train, workdir / "checkpoints" / method, task_names(env, num_tasks), resume=resume,
            stop_after_step=stop_after_step,
        )
        if stop_after_step is not None:
            return None
        trained = time.perf_counter()
        params = states.params if method == "stl" else per_task_params(states.params, problem.num_tasks)
        values, costs = jax.device_get(_evaluator(config.data, config.model, config.eval)(params))
        metrics[method] = per_task_metrics(np.asarray(values), np.asarray(costs), tasks, channels)
        histories[method] = history
        timing[method] = {"train_seconds": trained - tic, "eval_seconds": time.perf_counter() - trained,
                          "steps_per_s": steps_per_s}
    values, costs = _logged(config.data, config.eval)
    own = values[np.arange(len(tasks)), campaign]
    metrics["logged"] = per_task_metrics(own[None], costs[None], tasks, channels)
    return dataset, metrics, histories, timing


def run(config, workdir, resume: bool = False) -> dict:
    workdir = Path(workdir)
    start = time.perf_counter()
    _, metrics, histories, timing = train_and_evaluate(config, workdir, resume)
    tasks = task_names(config.data.env, config.data.num_tasks)
    trained = {m: v for m, v in metrics.items() if m != "logged"}
    baseline = "stl" if "stl" in trained else next(iter(trained))
    results = summarize(
        {m: v["return"] for m, v in trained.items()},
        tasks,
        baseline=baseline,
        extra={"cost": {m: v["cost"] for m, v in trained.items()},
               "online_ratio": {m: v["ratio"] for m, v in trained.items()}},
    )
    channels = task_channels(config.data.env, config.data.num_tasks)
    results["online_ratio_names"] = {t: RATIO_NAMES[c] for t, c in zip(tasks, channels)}
    results["logged_behaviour"] = {
        name: {t: float(metrics["logged"][name][0, k]) for k, t in enumerate(tasks)} for name in ("return", "cost", "ratio")
    }
    timing["total_seconds"] = time.perf_counter() - start
    results["timing"] = timing
    results["config"] = config_record(config)
    table = markdown_table(results, title=f"{config.name}: test-day (day {config.data.test_day}) return per task")
    logged = " · ".join(f"{t} {results['logged_behaviour']['return'][t]:.3f}" for t in tasks)
    table += f"\n\nLogged behaviour policies on the same day (reference): {logged}."
    write_results(workdir, results, table)
    plot_training(workdir, histories, tasks)
    plot_returns(workdir, results)
    print("\n" + table)
    return results
