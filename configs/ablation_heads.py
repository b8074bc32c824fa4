"""The generator head: the action head (DT/GAS) against next-state + inverse dynamics (AIGB), VAMO, 3 seeds.

Run: python -m vamo_jax.main --config ablation_heads (results and readings: REPRODUCTION.md).
"""

from configs import sim
from vamo_jax.config import Variant


def get_config():
    return sim.with_arms(
        "ablation_heads", "Ablation on the generator head",
        Variant("action head", ("train.methods=vamo", "model.mode=action")),
        Variant("next-state + inverse dynamics", ("train.methods=vamo", "model.mode=next_state")),
    )
