"""The generator head: the action head (DT/GAS) against next-state + inverse dynamics (AIGB), VAMO, 3 seeds.

Run: python -m vamo_jax.main --config ablation_heads (results and readings: REPRODUCTION.md).
"""

import dataclasses

from configs import sim
from vamo_jax.config import SweepConfig, Variant


def get_config():
    return dataclasses.replace(sim.get_config(), name="ablation_heads", sweep=SweepConfig(
        variants=(
            Variant("action head", ("train.methods=vamo", "model.mode=action")),
            Variant("next-state + inverse dynamics", ("train.methods=vamo", "model.mode=next_state")),
        ),
        title="Ablation on the generator head"))
