"""The open question `adaptive_temperature` on the main job's data, 3 seeds
(the arms are in vamo_jax/experiments/adaptive_temperature.py).

Run: python -m vamo_jax.main --config adaptive_temperature (results and readings: REPRODUCTION.md).
"""

import dataclasses

from configs import sim


def get_config():
    base = sim.get_config()
    return dataclasses.replace(base, name="adaptive_temperature", experiment="adaptive_temperature")
