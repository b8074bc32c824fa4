"""`DataConfig`: what data set to generate from the simulator, frozen and validated."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math

import numpy as np

from vamo_jax.sim.params import BehaviourSpread, EnvParams, largest_remainder

FORMAT_VERSION = 4
"""Bumped whenever generation changes, so stale caches are never read."""


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """The offline data set: days, split, sizes, market and behaviour policies.

    Attributes:
      seed: every random draw derives from `jax.random.key(seed)`.
      num_days: days 1..num_days are logged (day 0 is a burn-in day that feeds the history
        window of day 1 and is never a trajectory).
      train_days, val_day, test_day: the temporal split (paper §4.1: 1–8 / 9 / 10).
      num_tasks: K learning tasks: 3 (the campaign types, the paper) or K > 3 per-category
        sub-tasks of them (`vamo_jax.data.tasks`); the model's `num_tasks` must match.
      train_per_task: trajectories per campaign type (GMV, Dir-GMV, CartCnt) in the training
        split (paper Table 4, simulation: 20/20/10); with K > 3 a type's count is shared among
        its sub-tasks by largest remainder. None = every trajectory of the split's days.
      val_per_task, test_per_task: the same for validation and test.
      env: the market (`EnvParams`); `env.history_len` is the history window H.
      alpha_spread: quality spread of the behaviour policies (log-sd of their multiplier α).
      explore_noise: per-tick exploration log-sd of the behaviour policies' multipliers.
      behaviour: which bidders write the logs (`BehaviourSpread`): kind "heuristic" (default:
        the constraint-blind heuristics, the logs as before issue 23) or "auto_bidder"
        (constraint-aware auto-bidders with a declared spread of quality).
      task_shift: the task-shift strength s ≥ 0 (`vamo_jax.sim.market.shift_world`): from the
        day after the last training day on, each task's value channel shifts by s × its
        declared direction. 0 (default): the market as it is, bit for bit.
      cache_dir: directory of the on-disk cache (None: no cache).
      markets: None: one market, the logs of `make_dataset` from `seed` (every training seed
        trains on them and is scored on their test day). M: replications over M independent
        markets, market m drawn from `fold_in(jax.random.key(seed), m)` (`vamo_jax.data.markets`),
        each with `train.num_seeds` training seeds of its own.
    Independent markets ("episodes") of the same days are simulated as needed to supply more
    trajectories per task than one market has advertisers × days.
    """

    seed: int = 0
    num_days: int = 10
    train_days: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7, 8)
    val_day: int = 9
    test_day: int = 10
    num_tasks: int = 3
    train_per_task: tuple[int, int, int] | None = (20, 20, 10)
    val_per_task: tuple[int, int, int] | None = None
    test_per_task: tuple[int, int, int] | None = None
    env: EnvParams = EnvParams()
    alpha_spread: float = 0.3
    explore_noise: float = 0.1
    behaviour: BehaviourSpread = BehaviourSpread()
    task_shift: float = 0.0
    cache_dir: str | None = None
    markets: int | None = None

    def __post_init__(self):
        def fail(field, fix):
            raise ValueError(f"DataConfig.{field}={getattr(self, field)!r} is invalid: {fix}.")

        if self.num_days < 3:
            fail("num_days", "need at least 3 days (train, validation, test)")
        days = set(range(1, self.num_days + 1))
        if not self.train_days or not set(self.train_days) <= days or len(set(self.train_days)) != len(self.train_days):
            fail("train_days", f"give distinct days within 1..{self.num_days}")
        for name in ("val_day", "test_day"):
            if getattr(self, name) not in days:
                fail(name, f"use a day within 1..{self.num_days}")
        if self.val_day == self.test_day or {self.val_day, self.test_day} & set(self.train_days):
            fail("val_day", "train days, the validation day and the test day must not overlap")
        if max(self.train_days) >= self.val_day or self.val_day >= self.test_day:
            fail("val_day", "keep time order: every train day < val_day < test_day")
        for name in ("train_per_task", "val_per_task", "test_per_task"):
            v = getattr(self, name)
            if v is not None and (len(v) != 3 or any(int(c) != c or c < 0 for c in v)):
                fail(name, "give 3 non-negative integers (GMV, Dir-GMV, CartCnt)")
        for name in ("alpha_spread", "explore_noise", "task_shift"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v >= 0):
                fail(name, "use a finite value ≥ 0")
        if not isinstance(self.env, EnvParams):
            fail("env", "pass an EnvParams")
        if not isinstance(self.behaviour, BehaviourSpread):
            fail("behaviour", "pass a BehaviourSpread")
        if int(self.num_tasks) != self.num_tasks:
            fail("num_tasks", "give an integer")
        if self.markets is not None and (int(self.markets) != self.markets or self.markets < 1):
            fail("markets", "give a positive number of markets, or none for the one market of data.seed")
        from vamo_jax.data.tasks import tasks_per_type

        tasks_per_type(self.env, self.num_tasks)  # raises naming num_tasks and the fix

    @property
    def shift_onset(self) -> int:
        """The first day of the task shift: the day after the last training day."""
        return max(self.train_days) + 1

    def split_days(self) -> dict[str, tuple[int, ...]]:
        return {"train": tuple(self.train_days), "val": (self.val_day,), "test": (self.test_day,)}

    def per_task(self, split: str) -> tuple[int, ...] | None:
        """(K,) trajectories per learning task of `split`, or None for all of them."""
        from vamo_jax.data.tasks import tasks_per_type

        per_type = {"train": self.train_per_task, "val": self.val_per_task, "test": self.test_per_task}[split]
        if per_type is None:
            return None
        out = []
        for count, k_t in zip(per_type, tasks_per_type(self.env, self.num_tasks)):
            out.extend(largest_remainder(np.full(k_t, 1.0 / k_t), int(count)))
        return tuple(out)

    def fingerprint(self) -> str:
        """Hash of everything that determines `make_dataset`'s arrays (not `cache_dir`, nor `markets`:
        the markets are generated, never cached)."""
        d = dataclasses.asdict(self)
        d.pop("cache_dir")
        d.pop("markets")
        d["format_version"] = FORMAT_VERSION
        return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:16]


@dataclasses.dataclass(frozen=True)
class AuctionNetConfig(DataConfig):
    """AuctionNet's raw periods as the data set (`vamo_jax.data.auctionnet_data`); periods are days.

    The inherited fields keep their meaning with periods for days: `train_days`, `val_day` and
    `test_day` are deliveryPeriodIndex values in time order, `num_days` the last period read;
    `num_tasks` is K; `env` describes AuctionNet's market (48 advertisers of one campaign type,
    48 steps, 3 slots, reserve 0) and `train_per_task` etc. are None (every trajectory).

    Attributes:
      path: the directory of the raw period files `period-<index>.csv` / `.parquet`.
      task_by: "category" (task k: the k-th advertiserCategoryIndex, K = the number of categories)
        or "cpa_class" (K classes of CPAConstraint, tightest first, cut at the training
        trajectories' quantiles k/K).
      features: "project" (`sim.STATE_FEATURES`, what the offline evaluator observes) or
        "auctionnet" (AuctionNet's own 16, to compare with its baselines on their terms).
      capacity: impressions per step in the evaluator's arrays; 0 = the largest step of the
        evaluated period.
    """

    path: str = ""
    task_by: str = "category"
    features: str = "project"
    capacity: int = 0

    def __post_init__(self):
        super().__post_init__()
        for name, choices in (("task_by", ("category", "cpa_class")), ("features", ("project", "auctionnet"))):
            if getattr(self, name) not in choices:
                raise ValueError(f"DataConfig.{name}={getattr(self, name)!r} is invalid: use one of {choices}.")
        if any(v is not None for v in (self.train_per_task, self.val_per_task, self.test_per_task)):
            raise ValueError("DataConfig.train_per_task/val_per_task/test_per_task must be None on AuctionNet "
                             "data: every (period, advertiser) trajectory is used.")
        if not (isinstance(self.capacity, int) and self.capacity >= 0):
            raise ValueError(f"DataConfig.capacity={self.capacity!r} is invalid: use 0 or a positive count.")
