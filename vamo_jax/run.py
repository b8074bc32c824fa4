"""One run, top to bottom: `run(config, workdir)` trains and scores every method of every arm and
writes one table against one baseline.

  run          for each arm (`Config.arms()`: the base config once, or the shared STL baseline and
               each `Variant`), for each method: `measure`; the reference bidders once; then the
               results (`report.summarize`), the tables, results.json and the figures.
  measure      one method of one arm: data → problem → train (`loop.fit_method`) → evaluate on the
               scored day (`evaluate.make_evaluator`) → per-task metrics (`score.day_metrics`) and
               held-out losses (`train.held_out_losses`).

Replications: with `data.markets` None, the arm's S seeds train on the one market of `data.seed`
(`make_dataset`); with `data.markets = M`, R = M × S replications (`replications`): market m
(`vamo_jax.data.markets`, drawn from `data.seed` and m) for each of its S seeds, stacked along the
seed axis (market-major) and sharded over the seed mesh like seeds. Each replication trains on
its own market's data (traced arrays: one compilation for every market), is scored on its own
market's test day (the evaluator takes the replay as an argument) against targets from its own
training days; every method of a replication sees the same market, data and test draws.

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
from vamo_jax.bidding import make_problem, market_problem_data
from vamo_jax.data import Dataset, make_dataset
from vamo_jax.data import markets as market_lib
from vamo_jax.data.config import AuctionNetConfig
from vamo_jax.data.tasks import advertiser_tasks, task_channels, task_names
from vamo_jax.eval_config import EvalConfig
from vamo_jax.evaluate import (Replay, draw_keys, fixed_multiplier_totals, hindsight_multipliers, logged_totals,
                                make_evaluator, market_fixed_multiplier_totals, market_length, market_logged_totals,
                                market_replays, market_task_targets, replay_of, scored_day, task_targets,
                                traffic_keys)
from vamo_jax.figures import plot_delta_m, plot_scores, plot_training
from vamo_jax.loop import fit_method
from vamo_jax.offline_eval import logged_totals as logged_totals_of_period
from vamo_jax.offline_eval import make_logged_evaluator, period_advertisers
from vamo_jax.premise import dataset_batches, measure_premise, split_batches
from vamo_jax.problem import MultiTaskProblem
from vamo_jax.train import held_out_losses
from vamo_jax.report import (config_record, held_out_table, markdown_table, reference_bidders_table, summarize,
                             traffic_summary, write_results)
from vamo_jax.sim.market import campaign_assignment
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
    """The evaluator of one market's scored day (`data.markets` None), its replay compiled in; for
    AuctionNet's logs the logged test period's traffic (`offline_eval.make_logged_evaluator`).
    Either is `(params (S, K, …), targets (K,)) -> values, costs (S, D, N)`."""
    if isinstance(data_config, AuctionNetConfig):
        return make_logged_evaluator(dataset(data_config), model_config, rollouts)
    data, day = dataset(data_config), scored_day(data_config, rollouts)
    return make_evaluator(data_config, model_config, rollouts, day=(
        replay_of(data, day, market_length(model_config)), traffic_keys(data, day, rollouts.draws)))


@functools.lru_cache(maxsize=BUILDS_KEPT)
def market_evaluator(shape, model_config, rollouts: EvalConfig):
    """The evaluator of replications over markets of a shape (`markets.shape_config`): every
    market of it shares one; each replication's day is an argument."""
    return make_evaluator(shape, model_config, rollouts, per_replication=True)


@functools.lru_cache(maxsize=BUILDS_KEPT)
def logged(data_config, rollouts: EvalConfig):
    return logged_totals(dataset(data_config), rollouts)


@functools.lru_cache(maxsize=BUILDS_KEPT)
def fixed_multipliers(data_config, rollouts: EvalConfig, multipliers: tuple[float, ...]):
    return fixed_multiplier_totals(dataset(data_config), rollouts, np.asarray(multipliers, np.float32))


@functools.lru_cache(maxsize=BUILDS_KEPT)
def markets(data_config) -> market_lib.Market:
    """The `data.markets` markets of `data.seed`, stacked (leaves (M, …), numpy): market m from
    `market_key(data.seed, m)`, one compiled program for every market and seed of a shape."""
    keys = market_lib.market_keys(data_config.seed, data_config.markets)
    return jax.device_get(market_lib.generate_markets(keys, data_config))


