"""One run, top to bottom: `run(config, workdir)` trains and scores every method of every arm and
writes one table against one baseline.

  run          for each arm (`Config.arms()`: the base config once, or the shared STL baseline and
               each `Variant`), for each method: `measure`; the reference bidders once; then the
               results (`report.summarize`), the tables, results.json and the figures.
  measure      one method of one arm: data → problem → train (`loop.fit_method`) → evaluate on the
               scored day (`evaluate.make_evaluator`) → per-task metrics (`score.day_metrics`) and
               held-out losses (`premise.measure_held_out`).

The pure builds (data sets, problems, evaluators, reference rollouts) are cached by their frozen
configs (`functools.lru_cache`), so the arms of a run, and a process's later runs, share them and
their jit compilations. Trained states belong to one run: arms that differ in evaluation alone
share them (`run`'s `trained`).
"""

from __future__ import annotations

import dataclasses
import functools
import time
from pathlib import Path
from typing import NamedTuple

import jax
import numpy as np

from vamo_jax import distributed
from vamo_jax import methods as registry
from vamo_jax import stats
from vamo_jax.bidding import make_problem
from vamo_jax.data import Dataset, make_dataset
from vamo_jax.data.config import AuctionNetConfig
from vamo_jax.data.tasks import advertiser_tasks, task_channels, task_names
from vamo_jax.eval_config import EvalConfig
from vamo_jax.evaluate import (fixed_multiplier_totals, hindsight_multipliers, logged_totals, make_evaluator,
                                task_targets)
from vamo_jax.figures import plot_delta_m, plot_scores, plot_training
from vamo_jax.loop import fit_method
from vamo_jax.offline_eval import logged_totals as logged_totals_of_period
from vamo_jax.offline_eval import make_logged_evaluator, period_advertisers
from vamo_jax.premise import measure_held_out, measure_premise
from vamo_jax.report import (config_record, held_out_table, markdown_table, reference_bidders_table, summarize,
                             traffic_summary, write_results)
from vamo_jax.score import METRICS, RATIO_NAMES, day_metrics, score
from vamo_jax.train import eval_params

HELD_OUT = ("val_loss", "test_loss")
"""Per method and task, beside `score.METRICS`: the held-out imitation loss on days 9 and 10, (S, K)."""

BUILDS_KEPT = 16
"""How many of each pure build (`dataset`, `problem`, …) a process keeps, least recently used out."""


@functools.lru_cache(maxsize=BUILDS_KEPT)
def dataset(data_config) -> Dataset:
    return make_dataset(data_config)


@functools.lru_cache(maxsize=BUILDS_KEPT)
def problem(data_config, model_config, batch_size: int):
    return make_problem(dataset(data_config), model_config, batch_size)


@functools.lru_cache(maxsize=BUILDS_KEPT)
def evaluator(data_config, model_config, rollouts: EvalConfig):
    """The scored day's evaluator: the simulator's replay (`evaluate.make_evaluator`), or for
    AuctionNet's logs the logged traffic (`offline_eval.make_logged_evaluator`); either is
    `(params (S, K, …), targets (K,)) -> values, costs (S, D, N)`."""
    if isinstance(data_config, AuctionNetConfig):
        return make_logged_evaluator(dataset(data_config), model_config, rollouts)
    return make_evaluator(dataset(data_config), model_config, rollouts)


@functools.lru_cache(maxsize=BUILDS_KEPT)
def logged(data_config, rollouts: EvalConfig):
    return logged_totals(dataset(data_config), rollouts)


@functools.lru_cache(maxsize=BUILDS_KEPT)
def fixed_multipliers(data_config, rollouts: EvalConfig, multipliers: tuple[float, ...]):
    return fixed_multiplier_totals(dataset(data_config), rollouts, np.asarray(multipliers, np.float32))


def rollouts_of(eval_config: EvalConfig) -> EvalConfig:
    """The part of the evaluation config the rollouts depend on (β and the reference grid enter
    the scoring, the targets are the evaluator's argument): the key of the evaluation builds."""
    return dataclasses.replace(eval_config, beta=0.0, target_quantile=0.0, hindsight_grid=0)


class Measured(NamedTuple):
    """One method of one arm, measured.

    Attributes:
      metrics: `score.METRICS` -> (S, K, D) per seed, task and draw of the scored day, and
        `HELD_OUT` -> (S, K).
      history: the training history (`checkpoint.History.arrays`).
      timing: {"train_seconds", "eval_seconds", "steps_per_s"}.
      premise: `premise.measure_premise` of the trained model when asked, else None.
    """

    metrics: dict
    history: dict
    timing: dict
    premise: dict | None


