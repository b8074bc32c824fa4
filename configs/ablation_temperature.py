"""Fig. 4: VAMO's λ in {0.01, 0.1, 0.5, 1, 10, ∞} for raw and cosine alignment, 3 seeds.

Run: python -m vamo_jax.main --config ablation_temperature (results and readings: REPRODUCTION.md).
"""

import dataclasses

from configs import sim


def get_config():
    base = sim.get_config()
    return dataclasses.replace(base, name="ablation_temperature", experiment="ablation_temperature")
