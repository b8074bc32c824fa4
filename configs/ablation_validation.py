"""Fig. 3: VAMO against VAMO without held-out validation (target = mean training gradient) and equal, 3 seeds.

Run: python -m vamo_jax.main --config ablation_validation (results and readings: REPRODUCTION.md).
"""

from configs import sim
from vamo_jax.config import Variant


def get_config():
    return sim.with_arms(
        "ablation_validation", "Ablation on the validation signal (Fig. 3)",
        Variant("VAMO", ("train.methods=vamo",)),
        Variant("w/o held-out validation", ("train.methods=vamo_train",)),
        Variant("equal", ("train.methods=equal",)),
    )