def market_problem(data_config, model_config, batch_size: int) -> MultiTaskProblem:
    """The bidding problem of the markets' shape (`markets.shape_config`), without data: its
    functions read every array from the data argument, so every market and seed of a shape shares
    one problem and its compilations. Built on the first markets of the shape asked for (their
    market 0 gives the model check and the example batch that `init_params` traces, which reads
    its shapes alone: tests/test_run_markets.py)."""
    key = (market_lib.shape_config(data_config), model_config, batch_size)
    if key not in _MARKET_PROBLEMS:
        template = market_lib.market_dataset(market_lib.market_at(markets(data_config), 0), data_config)
        _MARKET_PROBLEMS[key] = make_problem(template, model_config, batch_size)._replace(data=None)
    return _MARKET_PROBLEMS[key]


_MARKET_PROBLEMS: dict = {}
"""(shape, model config, batch size) -> the data-free problem of `market_problem` (a few closures each)."""


@functools.lru_cache(maxsize=BUILDS_KEPT)
def market_data(data_config, model_config) -> dict:
    """`market_problem_data` of the config's markets: leaves (M, …)."""
    return market_problem_data(markets(data_config), data_config, model_config)


def rollouts_of(eval_config: EvalConfig) -> EvalConfig:
    """The part of the evaluation config the rollouts depend on (β and the reference grid enter
    the scoring, the targets are the evaluator's argument): the key of the evaluation builds."""
    return dataclasses.replace(eval_config, beta=0.0, target_quantile=0.0, hindsight_grid=0)


class Measured(NamedTuple):
    """One method of one arm, measured.

    Attributes:
      metrics: `score.METRICS` -> (S, K, D) per seed (replication), task and draw of the scored
        day, and `HELD_OUT` -> (S, K).
      history: the training history (`checkpoint.History.arrays`).
      timing: {"train_seconds", "eval_seconds", "steps_per_s"}.
      premise: `premise.measure_premise` of the trained model when asked (one market), else None.
    """

    metrics: dict
    history: dict
    timing: dict
    premise: dict | None


class Replications(NamedTuple):
    """What one arm trains and scores: S seeds of one market (`data.markets` None), or R = M × S
    replications over markets, replication r = (market r // S, seed r mod S), market-major.

    Attributes:
      problem: the training problem; its data shared by every seed, or (per_replication) leaves (R, …).
      train: the arm's `TrainConfig` with `num_seeds` the replication count (S, or R).
      per_replication: the data, replay, keys and targets carry the replication axis R in front.
      replay, keys, targets: the scored day (`evaluate.Replay`), its draws' key data (D, 2) and the
        task targets (K,); (R, …) each per replication.
      advertisers: (constraint, campaign, task) of the scored day's advertisers, (N,) each; the
        constraint (R, 1, N) per replication (its market's).
      held_out: {"val", "test"}: batches (n, B, …), or (R, n, B, …), of days 9 and 10.
      replications: [{"market", "seed"}] in the order of the replication axis: the market index
        (key `fold_in(jax.random.key(data.seed), market)`; None: `make_dataset`'s one market of
        `data.seed`) and the index folded into `PRNGKey(train.seed)` for the training key.
    """

    problem: MultiTaskProblem
    train: object
    per_replication: bool
    replay: Replay
    keys: np.ndarray
    targets: np.ndarray
    advertisers: tuple[np.ndarray, np.ndarray, np.ndarray]
    held_out: dict
    replications: list


HELD_OUT_BATCHES = 8
"""Held-out batches per day (n), each of `train.batch_size`."""


