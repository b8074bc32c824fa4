"""The AuctionNet score of an advertiser's day: its own-campaign value, penalised when it misses its constraint.

AuctionNet scores an advertiser `conversions × min(1, (CPA_target / CPA)^β)`, β = 2. Our campaigns
carry two kinds of constraint (`vamo_jax.sim.market.World.constraint`):

  * return on spend (GMV, Dir-GMV, campaign types 0 and 1): the constraint R is a target ROI,
    ROI = value × unit_value[c] / cost (dimensionless: currency over currency), and
        score = value × min(1, (ROI / R)^β);
  * cost per result (CartCnt, campaign type 2): the constraint C is a target cost per cart in bid
    currency (`make_world` sets C = unit_value[2] / roi_target), CPA = cost / carts (bid currency
    per cart, the same units), and
        score = value × min(1, (C / CPA)^β).

With C = unit_value[2] / R_cart both forms are one: C / CPA = (carts × unit_value[2] / cost) / R_cart,
the cart campaign's ROI over its target ROI. So every advertiser's penalty is `min(1, q^β)` with
q = ROI / R, its *constraint ratio* (q ≥ 1: the constraint is met).

Units: `value` is the own-campaign value in raw units (GMV currency for GMV and Dir-GMV, carts
for CartCnt), as `DayTotals.value[..., campaign]`, and the score is in the same raw units; `cost`
is in bid currency (`DayTotals.cost`).

Edge cases (decided here; every one follows from q = value × unit / (cost × R), q = ∞ at cost 0):
  * cost 0, value > 0: ROI = ∞, CPA = 0, the constraint is met, score = value.
  * cost 0, value 0: nothing spent, nothing earned: met (q = ∞), score = 0.
  * cost > 0, value 0 (zero conversions): ROI = 0, CPA = ∞, violated, score = 0 (for every β,
    β = 0 included, since the value is 0).
  * β = 0: no penalty, score = value.
"""

from __future__ import annotations

import numpy as np

from vamo_jax.sim.params import COST_PER_RESULT

CPA_CAMPAIGNS: tuple[int, ...] = tuple(c for c, cost_per_result in enumerate(COST_PER_RESULT) if cost_per_result)
"""Campaign types whose constraint is a cost per result (CartCnt); the others carry a target ROI."""


def _broadcast(value, cost, constraint, campaign):
    value, cost = np.asarray(value, np.float64), np.asarray(cost, np.float64)
    constraint, campaign = np.asarray(constraint, np.float64), np.asarray(campaign)
    if not np.issubdtype(campaign.dtype, np.integer):
        raise ValueError(f"campaign must hold integer campaign types, got dtype {campaign.dtype}.")
    if np.any(~np.isfinite(constraint)) or np.any(constraint <= 0):
        raise ValueError("every constraint must be finite and > 0 (a target ROI or a target cost per "
                         f"result), got min {constraint.min()}.")
    if np.any(value < 0) or np.any(cost < 0):
        raise ValueError("value and cost must be ≥ 0.")
    return value, cost, constraint, campaign


def constraint_ratio(value, cost, constraint, campaign, unit_value) -> np.ndarray:
    """q = ROI / target ROI (= C / CPA for a cost-per-result constraint): ≥ 1 when the constraint is met.

    Args:
      value: (…,) own-campaign value, raw units (currency, or carts).
      cost: (…,) spend in bid currency.
      constraint: (…,) `World.constraint`: target ROI, or target cost per cart in bid currency.
      campaign: (…,) int campaign type (index into `CAMPAIGN_NAMES`).
      unit_value: (3,) `EnvParams.unit_value`, the bid-currency worth of one unit of each channel.
      All broadcast together, e.g. (S, N) values and costs with (N,) constraint and campaign.

    Returns:
      (…,) q; ∞ where cost is 0 (nothing spent: the constraint holds), 0 where value is 0 < cost.
    """
    value, cost, constraint, campaign = _broadcast(value, cost, constraint, campaign)
    unit = np.asarray(unit_value, np.float64)[campaign]
    cpa = np.isin(campaign, CPA_CAMPAIGNS)
    # ROI / R = value·unit / (cost·R);  C / CPA = C·carts / cost.
    numerator = np.where(cpa, constraint * value, value * unit / constraint)
    safe = np.where(cost > 0, cost, 1.0)
    return np.where(cost > 0, numerator / safe, np.inf)


def online_ratio(value, cost, campaign, unit_value) -> np.ndarray:
    """Each advertiser's own online ratio: ROI = value × unit / cost (GMV, Dir-GMV), CPA = cost / carts (CartCnt).

    Shapes as `constraint_ratio`. At cost 0: ROI = ∞ and CPA = 0; CPA = ∞ at zero carts and a
    positive cost. (The results table's per-task ratio is the ratio of sums over the task's
    advertisers, `day_metrics`; this is the per-advertiser one.)
    """
    value, cost = np.asarray(value, np.float64), np.asarray(cost, np.float64)
    campaign = np.asarray(campaign)
    unit = np.asarray(unit_value, np.float64)[campaign]
    cpa = np.isin(campaign, CPA_CAMPAIGNS)
    with np.errstate(divide="ignore", invalid="ignore"):
        roi = np.where(cost > 0, value * unit / np.where(cost > 0, cost, 1.0), np.inf)
        per_result = np.where(cost > 0, np.where(value > 0, cost / np.where(value > 0, value, 1.0), np.inf), 0.0)
    return np.where(cpa, per_result, roi)


