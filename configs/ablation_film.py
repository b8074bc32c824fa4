"""VAMO with FiLM conditioning on and off, 3 seeds.

Run: python -m vamo_jax.main --config ablation_film (results and readings: REPRODUCTION.md).
"""

import dataclasses

from configs import sim


def get_config():
    base = sim.get_config()
    return dataclasses.replace(base, name="ablation_film", experiment="ablation_film")
