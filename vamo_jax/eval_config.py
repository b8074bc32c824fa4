"""The evaluation section of a config: how the trained policies are conditioned and scored on the test day."""

from __future__ import annotations

import dataclasses
import math

import numpy as np


@dataclasses.dataclass(frozen=True)
class EvalConfig:
    """Attributes:
      target_quantile: the quantile of a task's training returns each advertiser targets.
      return_kind: "expected" (value of exposed wins in expectation: no conversion-lottery noise)
        or "realised" (sampled conversions).
      beta: β ≥ 0 of the AuctionNet score `value × min(1, (ratio / target)^β)` (`vamo_jax.score`);
        2 as in AuctionNet, 0 scores the value alone.
    """

    day: str = "test"
    draws: int = 1
    target_quantile: float | tuple[float, ...] = 0.9
    return_kind: str = "expected"
    beta: float = 2.0
    hindsight_grid: int = 0

    def __post_init__(self):
        if self.day not in ("test", "validation"):
            raise ValueError(f"eval.day must be test or validation, got {self.day!r}.")
        if not (isinstance(self.draws, int) and self.draws >= 1):
            raise ValueError(f"eval.draws must be an integer ≥ 1, got {self.draws!r}.")
        quantiles = self.target_quantile if isinstance(self.target_quantile, tuple) else (self.target_quantile,)
        if not quantiles or not all(isinstance(q, (int, float)) and 0.0 <= q <= 1.0 for q in quantiles):
            raise ValueError(f"eval.target_quantile must be in [0, 1] (one, or one per task), got {self.target_quantile}.")
        if not (isinstance(self.hindsight_grid, int) and (self.hindsight_grid == 0 or self.hindsight_grid >= 2)):
            raise ValueError(f"eval.hindsight_grid must be 0 (no reference) or an integer ≥ 2, got {self.hindsight_grid!r}.")
        if self.return_kind not in ("expected", "realised"):
            raise ValueError(f"eval.return_kind must be expected or realised, got {self.return_kind!r}.")
        if not (isinstance(self.beta, (int, float)) and math.isfinite(self.beta) and self.beta >= 0):
            raise ValueError(f"eval.beta must be a finite number ≥ 0 (AuctionNet: 2), got {self.beta!r}.")


def per_task_quantiles(quantile, num_tasks: int) -> np.ndarray:
    """(num_tasks,) each task's return-to-go quantile from `eval.target_quantile`: one number
    for every task, or one per task.

    Raises:
      ValueError: a count of quantiles other than 1 or `num_tasks`.
    """
    quantiles = np.atleast_1d(np.asarray(quantile, np.float64))
    if quantiles.size not in (1, num_tasks):
        raise ValueError(f"eval.target_quantile: {quantiles.size} quantiles for {num_tasks} tasks; "
                         "give one for every task, or one per task.")
    return np.broadcast_to(quantiles, (num_tasks,))
