"""The main job's code path at the smallest size: a 12-advertiser market and a tiny policy.

Used by the end-to-end tests. TimesNet keeps one period and one kernel size: the same code path
as `sim`, with a small fraction of its compile time (compilation dominates at this size).
"""

import dataclasses

from configs import sim
from vamo_jax.data.config import DataConfig
from vamo_jax.sim.params import EnvParams


def get_config():
    base = sim.get_config()
    env = EnvParams(num_advertisers=12, num_categories=3, impressions_per_day=1_200, history_len=48)
    return dataclasses.replace(
        base,
        name="tiny",
        data=DataConfig(seed=0, train_per_task=(6, 6, 4), env=env, cache_dir=None),
        model=dataclasses.replace(base.model, history_len=48, embed_dim=8, depth=1, num_heads=1,
                                  context_len=4, periods=(24,), kernel_sizes=(1,), timesnet_width=2,
                                  head_hidden=8),
        # The cross-task methods' bidding path is tested on this data in tests/test_bidding.py.
        # The parameter average of the main job at a horizon (about 2 steps) that 8 steps fill.
        train=dataclasses.replace(base.train, methods=("stl", "equal", "vamo"), num_seeds=2, steps=8,
                                  batch_size=8, log_every=4, checkpoint_every=4, progress=False, ema_decay=0.5),
        eval=dataclasses.replace(base.eval, draws=2, hindsight_grid=3),
    )
