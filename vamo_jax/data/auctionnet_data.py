"""AuctionNet's raw periods as a `Dataset`: one trajectory per (period, advertiser), tasks declared on the data.

    config = load_config("auctionnet", ["data.path=/data/auctionnet"]).data   # an AuctionNetConfig
    ds = load_auctionnet(config)             # or make_dataset(config), which dispatches here

Trajectory of advertiser n in period p (T steps), from `auctionnet_raw.read_period`:
  states       the project's features (`raw_features.project_states`) or AuctionNet's 16
               (`config.features`); next_states the next step's, zeros at the last step.
  actions      Σ bid / Σ pValue of the step (AuctionNet's action: bid = a · pValue).
  rewards      (T, 3) the step's conversions on exposed impressions, in every channel:
               one conversion type, so every channel holds it.
  rewards_continuous   Σ pValue over exposed impressions, in every channel.
  returns_to_go, cost, remaining (budget left before the step), budget,
  constraint   CPAConstraint, a target cost per conversion; campaign the market's one type
               (CartCnt: a cost-per-result constraint, `score` as AuctionNet's).
  task         by `config.task_by`: advertiserCategoryIndex, or the CPA-tightness class.
  day          the period index; episode 0.
Done is only at the last step (`Split` has no done: the last step is T − 1); an advertiser whose
budget runs out keeps its T steps, with no spend after it (AuctionNet's isEnd is not an end).

Tasks and relabeling: the tasks share the one conversion type, so cross-task relabeling
(`relabel_for_every_task`) is the identity on the reward channel and on every field but the task
id; `share` still pools every task's trajectories.

Market series (1, num_days + 1, T, 3), indexed [0, period, step]: volume (impressions /
(impressions_per_day / T)), mean pValue over impressions and advertisers, mean first-slot price
over the impressions sold; zeros for periods not on disk.
"""

from __future__ import annotations

import numpy as np

from vamo_jax.data.auctionnet import returns_to_go
from vamo_jax.data.auctionnet_raw import PeriodLog, period_files, read_period
from vamo_jax.data.config import AuctionNetConfig
from vamo_jax.data.dataset import Dataset, Split, compute_norm_stats
from vamo_jax.data.raw_features import auctionnet_states, project_states
from vamo_jax.data.spec import NUM_VALUE_CHANNELS
from vamo_jax.data.tasks import single_type


def read_periods(config: AuctionNetConfig) -> dict[int, PeriodLog]:
    """{period: PeriodLog} of every period file in `config.path` up to `config.num_days`; raises
    naming the periods the config asks for that are not on disk."""
    files = {p: f for p, f in period_files(config.path).items() if p <= config.num_days}
    wanted = sorted({*config.train_days, config.val_day, config.test_day})
    missing = [p for p in wanted if p not in files]
    if missing:
        raise ValueError(f"{config.path}: no file for period(s) {missing} (found {sorted(files)}); set data.train_days, "
                         "data.val_day and data.test_day to periods on disk.")
    env = config.env
    logs = {}
    for p, path in sorted(files.items()):
        log = read_period(path, env.num_slots, env.reserve_price, env.ticks_per_day)
        if log.period != p:
            raise ValueError(f"{path}: column 'deliveryPeriodIndex' holds {log.period}, the file name says {p}.")
        if len(log.advertiser) != env.num_advertisers:
            raise ValueError(f"{path}: {len(log.advertiser)} advertisers; data.env.num_advertisers="
                             f"{env.num_advertisers} (set it to the logs' count).")
        logs[p] = log
    return logs


