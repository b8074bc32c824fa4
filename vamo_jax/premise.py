"""The premise, measured: does the validation day predict the test day better than the training days do?

VAMO weights task k by the alignment of its training gradient with the validation day's gradient
(paper §3.1); that helps on the test day if the validation day's gradients point where the test
day's do. Measured here, for trained params:

  * per task k, the cosine between ∇L_k on test-day batches (day 10) and ∇L_k on validation-day
    batches (day 9), and between day 10 and the training days (1–8);
  * how far the test day's market regime (`World.regime`, log space) is from the validation
    day's and from the training days' mean;
  * the held-out loss: each seed's validation-day and test-day loss per task (`vamo_jax.run`,
    on `dataset_batches`: per market with replications over markets).

The test-day batches come from `Dataset.test` through `dataset_batches`, here and only here: the
training problem (`bidding.make_problem`) never holds the test day. Nothing is tuned on them.

Every loss is over a fixed set of batches drawn from an explicit key, pooled: task k's loss is
the mean per-example loss over all task-k examples of the n batches (`pooled_task_losses`), so
its gradient is the gradient of that pooled mean.
"""

from __future__ import annotations

import functools
from typing import Callable, Mapping, Sequence

import chex
import jax
import jax.numpy as jnp
import numpy as np

from vamo_jax.data import Dataset, Split, sample_batch
from vamo_jax.mtl import per_task_grads
from vamo_jax.sim.market import REGIME_NAMES
from vamo_jax.problem import MultiTaskProblem, pooled_task_losses, static_problem

def task_gradient_cosines(task_losses_a: Callable, task_losses_b: Callable, params: chex.ArrayTree) -> chex.Array:
    """Per task k, cos(∇L_k^a(θ), ∇L_k^b(θ)): the two data sets' task gradients at the same params.

    Args:
      task_losses_a, task_losses_b: params -> (K,) task losses on data sets a and b.
      params: θ.

    Returns:
      (K,) cosines; NaN for a task whose gradient is zero on either data set (e.g. no example).
    """
    _, grads_a = per_task_grads(task_losses_a, params)
    _, grads_b = per_task_grads(task_losses_b, params)

    def per_task_dot(x, y):  # (K, …) leaves → (K,)
        return sum(jnp.sum((a * b).reshape(a.shape[0], -1), axis=1)
                   for a, b in zip(jax.tree.leaves(x), jax.tree.leaves(y)))

    dot = per_task_dot(grads_a, grads_b)
    norms = jnp.sqrt(per_task_dot(grads_a, grads_a) * per_task_dot(grads_b, grads_b))
    return jnp.where(norms > 0, dot / jnp.where(norms > 0, norms, 1.0), jnp.nan)


def gradient_cosines(problem: MultiTaskProblem, params: chex.ArrayTree, target: chex.ArrayTree,
                     others: Mapping[str, chex.ArrayTree]) -> dict[str, np.ndarray]:
    """Per seed and task, the cosine of the task gradient on `target` batches with that on each of `others`.

    Args:
      problem: the trained problem (its per-example loss and task ids).
      params: seed-stacked params of a multi-task model, (S, …) on every leaf.
      target: batches (n, B, …) of the day measured against (the test day).
      others: name -> batches (n', B, …) (e.g. "val": day 9, "train": days 1–8).

    Returns:
      name -> (S, K) cosines.
    """
    return {name: np.asarray(_cosines(params, target, batches, problem=static_problem(problem)))
            for name, batches in others.items()}


@functools.partial(jax.jit, static_argnames="problem")
def _cosines(params, target, other, *, problem):
    def one_seed(p):
        return task_gradient_cosines(lambda q: pooled_task_losses(problem, q, target),
                                     lambda q: pooled_task_losses(problem, q, other), p)

    return jax.vmap(one_seed)(params)


