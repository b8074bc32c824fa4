"""VAMO with the action head against a next-state generator + inverse dynamics, 3 seeds.

Run: python -m vamo_jax.main --config ablation_heads (results and readings: REPRODUCTION.md).
"""

import dataclasses

from configs import sim


def get_config():
    base = sim.get_config()
    return dataclasses.replace(base, name="ablation_heads", experiment="ablation_heads")
