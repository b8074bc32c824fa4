"""The evaluation section of a config: how the trained policies are conditioned and scored on the test day."""

from __future__ import annotations

import dataclasses
import math


@dataclasses.dataclass(frozen=True)
class EvalConfig:
    """Attributes:
      target_quantile: the quantile of a task's training returns each advertiser targets.
      return_kind: "expected" (value of exposed wins in expectation: no conversion-lottery noise)
        or "realised" (sampled conversions).
      beta: β ≥ 0 of the AuctionNet score `value × min(1, (ratio / target)^β)` (`vamo_jax.score`);
        2 as in AuctionNet, 0 scores the value alone.
    """

    target_quantile: float = 0.9
    return_kind: str = "expected"
    beta: float = 2.0

    def __post_init__(self):
        if not 0.0 <= self.target_quantile <= 1.0:
            raise ValueError(f"eval.target_quantile must be in [0, 1], got {self.target_quantile}.")
        if self.return_kind not in ("expected", "realised"):
            raise ValueError(f"eval.return_kind must be expected or realised, got {self.return_kind!r}.")
        if not (isinstance(self.beta, (int, float)) and math.isfinite(self.beta) and self.beta >= 0):
            raise ValueError(f"eval.beta must be a finite number ≥ 0 (AuctionNet: 2), got {self.beta!r}.")
