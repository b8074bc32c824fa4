"""Named data configurations (to be routed through `vamo_jax.config.load_config` later)."""

from __future__ import annotations

from vamo_jax.data.config import DataConfig
from vamo_jax.sim.params import EnvParams

PRESETS: dict[str, DataConfig] = {
    # The main CPU job: 48 advertisers, 24k impressions a day, the paper's scarce 20/20/10.
    "sim": DataConfig(seed=0, env=EnvParams(), cache_dir="runs/cache"),
    # Seconds on a laptop: 12 advertisers, 2.4k impressions a day, 48-tick history.
    "tiny": DataConfig(
        seed=0, train_per_task=(8, 8, 4),
        env=EnvParams(num_advertisers=12, num_categories=3, impressions_per_day=2_400, history_len=48),
    ),
}


def get_preset(name: str) -> DataConfig:
    if name not in PRESETS:
        raise ValueError(f"unknown data preset {name!r}; choose one of {sorted(PRESETS)}.")
    return PRESETS[name]
