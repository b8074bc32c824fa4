"""Return-to-go targets chosen on the validation day (day 9), never on the test day.

A return-conditioned policy is scored at the target return it is given, and the score moves
with it by more than the methods differ (issue 23). So each task's target is a setting, chosen
like any other on the validation day: from a declared grid of candidates, the one whose day-9
score is highest, task by task.

Never reading day 10 is made structural, not a promise: `validation_view` cuts a data set down to
the days up to the validation day (the test split emptied; market series, simulation keys,
logged behaviour and day regimes truncated after day 9), and `choose_targets` and
`validation_scorer` refuse anything but such a view. A score built on the view cannot read the
test day: it does not hold it.

The run's call (per method, `params` (S, K, …) as `vamo_jax.evaluate.make_evaluator` takes them):

    view = validation_view(dataset)
    score_on_day9 = validation_scorer(view, config.model, config.eval)   # one compilation
    choice = choose_targets(view, lambda targets: score_on_day9(params, targets))
    targets = choice.targets            # (K,) for the test-day evaluation
    results["targets"][method] = choice.record()   # the grid, the day-9 curve, the day
"""

from __future__ import annotations

import dataclasses
from typing import Callable, NamedTuple

import jax
import numpy as np

from vamo_jax.data import Dataset
from vamo_jax.data.tasks import advertiser_tasks, task_channels
from vamo_jax.evaluate import make_evaluator
from vamo_jax.score import day_metrics

TARGET_QUANTILES: tuple[float, ...] = (0.1, 0.25, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
"""The declared grid: quantiles of each task's training returns (initial return-to-go per unit
of budget). From a low return (0.1) to a high one (0.95), the whole range the logs show (a
target outside it asks the policy to extrapolate); it holds the main job's fixed 0.9, so the
choice can keep it; 9 points, each one day-9 evaluation per method."""

ScoreFn = Callable[[np.ndarray], np.ndarray]
"""targets (K,) -> (K,) each task's mean score on the validation day."""


class TargetChoice(NamedTuple):
    """The targets chosen on `day`, with the curve they were chosen from (G grid points, K tasks).

    Attributes:
      day: the day the curve was scored on (the validation day).
      grid: (G,) the candidate quantiles.
      candidates: (G, K) the candidate targets (each task's training-return quantiles).
      curve: (G, K) each task's day-9 score at each candidate.
      quantiles: (K,) each task's chosen quantile.
      targets: (K,) each task's chosen target return per unit of budget.
    """

    day: int
    grid: np.ndarray
    candidates: np.ndarray
    curve: np.ndarray
    quantiles: np.ndarray
    targets: np.ndarray

    def record(self) -> dict:
        """The choice as plain JSON values, for results.json."""
        return {"chosen_on_day": int(self.day), "grid_quantiles": self.grid.tolist(),
                "candidates": self.candidates.tolist(), "day_curve": self.curve.tolist(),
                "quantiles": self.quantiles.tolist(), "targets": self.targets.tolist()}


def validation_view(dataset: Dataset) -> Dataset:
    """`dataset` without anything after its validation day: the test split emptied, and the market
    series (E, D, T, F), the simulation keys (E, D, 2), the logged behaviour (E, D, N) and the
    world's day regimes (D, 5) cut to days 0..val_day. Training split, validation split and the
    normalisation (training days only) are kept."""
    last = dataset.config.val_day + 1
    market = dataset.market[:, :last]
    test = jax.tree.map(lambda x: x[:0], dataset.test).replace(market=market)
    return dataclasses.replace(
        dataset, market=market, test=test,
        train=dataset.train.replace(market=market), val=dataset.val.replace(market=market),
        sim_keys=None if dataset.sim_keys is None else dataset.sim_keys[:, :last],
        behaviour=None if dataset.behaviour is None else jax.tree.map(lambda x: x[:, :last], dataset.behaviour),
        world=None if dataset.world is None else dataset.world.replace(regime=dataset.world.regime[:last]),
    )


def _require_view(dataset: Dataset, caller: str) -> None:
    if dataset.test.size or dataset.market.shape[1] != dataset.config.val_day + 1:
        raise ValueError(f"{caller} takes validation_view(dataset), which holds no day after the validation "
                         f"day {dataset.config.val_day}; got a data set with days up to {dataset.market.shape[1] - 1}.")


def candidate_targets(view: Dataset, grid: tuple[float, ...] = TARGET_QUANTILES) -> np.ndarray:
    """(G, K) the `grid` quantiles of each task's training returns (initial return-to-go per budget)."""
    _require_view(view, "candidate_targets")
    returns, tasks = np.asarray(view.train.returns_to_go)[:, 0], np.asarray(view.train.task)
    return np.stack([[np.quantile(returns[tasks == k], q) for k in range(view.config.num_tasks)] for q in grid]
                    ).astype(np.float32)


def choose_targets(view: Dataset, score: ScoreFn, grid: tuple[float, ...] = TARGET_QUANTILES) -> TargetChoice:
    """Each task's target: the candidate of `grid` with the highest day-9 score.

    Args:
      view: `validation_view(dataset)` (anything else is refused).
      score: targets (K,) -> (K,) day-9 score of each task, the others' targets held at the same
        grid point (an advertiser is scored at its own task's target, so task k's score depends on
        targets[k] alone when the others are logged bidders, as in `make_evaluator`).
      grid: the candidate quantiles, declared before the run (`TARGET_QUANTILES`).

    Returns:
      the `TargetChoice` (ties go to the lower quantile).
    """
    _require_view(view, "choose_targets")
    candidates = candidate_targets(view, grid)
    curve = np.stack([np.asarray(score(row), np.float64) for row in candidates])
    best = np.argmax(curve, axis=0)  # (K,)
    k = np.arange(candidates.shape[1])
    return TargetChoice(day=view.config.val_day, grid=np.asarray(grid, np.float64), candidates=candidates,
                        curve=curve, quantiles=np.asarray(grid, np.float64)[best], targets=candidates[best, k])


def validation_scorer(view: Dataset, model_config, eval_config):
    """jit-once `(params (S, K, …), targets (K,)) -> (K,)`: each task's mean AuctionNet score on the
    validation day (over seeds and `eval_config.draws` draws), the policy rolled out as
    `vamo_jax.evaluate.make_evaluator` rolls it on the test day. Only a view is accepted."""
    _require_view(view, "validation_scorer")
    evaluate = make_evaluator(view, model_config, dataclasses.replace(eval_config, day="validation"))
    env, num_tasks = view.config.env, view.config.num_tasks
    world, tasks = view.world, advertiser_tasks(env, num_tasks)

    def score(params, targets) -> np.ndarray:
        values, costs = (np.asarray(x) for x in evaluate(params, np.asarray(targets, np.float32)))
        per_task = day_metrics(values, costs, np.asarray(world.constraint), np.asarray(world.campaign), tasks,
                               task_channels(env, num_tasks), env.unit_value, eval_config.beta)["score"]  # (S, D, K)
        return per_task.mean(axis=(0, 1))

    return score
