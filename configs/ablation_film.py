"""FiLM conditioning on the requirement on and off (the summary's architecture), VAMO, 3 seeds.

Run: python -m vamo_jax.main --config ablation_film (results and readings: REPRODUCTION.md).
"""

import dataclasses

from configs import sim
from vamo_jax.config import SweepConfig, Variant


def get_config():
    return dataclasses.replace(sim.get_config(), name="ablation_film", sweep=SweepConfig(
        variants=(
            Variant("FiLM on", ("train.methods=vamo", "model.film=true")),
            Variant("FiLM off", ("train.methods=vamo", "model.film=false")),
        ),
        title="Ablation on FiLM conditioning"))