def run(config, workdir, resume: bool = False, stop_after_step: int | None = None) -> dict | None:
    """Trains and scores every method of every arm of `config`, writes the table, JSON and figures;
    returns the results.

    `stop_after_step` stops the whole run right after that checkpoint of the first method (as if
    it were killed there) and returns None; for tests of `--resume`.
    """
    workdir, start = Path(workdir), time.perf_counter()
    rows = {name: {} for name in METRICS + HELD_OUT}  # metric -> row -> per-seed array
    histories, timing, settings, weighted, trained, premise = {}, {}, {}, [], {}, None
    for variant, arm in config.arms():
        tic = time.perf_counter()
        arm_dir = workdir / variant.folder if config.sweep.variants else workdir
        for name in arm.train.methods:
            method, row = registry.get(name), variant.label(name, len(arm.train.methods))
            if row in rows["score"]:
                raise ValueError(f"two arms give the row {row!r}; name them apart.")
            with_premise = premise is None and name == premise_method(arm.train.methods)
            measured = measure(arm, method, arm_dir, trained, resume=resume, stop_after_step=stop_after_step,
                               with_premise=with_premise)
            if measured is None:
                return None
            for metric, values in measured.metrics.items():
                rows[metric][row] = values
            histories[row], timing[row] = measured.history, measured.timing
            premise = measured.premise if with_premise else premise
            if method.shares_model:
                weighted.append(row)
        timing[f"{variant.folder} (wall, with data and compilation)"] = time.perf_counter() - tic
        settings[variant.name or "all"] = list(variant.overrides)

    tasks = task_names(config.data.env, config.data.num_tasks)
    baseline = "stl" if "stl" in rows["score"] else next(iter(rows["score"]))
    results = summarize(rows["score"], tasks, baseline=baseline, ci_seed=config.train.seed,
                        extra={name: rows[name] for name in METRICS[1:] + HELD_OUT})
    channels = task_channels(config.data.env, config.data.num_tasks)
    results["online_ratio_names"] = {t: RATIO_NAMES[c] for t, c in zip(tasks, channels)}
    for bidder, metrics in reference_bidders(config.arms()[0][1]).items():
        results[bidder] = {m: {t: float(stats.seed_means(metrics[m], 2)[0, k]) for k, t in enumerate(tasks)}
                           for m in METRICS}
    results["traffic"] = {"day": config.eval.day, **traffic_summary(rows["score"], tasks, baseline)}
    results["premise"] = premise
    timing["total_seconds"] = time.perf_counter() - start
    results["timing"] = timing
    results["variants"] = settings
    results["config"] = config_record(config)

    title = config.sweep.title or f"{config.name}: test-day (day {config.data.test_day}) score per task"
    table = "\n\n".join([markdown_table(results, title=title), reference_bidders_table(results),
                         held_out_table(results)])
    table += (f"\n\n{config.train.num_seeds} seeds × {config.train.steps} steps, {config.eval.draws} draw(s) of the "
              f"{config.eval.day} day's traffic; wall time {timing['total_seconds']:.0f} s.")
    if jax.process_index() == 0:  # every process holds the results; one writes them
        write_results(workdir, results, table)
        plot_training(workdir, histories, tasks, weighted)
        plot_scores(workdir, results)
        plot_delta_m(workdir, results)
    print("\n" + table)
    return results


def premise_method(names: tuple[str, ...]) -> str | None:
    """The method the premise is measured on: equal where trained, else the first method that
    trains one model for every task (the premise compares one model's task gradients)."""
    shared = [n for n in names if registry.get(n).shares_model]
    return "equal" if "equal" in shared else next(iter(shared), None)


