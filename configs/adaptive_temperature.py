"""Adaptive temperature (an open question of the paper): a decaying λ and an entropy-targeted λ
against the paper's fixed λ = 1, a fixed λ = 0.1 and equal weighting (λ = ∞), 3 seeds.

Run: python -m vamo_jax.main --config adaptive_temperature (results and readings: REPRODUCTION.md).
"""

from configs import sim
from vamo_jax.config import Variant

VAMO = "train.methods=vamo"


def get_config():
    return sim.with_arms(
        "adaptive_temperature", "Adaptive temperature: schedule and entropy target against fixed λ",
        Variant("fixed λ=1 (paper)", (VAMO, "train.temperature=1.0")),
        Variant("fixed λ=0.1", (VAMO, "train.temperature=0.1")),
        Variant("λ 1→0.01 (exp. decay)", (VAMO, "train.temperature=1.0", "train.temperature_end=0.01")),
        Variant("entropy 0.8 log K", (VAMO, "train.target_entropy=0.8")),
        Variant("entropy 0.5 log K", (VAMO, "train.target_entropy=0.5")),
        Variant("equal (λ=∞)", ("train.methods=equal",)),
    )
