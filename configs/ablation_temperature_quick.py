"""The λ ablation reduced to fit a 2-core CPU in ~30 min: λ ∈ {0.1, 1, 10, ∞}, raw and cosine
alignment, 2 seeds × 200 steps (the full sweep is configs/ablation_temperature.py).

Run: python -m vamo_jax.main --config ablation_temperature_quick
"""

import dataclasses

from configs import ablation_temperature

TEMPERATURES = (0.1, 1.0, 10.0)


def get_config():
    base = ablation_temperature.get_config()
    return dataclasses.replace(
        base, name="ablation_temperature_quick", train=dataclasses.replace(base.train, steps=200, num_seeds=2),
        sweep=dataclasses.replace(base.sweep, variants=ablation_temperature.temperature_arms(TEMPERATURES)))
