"""Cross-task relabeling: a source trajectory re-expressed as a demonstration for a target task.

Every won impression carries a value under every channel (GMV, Dir-GMV, CartCnt), so the
rewards of a trajectory are known under every task. For target channel k (unit value u_k):

  * rewards: unchanged (already logged under every channel).
  * returns_to_go: Σ_{t' ≥ t} reward[t', k] × u_k / budget, exact (the same function that built
    the logs, `auctionnet.returns_to_go`).
  * campaign, task: k, so the requirement carries k's one-hot.
  * actions: the logged bid expressed as a multiplier of k's value estimate. The logged bid on
    impression i of tick t is a_t × v_own,i (bid currency). Under k the same bids are
    a'_t,i × v_k,i with a'_t,i = a_t × v_own,i / v_k,i, which varies by impression, so a tick's
    action is the one multiplier that reproduces the tick's total bid on the impressions it won
    and was exposed on:  a'_t = a_t × Σ_won v_own / Σ_won v_k.  Those sums are logged exactly:
    `rewards_continuous[t, c] × u_c` is Σ over exposed wins of channel c's value estimate.
    What the split lacks for the ratio over every impression the advertiser bid on (won or not)
    is the per-tick mean value estimate of each channel over its arriving impressions, (M, T, V);
    only the own channel's is logged (state feature 14, `current_value`). A tick with no exposed
    win (Σ_won v_k = 0) takes the trajectory's ratio Σ_t Σ_won v_own / Σ_t Σ_won v_k; a trajectory
    with none at all keeps a_t (ratio 1: both estimates are in bid currency). Relabeled actions
    are not clipped to the simulator's maximum multiplier.
  * constraint: the hindsight constraint the trajectory satisfied under k, as the return-to-go is
    the hindsight return: the realised ROI Σ reward[·, k] / Σ cost for GMV and Dir-GMV, the
    realised cost per cart Σ cost / Σ reward[·, 2] for CartCnt; 0 (unknown) where the ratio is
    undefined (no spend, or no cart). A constant 0 would not do: for cost per cart it demands
    a cost of 0 per cart, which no trajectory satisfies.
  * states, next_states, cost, remaining and the ids: as logged. The state features built from
    value estimates (10, 11, 14) and the past-action mean (3) stay those of the source advertiser.

Relabeling is defined on the three campaign-type tasks: the learning task becomes k too. With
those tasks (learning task = campaign type), a trajectory whose campaign type is already k is
returned unchanged, every field bit-identical.
"""

from __future__ import annotations

import jax
import numpy as np

from vamo_jax.data.auctionnet import returns_to_go
from vamo_jax.data.dataset import Split
from vamo_jax.data.tasks import task_channels
from vamo_jax.sim.params import EnvParams

CART = 2


def relabel(split: Split, target_task: int, unit_value: tuple[float, float, float]) -> Split:
    """`split` (M trajectories) re-expressed for target campaign type `target_task` ∈ {0, 1, 2}.

    Args:
      split: the source trajectories, any campaign types.
      target_task: the target task k (its value channel).
      unit_value: (3,) worth of one unit of each channel in bid currency (`EnvParams.unit_value`).

    Returns:
      A `Split` of the same M trajectories as numpy arrays (see the module docstring for every
      field); the rows whose campaign is already k keep their logged actions, returns-to-go and
      constraint.
    """
    if not 0 <= int(target_task) < 3:
        raise ValueError(f"relabel: target_task={target_task} must be in 0..2.")
    k = int(target_task)
    unit = np.asarray(unit_value, np.float32)
    campaign = np.asarray(split.campaign)
    own = campaign == k
    target = np.full_like(campaign, k)
    budget = np.asarray(split.budget)
    rtg = returns_to_go(np.asarray(split.rewards), target, budget, unit)

    expected = np.asarray(split.rewards_continuous, np.float32)
    source_value = np.take_along_axis(expected, campaign[:, None, None], axis=2)[..., 0] * unit[campaign][:, None]
    target_value = expected[..., k] * unit[k]
    trajectory_total = target_value.sum(1)
    trajectory_ratio = np.where(
        trajectory_total > 0, source_value.sum(1) / np.where(trajectory_total > 0, trajectory_total, 1.0), 1.0
    )
    ratio = np.where(target_value > 0, source_value / np.where(target_value > 0, target_value, 1.0),
                     trajectory_ratio[:, None])
    actions = np.asarray(split.actions)
    relabeled_actions = np.where(own[:, None], actions, actions * ratio.astype(actions.dtype))

    constraint = np.asarray(split.constraint)
    hindsight = _hindsight_constraint(np.asarray(split.rewards)[..., k].sum(1), np.asarray(split.cost).sum(1), k)
    return split.replace(
        actions=relabeled_actions.astype(actions.dtype),
        returns_to_go=np.where(own[:, None], np.asarray(split.returns_to_go), rtg),
        campaign=target,
        task=np.full_like(np.asarray(split.task), k),
        constraint=np.where(own, constraint, hindsight.astype(constraint.dtype)),
    )


def _hindsight_constraint(value: np.ndarray, cost: np.ndarray, channel: int) -> np.ndarray:
    """(M,) realised ROI (value / cost), or cost per cart (cost / carts) for CartCnt; 0 if undefined."""
    num, den = (cost, value) if channel == CART else (value, cost)
    return np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)


def relabel_for_every_task(split: Split, env: EnvParams, num_tasks: int) -> Split:
    """`split` relabeled for each learning task k, stacked on a leading axis K (K, M, …).

    Copy k is `relabel(split, channel of k)` with learning task k (with per-category sub-tasks,
    K > 3, several tasks share a campaign type and so a relabeling); the rows keep their order, so
    the same rows and windows drawn from every copy (`sample_cross_batch`) are aligned.
    """
    copies = [relabel(split, int(c), env.unit_value).replace(task=np.full_like(np.asarray(split.task), k))
              for k, c in enumerate(task_channels(env, num_tasks))]
    return jax.tree.map(lambda *xs: np.stack(xs), *copies)
