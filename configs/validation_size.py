"""The open question `validation_size` on the main job's data, 3 seeds
(the arms are in vamo_jax/experiments/validation_size.py).

Run: python -m vamo_jax.main --config validation_size (results and readings: REPRODUCTION.md).
"""

import dataclasses

from configs import sim


def get_config():
    base = sim.get_config()
    return dataclasses.replace(base, name="validation_size", experiment="validation_size")
