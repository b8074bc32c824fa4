"""Offline logs from the simulator: generation, temporal split, batching, relabeling, I/O.

    config = DataConfig(seed=0)                       # or load_config("sim").data
    ds = make_dataset(config)                         # cached under config.cache_dir
    ds.train / ds.val / ds.test                       # Split: (M, T, …) arrays + task/day/advertiser
    batch = sample_batch(key, ds.train, B, C, ds.stats, config.env)   # jittable TrajectoryBatch
    relabel(ds.train, target_task, config.env.unit_value)        # cross-task re-scoring
    export_auctionnet(ds, "logs/"); import_auctionnet("logs/", config)

AuctionNet's raw periods (`auctionnet_raw`, `auctionnet_data`, polars): `make_dataset(AuctionNetConfig(path=…))`,
written by the simulator with `raw_export.write_raw(ds, "raw/")`; evaluation on their logged
traffic is `vamo_jax.offline_eval`.

Evaluation on the test day replays the logged day with some advertisers under a policy:
    totals, traj, _ = vamo_jax.sim.simulate_day(policy_fn=..., policy_state=...,
                                                controlled_mask=..., **ds.eval_inputs(day=10))
"""

from vamo_jax.data.auctionnet import MARKET_COLUMNS, ROW_COLUMNS, export_auctionnet, import_auctionnet
from vamo_jax.data.batching import sample_batch, sample_cross_batch, sample_task_batch, windows
from vamo_jax.data.config import DataConfig
from vamo_jax.data.dataset import (
    Dataset,
    NormStats,
    Split,
    compute_norm_stats,
    normalise_requirement,
    normalise_states,
    trajectory_requirement,
)
from vamo_jax.data.generate import check_no_leak, make_dataset
from vamo_jax.data.relabel import relabel, relabel_for_every_task

__all__ = [
    "DataConfig", "Dataset", "MARKET_COLUMNS", "NormStats", "ROW_COLUMNS", "Split",
    "check_no_leak", "compute_norm_stats", "export_auctionnet", "import_auctionnet",
    "make_dataset", "normalise_requirement", "normalise_states", "relabel", "relabel_for_every_task",
    "sample_batch", "sample_cross_batch", "sample_task_batch", "trajectory_requirement", "windows",
]