def period_trajectories(log: PeriodLog, config: AuctionNetConfig) -> dict[str, np.ndarray]:
    """The N trajectories of one period (module docstring), fields as `Split`'s but task, each (N, …)."""
    env = config.env
    n, ticks = log.bid.shape
    mean_per_tick = env.impressions_per_day / env.ticks_per_day
    states = project_states(log, mean_per_tick) if config.features == "project" else auctionnet_states(log)
    rewards = np.repeat(log.exposed_conversions[..., None], NUM_VALUE_CHANNELS, -1).astype(np.float32)
    campaign = np.full(n, single_type(env), np.int32)
    budget = log.budget.astype(np.float32)
    return dict(
        states=states, next_states=np.concatenate([states[:, 1:], np.zeros_like(states[:, :1])], 1),
        actions=np.where(log.pvalue > 0, log.bid / np.where(log.pvalue > 0, log.pvalue, 1.0), 0.0).astype(np.float32),
        rewards=rewards,
        rewards_continuous=np.repeat(log.exposed_value[..., None], NUM_VALUE_CHANNELS, -1).astype(np.float32),
        returns_to_go=returns_to_go(rewards, campaign, budget, env.unit_value),
        cost=log.cost.astype(np.float32), remaining=log.remaining, budget=budget, constraint=log.cpa,
        campaign=campaign, day=np.full(n, log.period, np.int32), episode=np.zeros(n, np.int32),
        advertiser=np.arange(n, dtype=np.int32), category=log.category,
    )


def market_series(logs: dict[int, PeriodLog], config: AuctionNetConfig) -> np.ndarray:
    """(1, num_days + 1, T, 3) the market series (module docstring)."""
    env = config.env
    market = np.zeros((1, config.num_days + 1, env.ticks_per_day, 3), np.float32)
    for p, log in logs.items():
        n = len(log.advertiser)
        denom = np.maximum(log.volume, 1.0)
        market[0, p] = np.stack([log.volume / (env.impressions_per_day / env.ticks_per_day),
                                 log.pvalue.sum(0) / (denom * n), log.first_price / np.maximum(log.sold, 1.0)], -1)
    return market


def assign_tasks(trajs: dict[int, dict], config: AuctionNetConfig) -> dict[int, np.ndarray]:
    """{period: (N,) learning task of each advertiser}, by `config.task_by`."""
    k = config.num_tasks
    if config.task_by == "category":
        categories = np.unique(np.concatenate([t["category"] for t in trajs.values()]))
        if len(categories) != k:
            raise ValueError(f"data.num_tasks={k}, but the periods hold {len(categories)} advertiser categories "
                             f"{categories.tolist()}; set data.num_tasks={len(categories)} (and model.num_tasks).")
        return {p: np.searchsorted(categories, t["category"]).astype(np.int32) for p, t in trajs.items()}
    train_cpa = np.concatenate([trajs[p]["constraint"] for p in config.train_days])
    edges = np.quantile(train_cpa.astype(np.float64), np.arange(1, k) / k)
    tasks = {p: np.searchsorted(edges, t["constraint"], side="right").astype(np.int32) for p, t in trajs.items()}
    empty = sorted(set(range(k)) - set(np.concatenate([tasks[p] for p in config.train_days]).tolist()))
    if empty:
        raise ValueError(f"data.num_tasks={k} CPA classes leave class(es) {empty} without a training trajectory "
                         f"(the training CPAConstraint values have {len(np.unique(train_cpa))} distinct values); "
                         "lower data.num_tasks.")
    return tasks


def load_auctionnet(config: AuctionNetConfig) -> Dataset:
    """The `Dataset` of the raw periods in `config.path`, split by period (module docstring)."""
    logs = read_periods(config)
    trajs = {p: period_trajectories(log, config) for p, log in logs.items()}
    tasks = assign_tasks(trajs, config)
    market = market_series(logs, config)
    splits = {}
    for name, periods in config.split_days().items():
        parts = [dict(trajs[p], task=tasks[p]) for p in periods]
        joined = {f: np.concatenate([part[f] for part in parts]) for f in parts[0]}
        order = np.lexsort((joined["advertiser"], joined["episode"], joined["day"], joined["task"]))
        splits[name] = Split(market=market, **{f: v[order] for f, v in joined.items()})
    return Dataset(config=config, stats=compute_norm_stats(splits["train"]), market=market, **splits)
