"""Fig. 3: VAMO against alignment with the training gradient (and equal weighting), 3 seeds.

Run: python -m vamo_jax.main --config ablation_validation (results and readings: REPRODUCTION.md).
"""

import dataclasses

from configs import sim


def get_config():
    base = sim.get_config()
    return dataclasses.replace(base, name="ablation_validation", experiment="ablation_validation")
