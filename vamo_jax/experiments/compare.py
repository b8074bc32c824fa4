"""Train and evaluate one arm: every method of `config.train.methods` on days 1–8 (validation
batches from day 9), every seed at once, each trained policy scored on day 10.

`Builds` holds what the arms of one run share (data sets, problems, evaluators), so arms that
differ only in their training settings build the data once and share the jit compilations; the
pure ones (all but trained states) also serve the process's later runs.
"""

from __future__ import annotations

import collections
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
from vamo_jax.evaluate import (fixed_multiplier_totals, hindsight_multipliers, logged_totals, make_evaluator,
                                per_task_metrics, per_task_params, task_targets)
from vamo_jax.loop import fit_method
from vamo_jax.methods import Kind
from vamo_jax.premise import measure_held_out, measure_premise
from vamo_jax.score import score, task_scores
from vamo_jax.train import eval_params


_SHARED: collections.OrderedDict = collections.OrderedDict()
"""The pure builds (data sets, problems, evaluators, references) of the process's latest runs,
by config: a rerun in the same process (a resumed run, the tests) reuses their functions, so
JAX's jit cache serves it instead of compiling again. Least recently used first."""
_SHARED_SIZE = 16


class Builds:
    """Data sets, problems, trained states, evaluators and references, each built once per distinct config.

    Trained states belong to one run (its workdir and checkpoints); everything else is a pure
    function of its configs and is shared with the process's other runs (`_SHARED`).
    """

    def __init__(self):
        self._built: dict = {}

    def _get(self, key: tuple, build: Callable, shared: bool = True):
        if key not in self._built:
            self._built[key] = _SHARED[key] if shared and key in _SHARED else build()
        if shared:
            _SHARED[key] = self._built[key]
            _SHARED.move_to_end(key)
            while len(_SHARED) > _SHARED_SIZE:
                _SHARED.popitem(last=False)
        return self._built[key]

    def dataset(self, data_config):
        return self._get(("dataset", data_config), lambda: make_dataset(data_config))

    def problem(self, data_config, model_config, batch_size: int):
        return self._get(("problem", data_config, model_config, batch_size),
                         lambda: make_problem(self.dataset(data_config), model_config, batch_size))

    def trained(self, config, method: str, fit: Callable):
        """`fit()`'s (states, history, steps/s) of `method`, once for every arm that trains it the
        same way (same data, model and training settings; arms may differ in evaluation alone)."""
        train = dataclasses.replace(config.train, methods=(method,), progress=False)
        return self._get(("trained", config.data, config.model, train, method), fit, shared=False)

    def evaluator(self, data_config, model_config, eval_config):
        eval_config = _rollouts_of(eval_config)
        return self._get(("evaluator", data_config, model_config, eval_config),
                         lambda: make_evaluator(self.dataset(data_config), model_config, eval_config))

    def logged(self, data_config, eval_config):
        eval_config = _rollouts_of(eval_config)
        return self._get(("logged", data_config, eval_config),
                         lambda: logged_totals(self.dataset(data_config), eval_config))

    def fixed_multipliers(self, data_config, eval_config):
        multipliers = hindsight_multipliers(data_config.env.max_multiplier, eval_config.hindsight_grid)
        eval_config = _rollouts_of(eval_config)
        return self._get(("fixed_multipliers", data_config, eval_config, tuple(multipliers)),
                         lambda: fixed_multiplier_totals(self.dataset(data_config), eval_config, multipliers))


def _rollouts_of(eval_config):
    """The part of the evaluation config the rollouts depend on (β and the reference grid enter
    the scoring, the targets are the evaluator's argument)."""
    return dataclasses.replace(eval_config, beta=0.0, target_quantile=0.0, hindsight_grid=0)