def measure(arm, method: registry.Method, arm_dir: Path, trained: dict, *, resume: bool = False,
            stop_after_step: int | None = None, with_premise: bool = False) -> Measured | None:
    """Trains `method` on the arm's days 1–8 (validation batches from day 9), every seed at once,
    and scores the trained policies on the scored day (`Measured`); `trained` holds the run's
    trained states, by everything that shapes them. None when stopped at `stop_after_step`."""
    tic = time.perf_counter()
    data, tasks = dataset(arm.data), task_names(arm.data.env, arm.data.num_tasks)
    training = problem(arm.data, arm.model, arm.train.batch_size)
    key = training_key(arm, method.name)
    if key not in trained or stop_after_step is not None:
        fitted = fit_method(training, method, arm.train, arm_dir / "checkpoints" / method.name, tasks,
                            resume=resume, stop_after_step=stop_after_step)
        if stop_after_step is not None:
            return None
        trained[key] = fitted
    states, history, steps_per_s = trained[key]
    train_seconds = time.perf_counter() - tic

    params = eval_params(states, arm.train)
    mesh = distributed.seed_mesh(arm.train.devices)
    values, costs = distributed.gather_seeds(evaluator(arm.data, arm.model, rollouts_of(arm.eval))(
        distributed.put_seeds(method.task_models(params, arm.data.num_tasks), mesh),
        task_targets(data, arm.eval.target_quantile)), arm.train.num_seeds)  # (S, D, N) each
    metrics = scored_day_metrics(arm, data, np.asarray(values), np.asarray(costs))
    held_out_key = jax.random.PRNGKey(arm.train.seed + 104729)  # the same batches for every method
    held_out = measure_held_out(training, method, data, params, arm.model.context_len, arm.train.batch_size,
                                held_out_key)
    metrics.update(val_loss=held_out["val"], test_loss=held_out["test"])
    premise = ({"method": method.name, **measure_premise(training, data, params, tasks, arm.model.context_len,
                                                          arm.train.batch_size, held_out_key)}
               if with_premise else None)
    timing = {"train_seconds": train_seconds, "eval_seconds": time.perf_counter() - tic - train_seconds,
              "steps_per_s": steps_per_s}
    return Measured(metrics, history, timing, premise)


def training_key(arm, method: str) -> tuple:
    """Everything that shapes a method's trained states in an arm: arms with equal keys (they may
    differ in evaluation alone) share their training."""
    return arm.data, arm.model, dataclasses.replace(arm.train, methods=(method,), progress=False), method


def scored_day_metrics(config, data: Dataset, values: np.ndarray, costs: np.ndarray) -> dict[str, np.ndarray]:
    """`score.METRICS` -> (S, K, D) per seed, task and draw, from per-advertiser own-campaign values
    and costs (S, D, N) of the scored day (the simulated world's advertisers, or those of the
    logged test period)."""
    env, num_tasks = config.data.env, config.data.num_tasks
    if data.world is None:
        constraint, campaign, tasks = period_advertisers(data)
    else:
        constraint, campaign = np.asarray(data.world.constraint), np.asarray(data.world.campaign)
        tasks = advertiser_tasks(env, num_tasks)
    metrics = day_metrics(values, costs, constraint, campaign, tasks, task_channels(env, num_tasks), env.unit_value,
                          config.eval.beta)
    return {name: np.moveaxis(m, -1, 1) for name, m in metrics.items()}


def hindsight_metrics(config, data: Dataset, values: np.ndarray, costs: np.ndarray) -> dict[str, np.ndarray]:
    """(1, K, D) the scored-day metrics of each advertiser's best fixed multiplier in hindsight,
    from the (G, D, N) own-campaign values and costs of every multiplier of the grid: per
    advertiser and draw, the multiplier of the highest score."""
    world = data.world
    scores = score(values, costs, np.asarray(world.constraint), np.asarray(world.campaign),
                   config.data.env.unit_value, config.eval.beta)
    best = np.argmax(scores, axis=0)[None]  # (1, D, N)
    pick = lambda x: np.take_along_axis(x, best, axis=0)  # noqa: E731
    return scored_day_metrics(config, data, pick(values), pick(costs))


def reference_bidders(config) -> dict[str, dict[str, np.ndarray]]:
    """results.json key (`report.REFERENCE_BIDDERS`) -> `score.METRICS` -> (1, K, D): the logged
    behaviour policies and, with `eval.hindsight_grid`, each advertiser's best fixed multiplier in
    hindsight, on the scored day, draws and score of `config` (the run's first arm); for AuctionNet's
    logs the logged behaviour alone (the period's own outcome)."""
    data, rollouts = dataset(config.data), rollouts_of(config.eval)
    env, num_tasks = config.data.env, config.data.num_tasks
    if data.world is None:  # AuctionNet's logs: the logged period's own outcome, one draw
        values, costs = logged_totals_of_period(data, config.eval.return_kind)  # (N,) each
        return {"logged_behaviour": scored_day_metrics(config, data, values[None, None], costs[None, None])}
    values, costs = logged(config.data, rollouts)  # (D, N, V), (D, N)
    own = values[:, np.arange(env.num_advertisers), task_channels(env, num_tasks)[advertiser_tasks(env, num_tasks)]]
    bidders = {"logged_behaviour": scored_day_metrics(config, data, own[None], costs[None])}
    if config.eval.hindsight_grid:
        grid = tuple(hindsight_multipliers(env.max_multiplier, config.eval.hindsight_grid).tolist())
        bidders["best_fixed_multiplier"] = hindsight_metrics(config, data, *fixed_multipliers(config.data, rollouts,
                                                                                               grid))
    return bidders
