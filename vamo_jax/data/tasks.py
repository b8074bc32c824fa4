"""Learning tasks: the paper's three campaign types, or K > 3 per-category sub-tasks of them.

With `num_tasks = 3` (the paper), learning task k is campaign type k (`spec.CAMPAIGN_NAMES[k]`).
With `num_tasks = K > 3`, each campaign type t is split into K_t sub-tasks (K_t by largest
remainder of K × the type's share of advertisers, at least 1 each): the type's advertisers,
ordered by (category, index), are cut into K_t contiguous groups of near-equal size, so a
sub-task is a group of same-category advertisers of one campaign type ("per-category tasks").
Tasks are numbered type-major: the K_0 GMV sub-tasks first, then Dir-GMV, then CartCnt, and a
sub-task keeps its campaign type's value channel, requirement and reward.

A market of one campaign type (AuctionNet's one conversion type, `configs/auctionnet.py`) has
1 ≤ K ≤ N tasks, all of that type (K = 3 included): a choice of grouping, not of value channel,
so relabeling between them leaves the reward channel as it is.
"""

from __future__ import annotations

import numpy as np

from vamo_jax.data.spec import NUM_VALUE_CHANNELS, CAMPAIGN_NAMES
from vamo_jax.sim.market import campaign_assignment
from vamo_jax.sim.params import EnvParams, largest_remainder


def tasks_per_type(env: EnvParams, num_tasks: int) -> tuple[int, ...]:
    """(3,) K_t, the number of learning tasks of each campaign type; raises if K is infeasible."""
    single = single_type(env)
    if single is not None:
        if not 1 <= num_tasks <= env.num_advertisers:
            raise ValueError(f"DataConfig.num_tasks={num_tasks} is invalid: a market of one campaign type takes "
                             f"1 ≤ K ≤ env.num_advertisers={env.num_advertisers} tasks.")
        return tuple(num_tasks if c == single else 0 for c in range(NUM_VALUE_CHANNELS))
    if num_tasks == NUM_VALUE_CHANNELS:
        return (1,) * NUM_VALUE_CHANNELS
    counts = np.asarray(env.campaign_counts())
    if num_tasks < NUM_VALUE_CHANNELS or num_tasks > counts.sum():
        raise ValueError(
            f"DataConfig.num_tasks={num_tasks} is invalid: use 3 (the campaign types) or "
            f"3 < K ≤ env.num_advertisers={int(counts.sum())} (one advertiser at least per task)."
        )
    if np.any(counts == 0):
        raise ValueError(f"DataConfig.num_tasks={num_tasks} > 3 needs advertisers of every campaign type; "
                         f"env.campaign_mix={env.campaign_mix} gives counts {tuple(counts)}.")
    per_type = np.maximum(np.asarray(largest_remainder(counts / counts.sum(), num_tasks)), 1)
    while per_type.sum() > num_tasks:  # the floor of 1 took a task from the largest type
        per_type[np.argmax(per_type)] -= 1
    if np.any(per_type > counts):
        raise ValueError(
            f"DataConfig.num_tasks={num_tasks} gives campaign types {tuple(per_type)} tasks but they have "
            f"{tuple(counts)} advertisers; lower num_tasks or raise env.num_advertisers."
        )
    return tuple(int(k) for k in per_type)


def single_type(env: EnvParams) -> int | None:
    """The campaign type of a market where every advertiser has the same one, else None."""
    present = np.flatnonzero(np.asarray(env.campaign_counts()))
    return int(present[0]) if len(present) == 1 else None


def task_channels(env: EnvParams, num_tasks: int) -> np.ndarray:
    """(K,) int32, the campaign type (value channel) of each learning task."""
    per_type = tasks_per_type(env, num_tasks)
    if num_tasks == NUM_VALUE_CHANNELS and single_type(env) is None:
        return np.arange(NUM_VALUE_CHANNELS, dtype=np.int32)
    return np.repeat(np.arange(NUM_VALUE_CHANNELS), per_type).astype(np.int32)


def advertiser_tasks(env: EnvParams, num_tasks: int) -> np.ndarray:
    """(N,) int32, the learning task of each advertiser of the market `env`."""
    campaign = campaign_assignment(env)
    if num_tasks == NUM_VALUE_CHANNELS and single_type(env) is None:
        return campaign
    per_type = tasks_per_type(env, num_tasks)
    category = np.arange(env.num_advertisers) % env.num_categories
    out = np.empty(env.num_advertisers, np.int32)
    offset = 0
    for t, k_t in enumerate(per_type):
        if k_t == 0:  # a type no advertiser runs (a market of one campaign type)
            continue
        members = np.flatnonzero(campaign == t)
        members = members[np.lexsort((members, category[members]))]
        for i, group in enumerate(np.array_split(members, k_t)):
            out[group] = offset + i
        offset += k_t
    return out


def task_names(env: EnvParams, num_tasks: int) -> tuple[str, ...]:
    """K names: `CAMPAIGN_NAMES` for the three campaign types, else `gmv.0`, `gmv.1`, …, `cart.3`."""
    if num_tasks == NUM_VALUE_CHANNELS and single_type(env) is None:
        return CAMPAIGN_NAMES
    channels = task_channels(env, num_tasks)
    first = {c: int(np.flatnonzero(channels == c)[0]) for c in np.unique(channels)}
    return tuple(f"{CAMPAIGN_NAMES[c]}.{k - first[c]}" for k, c in enumerate(channels))