def violated(value, cost, constraint, campaign, unit_value) -> np.ndarray:
    """(…,) bool: the advertiser missed its constraint (ROI below target, or CPA above target); shapes as `constraint_ratio`."""
    return constraint_ratio(value, cost, constraint, campaign, unit_value) < 1.0


def score(value, cost, constraint, campaign, unit_value, beta: float = 2.0) -> np.ndarray:
    """The AuctionNet score `value × min(1, q^β)`, q = `constraint_ratio` (see the module docstring).

    Args:
      value, cost, constraint, campaign, unit_value: as `constraint_ratio`, broadcast together.
      beta: β ≥ 0, the penalty exponent (AuctionNet: 2; 0 = no penalty).

    Returns:
      (…,) float64 score in the value's raw units (currency, or carts).
    """
    if not (np.isfinite(beta) and beta >= 0):
        raise ValueError(f"beta must be finite and ≥ 0, got {beta}.")
    q = constraint_ratio(value, cost, constraint, campaign, unit_value)
    penalty = np.where(q >= 1.0, 1.0, np.power(np.minimum(q, 1.0), beta))
    return np.asarray(value, np.float64) * penalty


def task_means(x, tasks, num_tasks: int) -> np.ndarray:
    """(…, N) per-advertiser numbers (scores, violation indicators) → (…, K) the mean over each task's advertisers.

    Args:
      x: (…, N). tasks: (N,) each advertiser's learning task in [0, K). num_tasks: K.

    Raises:
      ValueError when a task has no advertiser (its mean is undefined).
    """
    x, tasks = np.asarray(x, np.float64), np.asarray(tasks)
    if tasks.size and (tasks.min() < 0 or tasks.max() >= num_tasks):
        raise ValueError(f"task_means: task ids must be in [0, {num_tasks}), got [{tasks.min()}, {tasks.max()}].")
    counts = np.bincount(tasks, minlength=num_tasks)
    if np.any(counts == 0):
        raise ValueError(f"task_means: tasks {np.flatnonzero(counts == 0).tolist()} have no advertiser.")
    onehot = tasks[:, None] == np.arange(num_tasks)  # (N, K)
    return (x @ onehot) / counts


METRICS = ("score", "value", "cost", "online_ratio", "violation_rate")
"""The per-task metrics of a scored day (`day_metrics`), the names results.json and the tables use."""

RATIO_NAMES = ("ROI", "Dir-ROI", "COST-per-Cart")
"""The paper's online ratio of each campaign type (`day_metrics`' "online_ratio")."""


def day_metrics(value, cost, constraint, campaign, tasks, channels, unit_value,
                beta: float = 2.0) -> dict[str, np.ndarray]:
    """Per learning task, the metrics of a scored day, from each advertiser's own-campaign value and spend.

    Args:
      value, cost: (…, N) per-advertiser own-campaign value (raw units) and spend (e.g. (S, D, N)
        per seed and test draw).
      constraint, campaign, tasks: (N,) `World.constraint`, `World.campaign`, each advertiser's
        learning task in [0, K).
      channels: (K,) each task's campaign type (its value channel).
      unit_value, beta: as `score`.

    Returns:
      `METRICS` -> (…, K): "score" the mean AuctionNet score of the task's advertisers (the
      results' per-task number); "value" their mean own-campaign value, unpenalised; "cost" their
      mean spend; "online_ratio" the paper's ratio of the task's totals (ROI = value × unit /
      cost for GMV and Dir-GMV, COST-per-Cart = cost / carts for CartCnt, `RATIO_NAMES`);
      "violation_rate" the share that miss their constraint.
    """
    channels = np.asarray(channels)
    num_tasks = len(channels)
    means = {"value": task_means(value, tasks, num_tasks), "cost": task_means(cost, tasks, num_tasks)}
    counts = np.bincount(np.asarray(tasks), minlength=num_tasks)
    total_value, total_cost = means["value"] * counts, means["cost"] * counts
    ratio = np.where(np.isin(channels, CPA_CAMPAIGNS), total_cost / np.maximum(total_value, 1e-9),
                     total_value / np.maximum(total_cost, 1e-9))
    return {
        "score": task_means(score(value, cost, constraint, campaign, unit_value, beta), tasks, num_tasks),
        "value": means["value"],
        "cost": means["cost"],
        "online_ratio": ratio,
        "violation_rate": task_means(violated(value, cost, constraint, campaign, unit_value), tasks, num_tasks),
    }


def auctionnet_score(conversions, cost, cpa_target, beta: float = 2.0) -> np.ndarray:
    """AuctionNet's own score of a period (`getScore_neurips` in its offline evaluation), elementwise:

        CPA = cost / (conversions + 1e-10);  score = conversions × min(1, (cpa_target / (CPA + 1e-10))^β).

    Its guards are kept, so on data of one conversion type it equals `score(conversions, cost,
    cpa_target, campaign=CartCnt, unit_value)` at unit value 1 up to them (`tests/test_score_auctionnet.py`).

    Args:
      conversions, cost, cpa_target: (…,) broadcast together; cpa_target > 0 (`CPAConstraint`).
      beta: β ≥ 0 (AuctionNet: 2).
    """
    conversions, cost = np.asarray(conversions, np.float64), np.asarray(cost, np.float64)
    cpa_target = np.asarray(cpa_target, np.float64)
    if np.any(~np.isfinite(cpa_target)) or np.any(cpa_target <= 0):
        raise ValueError(f"cpa_target must be finite and > 0, got min {cpa_target.min()}.")
    cpa = cost / (conversions + 1e-10)
    penalty = np.where(cpa > cpa_target, np.power(cpa_target / (cpa + 1e-10), beta), 1.0)
    return penalty * conversions
