"""Multi-task summary metrics: Δm% against a baseline and mean rank."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np


def delta_m(method: Sequence[float], baseline: Sequence[float], higher_is_better: Sequence[bool] | None = None) -> float:
    """Δm% = (1/K) Σ_k (−1)^{h_k} (M_m,k − M_b,k) / M_b,k × 100 (paper §4.1); lower is better.

    Args:
      method: (K,) the method's per-task metric M_m,k.
      baseline: (K,) the baseline's (STL's) metric M_b,k, non-zero.
      higher_is_better: (K,) per task; defaults to all True (returns), for which a method that
        beats the baseline gets a negative Δm.
    """
    m = np.asarray(method, np.float64)
    b = np.asarray(baseline, np.float64)
    if m.shape != b.shape or m.ndim != 1:
        raise ValueError(f"delta_m needs two (K,) vectors, got {m.shape} and {b.shape}.")
    if np.any(b == 0):
        raise ValueError(f"delta_m: the baseline has a zero metric for task(s) {np.flatnonzero(b == 0).tolist()}.")
    sign = np.where(np.ones_like(m, bool) if higher_is_better is None else np.asarray(higher_is_better), -1.0, 1.0)
    return float(np.mean(sign * (m - b) / np.abs(b)) * 100)


def mean_rank(per_task: Mapping[str, Sequence[float]], higher_is_better: bool = True) -> dict[str, float]:
    """Each method's rank (1 = best) averaged over tasks; ties share the mean rank."""
    names = list(per_task)
    values = np.asarray([per_task[n] for n in names], np.float64)  # (M, K)
    scores = -values if higher_is_better else values
    ranks = np.zeros_like(scores)
    for k in range(scores.shape[1]):
        column = scores[:, k]
        for i, v in enumerate(column):
            ranks[i, k] = 1 + np.sum(column < v) + 0.5 * (np.sum(column == v) - 1)
    return {n: float(r) for n, r in zip(names, ranks.mean(1))}
