"""What cuts the seed-to-seed spread, measured on the validation day (day 9), never the test day:
parameter averaging (EMA of the weights), a cosine learning-rate decay, both, and twice the
steps, each arm training STL and equal on 6 seeds and scoring them on day 9.

Read: each arm's day-9 scores and held-out loss (the table, every row against the first), and,
from results.json's per-seed scores, each arm's seed spread and its paired equal − STL Δm% spread
(the comparison the main job must resolve; the README gives both). The main job's defaults are
chosen from these.

Run: python -m vamo_jax.main --config variance_cuts
"""

import dataclasses

from configs import sim
from vamo_jax.config import Variant

ARMS = (
    Variant("constant"),
    Variant("ema", ("train.ema_decay=0.99",)),
    Variant("cosine", ("train.lr_schedule=cosine",)),
    Variant("cosine+ema", ("train.lr_schedule=cosine", "train.ema_decay=0.99")),
    Variant("1000 steps", ("train.steps=1000",)),
)


def get_config():
    base = sim.with_arms("variance_cuts", "Day 9 (validation): score per task under each variance cut", *ARMS)
    return dataclasses.replace(
        base,
        train=dataclasses.replace(base.train, methods=("stl", "equal"), num_seeds=6),
        eval=dataclasses.replace(base.eval, day="validation"),
        sweep=dataclasses.replace(base.sweep, shared_baseline=False),
    )