def replications(arm) -> Replications:
    """The arm's replications: its data, problem and scored day as arrays (see `Replications`)."""
    day, length = scored_day(arm.data, arm.eval), market_length(arm.model)
    held_out_key = jax.random.PRNGKey(arm.train.seed + 104729)  # the same batches for every method
    context, batch = arm.model.context_len, arm.train.batch_size
    env, num_tasks = arm.data.env, arm.data.num_tasks
    if arm.data.markets is None:
        data = dataset(arm.data)
        held_out = {name: dataset_batches(data, name, jax.random.fold_in(held_out_key, i), HELD_OUT_BATCHES, batch,
                                          context) for i, name in ((1, "val"), (2, "test"))}
        if data.world is None:  # logged data (AuctionNet): `evaluator` replays the logged test period
            replay, keys, advertisers = None, None, period_advertisers(data)
        else:
            replay, keys = replay_of(data, day, length), traffic_keys(data, day, arm.eval.draws)
            advertisers = (np.asarray(data.world.constraint), campaign_assignment(env), advertiser_tasks(env, num_tasks))
        return Replications(problem(arm.data, arm.model, batch), arm.train, False, replay, keys,
                            task_targets(data, arm.eval.target_quantile), advertisers, held_out,
                            replication_records(arm.data, arm.train))
    num_markets, seeds = arm.data.markets, arm.train.num_seeds
    stacked = markets(arm.data)

    def each(tree):  # (M, …) -> (R, …): market m's entry for each of its S seeds
        return jax.tree.map(lambda x: np.repeat(np.asarray(x), seeds, axis=0), tree)

    def batches(i, name):  # (M, n, B, …) the held-out batches of each market, the same keys in every market
        split = getattr(stacked, name)
        return jax.vmap(lambda sp, st: split_batches(jax.random.fold_in(held_out_key, i), sp, HELD_OUT_BATCHES, batch,
                                                     context, st, arm.data.env))(split, stacked.stats)

    return Replications(
        problem=market_problem(arm.data, arm.model, batch)._replace(data=each(market_data(arm.data, arm.model))),
        train=dataclasses.replace(arm.train, num_seeds=num_markets * seeds), per_replication=True,
        replay=each(market_replays(stacked, arm.data, day, length)),
        keys=each(jax.vmap(lambda k: draw_keys(k, arm.eval.draws))(stacked.sim_keys[:, 0, day])),
        targets=each(market_task_targets(stacked.train, arm.eval.target_quantile, arm.data.num_tasks)),
        advertisers=(each(stacked.world.constraint)[:, None], campaign_assignment(env), advertiser_tasks(env, num_tasks)),
        held_out={name: each(batches(i, name)) for i, name in
                                                                       ((1, "val"), (2, "test"))},
        replications=replication_records(arm.data, arm.train))


