"""State features from AuctionNet's raw columns: the project's 16 (`sim.STATE_FEATURES`) and AuctionNet's 16.

Both are running means of per-step statistics: "hist" over the steps 0..t−1 of the period,
"last3" over the last ≤ 3 of them (0 at t = 0). The project's features are computed by
`project_features` from one step's running sums, so the reader (all steps at once) and the
offline evaluator (one step at a time, online) share one formula.

Per-step statistics of an advertiser (`PROJECT_STATS`), from the raw columns of its rows at step t
(n_t impressions, r the reserve, K slots, b_(k) the k-th highest bid taking part):
  action    Σ bid / Σ pValue (the multiplier a_t with bid = a_t · pValue; 0 when nothing was bid on)
  win_rate  Σ isExposed / n_t
  cost      Σ cost / (budget / T)
  lwc       Σ_i max(b_(K), r) / n_t (the bid needed to take the last slot; AuctionNet's
            leastWinningCost column is b_(K+1), the price of that slot)
  value     Σ pValue / n_t
  volume    n_t / (impressions_per_day / T)

AuctionNet's 16 (its baselines' `train_data_generator`, in its order): time left, budget left,
then the hist and last3 means of the per-step means of bid, leastWinningCost, pValue,
conversionAction and xi (bid: hist, last3; then hist of lwc, pValue, conversion, xi; then their
last3), the current step's mean pValue and impression count, and the impression counts of the
last 3 steps and of all steps before t (sums, not means).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

PROJECT_STATS: tuple[str, ...] = ("action", "win_rate", "cost", "lwc", "value", "volume")
RECENT = 3


def _step_means(t, hist_sum, recent_sum, remaining, budget):
    """(mean over steps 0..t−1, mean over the last ≤ `RECENT` steps, share of the budget left) at step t."""
    hist = hist_sum / jnp.maximum(t, 1.0)[..., None]
    recent = recent_sum / jnp.maximum(jnp.minimum(t, float(RECENT)), 1.0)[..., None]
    return hist, recent, remaining / budget


def project_features(t, ticks: int, remaining, budget, hist_sum, recent_sum, current_value, current_volume):
    """The project's 16 features at step t (`sim.env.STATE_FEATURES`), broadcast over leading axes.

    Args:
      t: (…,) step index. ticks: T.
      remaining, budget: (…,) budget left before step t, and the budget.
      hist_sum: (…, 6) Σ of the `PROJECT_STATS` over steps 0..t−1.
      recent_sum: (…, 6) their Σ over steps max(0, t−3)..t−1.
      current_value, current_volume: (…,) step t's value and volume statistics.

    Returns:
      (…, 16) float32.
    """
    t = jnp.asarray(t, jnp.float32)
    hist, recent, left = _step_means(t, hist_sum, recent_sum, remaining, budget)
    return jnp.stack([
        jnp.broadcast_to(1.0 - t / ticks, left.shape), left, (1.0 - left) - t / ticks,
        hist[..., 0], hist[..., 1], recent[..., 1], hist[..., 2], recent[..., 2], hist[..., 3], recent[..., 3],
        hist[..., 4], recent[..., 4], hist[..., 5], recent[..., 5], current_value, current_volume,
    ], -1).astype(jnp.float32)


def running_sums(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(…, T, F) per-step values → (Σ over steps < t, Σ over the last ≤ 3 steps < t), each (…, T, F)."""
    x = np.asarray(x, np.float64)
    before = np.cumsum(x, axis=-2) - x
    shifted = np.concatenate([np.zeros_like(x[..., :RECENT, :]), before], axis=-2)
    return before, before - shifted[..., : x.shape[-2], :]


def project_stats(log, mean_per_tick: float) -> np.ndarray:
    """(N, T, 6) the `PROJECT_STATS` of every advertiser and step of a `PeriodLog`."""
    n, ticks = log.bid.shape
    denom = np.maximum(log.volume, 1.0)[None, :]
    action = np.where(log.pvalue > 0, log.bid / np.where(log.pvalue > 0, log.pvalue, 1.0), 0.0)
    market = lambda x: np.broadcast_to(x, (n, ticks))  # noqa: E731
    return np.stack([
        action, log.exposed / denom, log.cost / (log.budget[:, None].astype(np.float64) / ticks),
        market(log.lwc_kth / denom), log.pvalue / denom, market(log.volume / mean_per_tick),
    ], -1)


def project_states(log, mean_per_tick: float) -> np.ndarray:
    """(N, T, 16) the project's state features of every advertiser of a `PeriodLog`."""
    stats = project_stats(log, mean_per_tick)
    hist, recent = running_sums(stats)
    t = np.arange(log.bid.shape[1])
    return np.asarray(project_features(t[None, :], log.bid.shape[1], log.remaining, log.budget[:, None], hist,
                                       recent, stats[..., 4], stats[..., 5]))


AUCTIONNET_STATS: tuple[str, ...] = ("bid", "least_winning_cost", "pvalue", "conversion", "xi")
"""The per-step means (over the step's impressions) behind AuctionNet's features."""


def auctionnet_features(t, ticks: int, remaining, budget, hist_sum, recent_sum, current_pvalue, volume,
                        volume_recent, volume_hist):
    """AuctionNet's 16 features at step t (module docstring), broadcast over leading axes.

    Args:
      t, ticks, remaining, budget: as `project_features`.
      hist_sum, recent_sum: (…, 5) Σ of the `AUCTIONNET_STATS` over steps 0..t−1 and over the last ≤ 3.
      current_pvalue: (…,) step t's mean pValue. volume: (…,) step t's impressions.
      volume_recent, volume_hist: (…,) impressions of the last ≤ 3 steps and of all steps before t.

    Returns:
      (…, 16) float32.
    """
    t = jnp.asarray(t, jnp.float32)
    hist, recent, left = _step_means(t, hist_sum, recent_sum, remaining, budget)
    return jnp.stack([
        jnp.broadcast_to((ticks - t) / ticks, left.shape), left, hist[..., 0], recent[..., 0],
        hist[..., 1], hist[..., 2], hist[..., 3], hist[..., 4], recent[..., 1], recent[..., 2], recent[..., 3],
        recent[..., 4], current_pvalue, jnp.broadcast_to(volume, left.shape),
        jnp.broadcast_to(volume_recent, left.shape), jnp.broadcast_to(volume_hist, left.shape),
    ], -1).astype(jnp.float32)


def auctionnet_states(log) -> np.ndarray:
    """(N, T, 16) AuctionNet's own state features (module docstring) of a `PeriodLog`."""
    n, ticks = log.bid.shape
    denom = np.maximum(log.volume, 1.0)[None, :]
    means = np.stack([log.bid / denom, np.broadcast_to(log.lwc_logged / denom, (n, ticks)), log.pvalue / denom,
                      log.conversions / denom, log.xi / denom], -1)  # (N, T, 5)
    hist, recent = running_sums(means)
    volume_hist, volume_recent = (v[..., 0] for v in running_sums(log.volume[:, None]))
    return np.asarray(auctionnet_features(np.arange(ticks)[None, :], ticks, log.remaining, log.budget[:, None], hist,
                                          recent, means[..., 2], log.volume, volume_recent, volume_hist))
