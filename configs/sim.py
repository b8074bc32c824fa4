"""The main job: STL, equal weighting, VAMO, naive data sharing and cross-task VAO on the simulated
three-task data, 6 seeds, each policy scored on 2 draws of the test day's traffic.

Sized to run end to end on a 2-core CPU in minutes: 48 advertisers and 24k impressions a day
(AuctionNet has ~500k), the paper's scarce 20/20/10 training trajectories per task, a small
policy (width 32, 2 blocks, context 10 ticks, TimesNet of width 4 over the last 96 market ticks),
batch 32, 500 steps.

Settings chosen on the validation day (day 9), never the test day: the parameter average
(`ema_decay=0.99`: configs/variance_cuts.py, the best day-9 scores and held-out loss of the cuts
measured) and the return-to-go target quantile 0.9 (configs/eval_settings.py: within noise of
the best of 0.5–0.99 on every task).
"""

import dataclasses

from vamo_jax.config import Config, SweepConfig, Variant
from vamo_jax.data.config import DataConfig
from vamo_jax.eval_config import EvalConfig
from vamo_jax.models.config import ModelConfig
from vamo_jax.sim.params import EnvParams
from vamo_jax.train_config import TrainConfig


def get_config() -> Config:
    env = EnvParams()
    return Config(
        name="sim",
        # markets=M: replications over M markets (train.num_seeds seeds each) instead of one market's seeds.
        data=DataConfig(seed=0, train_per_task=(20, 20, 10), env=env, cache_dir="runs/cache", markets=None),
        model=ModelConfig(
            history_len=env.history_len, embed_dim=32, depth=2, num_heads=2, context_len=10,
            temporal="timesnet", periods=(96, 48, 24), timesnet_width=4, kernel_sizes=(1, 3),
            film=True, heads="per_task", mode="action",
        ),
        train=TrainConfig(
            methods=("stl", "equal", "vamo", "share", "vao"), num_seeds=6, seed=0, steps=500, batch_size=32,
            learning_rate=1e-3, temperature=1.0, update_every=5, log_every=50, checkpoint_every=250,
            ema_decay=0.99,
        ),
        eval=EvalConfig(target_quantile=0.9, draws=2, hindsight_grid=16),
    )


def with_arms(name: str, title: str, *variants: Variant) -> Config:
    """The main job's config under another name, running `variants` against a shared STL baseline."""
    return dataclasses.replace(get_config(), name=name, sweep=SweepConfig(variants=variants, title=title))
