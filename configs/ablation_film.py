"""VAMO with FiLM conditioning on and off, 3 seeds.

Run: python -m vamo_jax.main --config ablation_film (see REPRODUCTION.md for the reduced runs' commands).
"""

import dataclasses

from configs import sim


def get_config():
    base = sim.get_config()
    return dataclasses.replace(base, name="ablation_film", experiment="ablation_film")
