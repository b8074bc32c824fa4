"""What the trainer trains: a `MultiTaskProblem` (pure functions over explicit data arrays) and the
task losses every method and every held-out measurement computes from it.

The trainer and the methods know nothing of bidding: `vamo_jax.bidding.make_problem` builds the
bidding problem, `tests/_problem.py` a synthetic one.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import chex
import jax

from vamo_jax.mtl import task_losses


class MultiTaskProblem(NamedTuple):
    """What the trainer needs; every function is pure and jittable.

    Attributes:
      num_tasks: K.
      init_params: key -> params.
      per_example_loss: (params, batch) -> (B,) losses (padding already masked).
      task_of: batch -> (B,) int task ids.
      sample_train: (key, data) -> a mixed training batch (task proportions of the data).
      sample_val: (key, data) -> a mixed validation batch of the same size.
      sample_task: (key, data, k) -> a training batch of task k only (for STL).
      data: the arrays the samplers read (passed to jit as an argument, not baked in).
      sample_cross: (key, data) -> (source (B,) int task of each row, batches stacked on a
        leading target axis K: the same B rows relabeled for each target k); for cross-task
        methods, None where the problem has no relabeling.
    """

    num_tasks: int
    init_params: Callable
    per_example_loss: Callable
    task_of: Callable
    sample_train: Callable
    sample_val: Callable
    sample_task: Callable
    data: Any
    sample_cross: Callable | None = None


def static_problem(problem: MultiTaskProblem) -> MultiTaskProblem:
    """The problem without its arrays: hashable, a static jit argument (the data is passed traced)."""
    return problem._replace(data=None)


def task_losses_on(problem: MultiTaskProblem, params: chex.ArrayTree, batch: Any) -> chex.Array:
    """(K,) task-masked losses of `params` on one batch."""
    return task_losses(problem.per_example_loss(params, batch), problem.task_of(batch), problem.num_tasks)


def pooled_task_losses(problem: MultiTaskProblem, params: chex.ArrayTree, batches: Any) -> chex.Array:
    """(K,) each task's mean per-example loss over every example of `batches` (a pytree with a leading
    batch-set axis n on every leaf: n batches of B), pooled across the n batches."""
    per_example = jax.vmap(lambda b: problem.per_example_loss(params, b))(batches)  # (n, B)
    tasks = jax.vmap(problem.task_of)(batches)
    return task_losses(per_example.reshape(-1), tasks.reshape(-1), problem.num_tasks)