def split_batches(key: chex.PRNGKey, split: Split, num_batches: int, batch_size: int, context: int,
                  stats, env) -> chex.ArrayTree:
    """`num_batches` batches of `sample_batch` from `split`, the b-th from fold_in(key, b): (n, B, …) leaves."""
    keys = jax.vmap(lambda b: jax.random.fold_in(key, b))(jnp.arange(num_batches))
    return jax.vmap(lambda k: sample_batch(k, split, batch_size, context, stats, env))(keys)


def dataset_batches(dataset: Dataset, split_name: str, key: chex.PRNGKey, num_batches: int, batch_size: int,
                    context: int) -> chex.ArrayTree:
    """Batches (n, B, …) of one split ("train": days 1–8, "val": day 9, "test": day 10) of the logs,
    normalised with the training statistics, windows of `context` ticks (the model's context_len)."""
    split = jax.tree.map(jnp.asarray, dataset.split(split_name))
    return split_batches(key, split, num_batches, batch_size, context, dataset.stats, dataset.config.env)


def regime_distances(regime, test_day: int, val_day: int, train_days: Sequence[int]) -> dict:
    """How far the test day's market regime is from the validation day's and the training days'.

    Args:
      regime: (D, 5) `World.regime` rows, indexed by day (log shifts, `REGIME_NAMES`).
      test_day, val_day, train_days: the split (`DataConfig`).

    Returns:
      {"test_vs_val": ‖r_test − r_val‖, "test_vs_train_mean": ‖r_test − mean_d r_d‖ (d in
      train_days), "test_vs_train_days": mean_d ‖r_test − r_d‖, "test_minus_val" and
      "test_minus_train_mean": {name: difference} per regime column, "day_to_day": ‖r_d − r_{d−1}‖
      for d = 1 … D−1}; Euclidean distances in log space.
    """
    r = np.asarray(regime, np.float64)
    test, val, train = r[test_day], r[val_day], r[list(train_days)]
    return {
        "test_vs_val": float(np.linalg.norm(test - val)),
        "test_vs_train_mean": float(np.linalg.norm(test - train.mean(0))),
        "test_vs_train_days": float(np.linalg.norm(test - train, axis=1).mean()),
        "test_minus_val": dict(zip(REGIME_NAMES, (test - val).tolist())),
        "test_minus_train_mean": dict(zip(REGIME_NAMES, (test - train.mean(0)).tolist())),
        "day_to_day": np.linalg.norm(np.diff(r, axis=0), axis=1).tolist(),
    }


def measure_premise(problem: MultiTaskProblem, dataset: Dataset, params: chex.ArrayTree, tasks: Sequence[str],
                    context: int, batch_size: int, key: chex.PRNGKey, num_batches: int = 8) -> dict:
    """The premise for a trained multi-task model (e.g. equal weighting), JSON-ready.

    Args:
      problem: `bidding.make_problem(dataset, …)`.
      params: seed-stacked (S, …) params of one multi-task method.
      tasks: the K task names. context: the model's context_len. batch_size: B.
      key: the batches' key; every day's n batches come from it (fold_in per split).

    Returns:
      {"gradient_cosine": {"test_vs_val" | "test_vs_train": {task: {"mean", "seeds"}}},
       "regime_distance": `regime_distances`, "batches": {"num_batches", "batch_size"}}.
    """
    days = {name: dataset_batches(dataset, name, jax.random.fold_in(key, i), num_batches, batch_size, context)
            for i, name in enumerate(("train", "val", "test"))}
    cosines = gradient_cosines(problem, params, days["test"], {"val": days["val"], "train": days["train"]})
    config = dataset.config
    out = {
        "gradient_cosine": {f"test_vs_{name}": {t: {"mean": float(np.nanmean(c[:, k])), "seeds": c[:, k].tolist()}
                                                for k, t in enumerate(tasks)}
                            for name, c in cosines.items()},
        "batches": {"num_batches": num_batches, "batch_size": batch_size},
    }
    if dataset.world is not None:
        out["regime_distance"] = regime_distances(dataset.world.regime, config.test_day, config.val_day,
                                                  config.train_days)
    return out