def replication_records(data_config, train_config) -> list[dict]:
    """[{"market", "seed"}] of every replication, in the order of the replication axis (`Replications`)."""
    if data_config.markets is None:
        return [{"market": None, "seed": s} for s in range(train_config.num_seeds)]
    return [{"market": r // train_config.num_seeds, "seed": r}
            for r in range(data_config.markets * train_config.num_seeds)]


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
                        extra={name: rows[name] for name in METRICS[1:] + HELD_OUT}, markets=config.data.markets)
    results["replications"] = replication_records(config.data, config.train)
    channels = task_channels(config.data.env, config.data.num_tasks)
    results["online_ratio_names"] = {t: RATIO_NAMES[c] for t, c in zip(tasks, channels)}
    for bidder, metrics in reference_bidders(config.arms()[0][1]).items():
        results[bidder] = {m: {t: float(stats.seed_means(metrics[m], 2).mean(0)[k]) for k, t in enumerate(tasks)}
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
    size = (f"{config.data.markets} markets × {config.train.num_seeds} seeds" if config.data.markets
            else f"{config.train.num_seeds} seeds")
    table += (f"\n\n{size} × {config.train.steps} steps, {config.eval.draws} draw(s) of the "
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
    reps, tasks = replications(arm), task_names(arm.data.env, arm.data.num_tasks)
    key = training_key(arm, method.name)
    if key not in trained or stop_after_step is not None:
        fitted = fit_method(reps.problem, method, reps.train, arm_dir / "checkpoints" / method.name, tasks,
                            resume=resume, stop_after_step=stop_after_step, per_replication=reps.per_replication)
        if stop_after_step is not None:
            return None
        trained[key] = fitted
    states, history, steps_per_s = trained[key]
    train_seconds = time.perf_counter() - tic

    params = eval_params(states, reps.train)
    num, mesh = reps.train.num_seeds, distributed.seed_mesh(reps.train.devices)
    models = distributed.put_seeds(method.task_models(params, arm.data.num_tasks), mesh)
    if reps.per_replication:
        evaluate = market_evaluator(market_lib.shape_config(arm.data), arm.model, rollouts_of(arm.eval))
        scored = evaluate(models, *(distributed.put_seeds(x, mesh) for x in (reps.targets, reps.replay, reps.keys)))
    else:
        scored = evaluator(arm.data, arm.model, rollouts_of(arm.eval))(models, reps.targets)
    values, costs = distributed.gather_seeds(scored, num)  # (S, D, N) each
    metrics = scored_day_metrics(arm, reps.advertisers, np.asarray(values), np.asarray(costs))
    for name, batches in reps.held_out.items():
        metrics[f"{name}_loss"] = np.asarray(held_out_losses(reps.problem, method, params, batches,
                                                             reps.per_replication))
    premise = None
    if with_premise and not reps.per_replication:  # one market's premise (not measured over markets)
        premise = {"method": method.name, **measure_premise(reps.problem, dataset(arm.data), params, tasks,
                                                             arm.model.context_len, arm.train.batch_size,
                                                             jax.random.PRNGKey(arm.train.seed + 104729))}
    timing = {"train_seconds": train_seconds, "eval_seconds": time.perf_counter() - tic - train_seconds,
              "steps_per_s": steps_per_s}
    return Measured(metrics, history, timing, premise)


def training_key(arm, method: str) -> tuple:
    """Everything that shapes a method's trained states in an arm: arms with equal keys (they may
    differ in evaluation alone) share their training."""
    return arm.data, arm.model, dataclasses.replace(arm.train, methods=(method,), progress=False), method


def scored_day_metrics(config, advertisers: tuple, values: np.ndarray, costs: np.ndarray) -> dict[str, np.ndarray]:
    """`score.METRICS` -> (S, K, D) per seed, task and draw, from per-advertiser own-campaign values
    and costs (S, D, N) of the scored day, its advertisers' (constraint, campaign, task) (N,) each
    (the constraint (S, 1, N) per replication)."""
    env, num_tasks = config.data.env, config.data.num_tasks
    constraint, campaign, tasks = advertisers
    metrics = day_metrics(values, costs, np.asarray(constraint), campaign, tasks, task_channels(env, num_tasks),
                          env.unit_value, config.eval.beta)
    return {name: np.moveaxis(m, -1, 1) for name, m in metrics.items()}


def hindsight_metrics(config, advertisers: tuple, values: np.ndarray, costs: np.ndarray) -> dict[str, np.ndarray]:
    """(R, K, D) the scored-day metrics of each advertiser's best fixed multiplier in hindsight,
    from the (R, G, D, N) own-campaign values and costs of every multiplier of the grid on R
    markets (`advertisers` as `scored_day_metrics`, constraints (R, 1, N)): per market, advertiser
    and draw, the multiplier of the highest score."""
    constraint, campaign, _ = advertisers
    scores = score(values, costs, np.asarray(constraint)[:, None], campaign, config.data.env.unit_value,
                   config.eval.beta)
    best = np.argmax(scores, axis=1)[:, None]  # (R, 1, D, N)
    pick = lambda x: np.take_along_axis(x, best, axis=1)[:, 0]  # noqa: E731
    return scored_day_metrics(config, advertisers, pick(values), pick(costs))


def reference_bidders(config) -> dict[str, dict[str, np.ndarray]]:
    """results.json key (`report.REFERENCE_BIDDERS`) -> `score.METRICS` -> (M, K, D): the logged
    behaviour policies and, with `eval.hindsight_grid`, each advertiser's best fixed multiplier in
    hindsight, on the scored day, draws and score of `config` (the run's first arm), per market
    (M = 1: the one market of `data.seed`); for AuctionNet's logs the logged behaviour alone (the
    test period's own outcome, one draw)."""
    rollouts, env, num_tasks = rollouts_of(config.eval), config.data.env, config.data.num_tasks
    tasks = advertiser_tasks(env, num_tasks)
    if isinstance(config.data, AuctionNetConfig):
        data = dataset(config.data)
        values, costs = logged_totals_of_period(data, config.eval.return_kind)  # (N,) each
        constraint, campaign, tasks = period_advertisers(data)
        return {"logged_behaviour": scored_day_metrics(config, (constraint[None, None], campaign, tasks),
                                                       values[None, None], costs[None, None])}
    grid = (tuple(hindsight_multipliers(env.max_multiplier, config.eval.hindsight_grid).tolist())
            if config.eval.hindsight_grid else None)
    if config.data.markets is None:
        data = dataset(config.data)
        constraint = np.asarray(data.world.constraint)[None, None]  # (1, 1, N)
        values, costs = (x[None] for x in logged(config.data, rollouts))  # (1, D, N, V), (1, D, N)
        fixed = None if grid is None else tuple(x[None] for x in fixed_multipliers(config.data, rollouts, grid))
    else:
        stacked, day = markets(config.data), scored_day(config.data, config.eval)
        replays = market_replays(stacked, config.data, day, 1)
        keys = jax.vmap(lambda k: draw_keys(k, config.eval.draws))(stacked.sim_keys[:, 0, day])
        constraint = np.asarray(stacked.world.constraint)[:, None]  # (M, 1, N)
        shape = market_lib.shape_config(config.data)
        values, costs = market_logged_totals(replays, keys, shape, rollouts)
        fixed = None if grid is None else market_fixed_multiplier_totals(replays, keys, np.asarray(grid, np.float32),
                                                                         shape, rollouts)
    advertisers = (constraint, campaign_assignment(env), tasks)
    own = values[..., np.arange(env.num_advertisers), task_channels(env, num_tasks)[tasks]]
    bidders = {"logged_behaviour": scored_day_metrics(config, advertisers, own, costs)}
    if fixed is not None:
        bidders["best_fixed_multiplier"] = hindsight_metrics(config, advertisers, *fixed)
    return bidders
