"""The main job on AuctionNet's published data: its raw periods in, its features, tasks declared on it.

    python -m vamo_jax.main --config auctionnet --set data.path=/data/auctionnet

`data.path` holds AuctionNet's raw period files `period-7.csv` … `period-27.csv` (or `.parquet`),
as unzipped from the links in its `pre_generated_dataset/readme_dataset.md`. Periods are days,
in time order: 7–25 train, 26 validation, 27 test. Tasks are the 8 advertiser categories
(`--set data.task_by=cpa_class` for CPA-tightness classes instead; `data.num_tasks` and
`model.num_tasks` give K). The market: 48 advertisers, 48 steps, ~500k impressions a period,
3 slots exposed with probability 1 / 0.8 / 0.6, reserve 0.01 (AuctionNet's environment), one
conversion type (a cost-per-result constraint, CPAConstraint), actions AuctionNet's α with
bid = α · pValue (up to `max_multiplier`).

The policy is the main job's, with a market history of one period (48 steps) and TimesNet
periods that divide it. Evaluation is AuctionNet's offline protocol on the test period's logged
traffic (`vamo_jax.offline_eval.make_logged_evaluator`); see the README, "The AuctionNet data set".
"""

import dataclasses

from configs import sim
from vamo_jax.config import Config
from vamo_jax.data.config import AuctionNetConfig
from vamo_jax.sim.params import EnvParams

PERIODS = tuple(range(7, 28))


def get_config() -> Config:
    base = sim.get_config()
    env = EnvParams(num_advertisers=48, num_categories=8, campaign_mix=(0.0, 0.0, 1.0), ticks_per_day=48,
                    impressions_per_day=500_000, num_slots=3, slot_exposure=(1.0, 0.8, 0.6), reserve_price=0.01,
                    max_multiplier=1000.0, history_len=48, unit_value=(1.0, 1.0, 1.0))
    data = AuctionNetConfig(path="", num_days=PERIODS[-1], train_days=PERIODS[:-2], val_day=PERIODS[-2],
                            test_day=PERIODS[-1], num_tasks=8, train_per_task=None, env=env, task_by="category")
    return dataclasses.replace(
        base, name="auctionnet", data=data,
        model=dataclasses.replace(base.model, num_tasks=8, history_len=48, max_timestep=48, periods=(48, 24, 12)),
    )