class ArmResult(NamedTuple):
    """What one arm measured.

    Attributes:
      metrics: method -> metric -> (S, K, D) per seed, task and draw of the scored day: "return"
        (the mean score of the task's advertisers, `score.task_scores`), "value" (mean
        own-campaign value, unpenalised), "cost", "ratio" (the online ratio), "violation_rate";
        and (S, K) "val_loss" and "test_loss" (held-out imitation loss on days 9 and 10).
        "logged" -> (1, K, D) the same scored-day metrics of the logged policies, and, with
        `eval.hindsight_grid`, "hindsight" -> those of each advertiser's best fixed multiplier.
      histories: method -> training history. timing: per method, and data_seconds.
      premise: `premise.measure_premise` of equal where trained, else of the first multi-task
        method, or None.
    """

    metrics: dict
    histories: dict
    timing: dict
    premise: dict | None


def test_day_metrics(config, values: np.ndarray, costs: np.ndarray, world) -> dict[str, np.ndarray]:
    """(S, K, D) per-task metrics of the scored day from per-advertiser own-campaign values and costs (S, D, N)."""
    env, num_tasks = config.data.env, config.data.num_tasks
    tasks, channels = advertiser_tasks(env, num_tasks), task_channels(env, num_tasks)
    plain = per_task_metrics(values, costs, tasks, channels)
    scores = task_scores(values, costs, np.asarray(world.constraint), np.asarray(world.campaign), tasks, num_tasks,
                         env.unit_value, config.eval.beta)
    metrics = {"return": scores["score"], "value": plain["return"], "cost": plain["cost"], "ratio": plain["ratio"],
               "violation_rate": scores["violation_rate"]}
    return {name: np.moveaxis(m, -1, 1) for name, m in metrics.items()}


def hindsight_metrics(config, values: np.ndarray, costs: np.ndarray, world) -> dict[str, np.ndarray]:
    """(1, K, D) the scored-day metrics of each advertiser's best fixed multiplier in hindsight,
    from the (G, D, N) own-campaign values and costs of every multiplier of the grid: per
    advertiser and draw, the multiplier of the highest score."""
    scores = score(values, costs, np.asarray(world.constraint), np.asarray(world.campaign),
                   config.data.env.unit_value, config.eval.beta)
    best = np.argmax(scores, axis=0)[None]  # (1, D, N)
    pick = lambda x: np.take_along_axis(x, best, axis=0)  # noqa: E731
    return test_day_metrics(config, pick(values), pick(costs), world)


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
    targets = task_targets(dataset, config.eval.target_quantile)
    held_out_key = jax.random.PRNGKey(config.train.seed + 104729)  # the same batches for every method
    mesh = distributed.seed_mesh(config.train.devices)
    metrics, histories, premise = {}, {}, None
    multi_task = [m for m in config.train.methods if registry.get(m).kind is not Kind.SINGLE_TASK]
    premise_method = ("equal" if "equal" in multi_task else next(iter(multi_task), None)) if with_premise else None
    for method in config.train.methods:
        tic = time.perf_counter()
        def fit(method=method):
            return fit_method(problem, method, config.train, Path(workdir) / "checkpoints" / method,
                              task_names(env, num_tasks), resume=resume, stop_after_step=stop_after_step)

        if stop_after_step is not None:
            fit()
            return None
        states, history, steps_per_s = builds.trained(config, method, fit)
        trained = time.perf_counter()
        single_task = registry.get(method).kind is Kind.SINGLE_TASK
        params = eval_params(states, config.train)
        rollout_params = params if single_task else per_task_params(params, problem.num_tasks)
        values, costs = distributed.gather_seeds(builds.evaluator(config.data, config.model, config.eval)(
            distributed.put_seeds(rollout_params, mesh), targets), config.train.num_seeds)
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
    values, costs = builds.logged(config.data, config.eval)  # (D, N, V), (D, N)
    own = values[:, np.arange(len(tasks)), channels[tasks]]
    metrics["logged"] = test_day_metrics(config, own[None], costs[None], dataset.world)
    if config.eval.hindsight_grid:
        metrics["hindsight"] = hindsight_metrics(config, *builds.fixed_multipliers(config.data, config.eval),
                                                 dataset.world)
    return ArmResult(metrics, histories, timing, premise)
