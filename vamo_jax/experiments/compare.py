"""Train and evaluate one arm: every method of `config.train.methods` on days 1–8 (validation
batches from day 9), every seed at once, each trained policy scored on day 10.

`Builds` holds what the arms of one run share (data sets, problems, evaluators), so arms that
differ only in their training settings build the data once and share the jit compilations.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Callable, NamedTuple

import jax
import numpy as np

from vamo_jax import distributed
from vamo_jax import methods as registry
from vamo_jax.bidding import make_problem
from vamo_jax.data import make_dataset
from vamo_jax.data.tasks import advertiser_tasks, task_channels, task_names
from vamo_jax.evaluate import logged_totals, make_evaluator, per_task_metrics, per_task_params
from vamo_jax.loop import fit_method
from vamo_jax.methods import Kind
from vamo_jax.premise import measure_held_out, measure_premise
from vamo_jax.score import task_scores
from vamo_jax.train import eval_params


class Builds:
    """Data sets, problems, evaluators and logged totals, each built once per distinct config."""

    def __init__(self):
        self._built: dict = {}

    def _get(self, key: tuple, build: Callable):
        if key not in self._built:
            self._built[key] = build()
        return self._built[key]

    def dataset(self, data_config):
        return self._get(("dataset", data_config), lambda: make_dataset(data_config))

    def problem(self, data_config, model_config, batch_size: int):
        return self._get(("problem", data_config, model_config, batch_size),
                         lambda: make_problem(self.dataset(data_config), model_config, batch_size))

    def evaluator(self, data_config, model_config, eval_config):
        eval_config = dataclasses.replace(eval_config, beta=0.0)  # β enters the score, not the rollouts
        return self._get(("evaluator", data_config, model_config, eval_config),
                         lambda: make_evaluator(self.dataset(data_config), model_config, eval_config))

    def logged(self, data_config, eval_config):
        eval_config = dataclasses.replace(eval_config, beta=0.0)
        return self._get(("logged", data_config, eval_config),
                         lambda: logged_totals(self.dataset(data_config), eval_config))


class ArmResult(NamedTuple):
    """What one arm measured.

    Attributes:
      metrics: method -> metric -> (S, K): "return" (the mean score of the task's advertisers,
        `score.task_scores`), "value" (mean own-campaign value, unpenalised), "cost", "ratio" (the
        online ratio), "violation_rate", "val_loss" and "test_loss" (held-out imitation loss on
        days 9 and 10); and "logged" -> (1, K) the same test-day metrics of the logged policies.
      histories: method -> training history. timing: per method, and data_seconds.
      premise: `premise.measure_premise` of equal where trained, else of the first multi-task
        method, or None.
    """

    metrics: dict
    histories: dict
    timing: dict
    premise: dict | None


def test_day_metrics(config, values: np.ndarray, costs: np.ndarray, world) -> dict[str, np.ndarray]:
    """(S, K) per-task test-day metrics from per-advertiser own-campaign values and costs (S, N)."""
    env, num_tasks = config.data.env, config.data.num_tasks
    tasks, channels = advertiser_tasks(env, num_tasks), task_channels(env, num_tasks)
    plain = per_task_metrics(values, costs, tasks, channels)
    scores = task_scores(values, costs, np.asarray(world.constraint), np.asarray(world.campaign), tasks, num_tasks,
                         env.unit_value, config.eval.beta)
    return {"return": scores["score"], "value": plain["return"], "cost": plain["cost"], "ratio": plain["ratio"],
            "violation_rate": scores["violation_rate"]}


def train_and_evaluate(config, workdir: Path, resume: bool = False, stop_after_step: int | None = None,
                       builds: Builds | None = None, with_premise: bool = True) -> ArmResult | None:
    """Trains and evaluates every method of the arm `config` (`ArmResult`).

    The premise is measured once, on equal where trained, else on the first multi-task method;
    `with_premise=False` skips it (a sweep measures it in its first arm only).

    `stop_after_step` stops the whole run right after that checkpoint of the first method (as
    if it were killed there) and returns None; for tests of `--resume`.
    """
    builds = builds or Builds()
    tic = time.perf_counter()
    dataset = builds.dataset(config.data)
    problem = builds.problem(config.data, config.model, config.train.batch_size)
    timing = {"data_seconds": time.perf_counter() - tic}
    env, num_tasks = config.data.env, config.data.num_tasks
    tasks, channels = advertiser_tasks(env, num_tasks), task_channels(env, num_tasks)
    held_out_key = jax.random.PRNGKey(config.train.seed + 104729)  # the same batches for every method
    mesh = distributed.seed_mesh(config.train.devices)
    metrics, histories, premise = {}, {}, None
    multi_task = [m for m in config.train.methods if registry.get(m).kind is not Kind.SINGLE_TASK]
    premise_method = ("equal" if "equal" in multi_task else next(iter(multi_task), None)) if with_premise else None
    for method in config.train.methods:
        tic = time.perf_counter()
        states, history, steps_per_s = fit_method(
            problem, method, config.train, Path(workdir) / "checkpoints" / method, task_names(env, num_tasks),
            resume=resume, stop_after_step=stop_after_step,
        )
        if stop_after_step is not None:
            return None
        trained = time.perf_counter()
        single_task = registry.get(method).kind is Kind.SINGLE_TASK
        params = eval_params(states, config.train)
        rollout_params = params if single_task else per_task_params(params, problem.num_tasks)
        values, costs = distributed.gather_seeds(builds.evaluator(config.data, config.model, config.eval)(
            distributed.put_seeds(rollout_params, mesh)), config.train.num_seeds)
        metrics[method] = test_day_metrics(config, np.asarray(values), np.asarray(costs), dataset.world)
        held_out = measure_held_out(problem, dataset, params, single_task, config.model.context_len,
                                    config.train.batch_size, held_out_key)
        metrics[method].update(val_loss=held_out["val"], test_loss=held_out["test"])
        if method == premise_method:
            premise = {"method": method, **measure_premise(problem, dataset, params, task_names(env, num_tasks),
                                                           config.model.context_len, config.train.batch_size,
                                                           held_out_key)}
        histories[method] = history
        timing[method] = {"train_seconds": trained - tic, "eval_seconds": time.perf_counter() - trained,
                          "steps_per_s": steps_per_s}
    values, costs = builds.logged(config.data, config.eval)
    own = values[np.arange(len(tasks)), channels[tasks]]
    metrics["logged"] = test_day_metrics(config, own[None], costs[None], dataset.world)
    return ArmResult(metrics, histories, timing, premise)
