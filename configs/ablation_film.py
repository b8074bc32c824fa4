"""FiLM conditioning on the requirement on and off (the summary's architecture), VAMO, 3 seeds.

Run: python -m vamo_jax.main --config ablation_film (results and readings: REPRODUCTION.md).
"""

from configs import sim
from vamo_jax.config import Variant


def get_config():
    return sim.with_arms(
        "ablation_film", "Ablation on FiLM conditioning",
        Variant("FiLM on", ("train.methods=vamo", "model.film=true")),
        Variant("FiLM off", ("train.methods=vamo", "model.film=false")),
    )
