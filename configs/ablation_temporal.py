"""Table 3: VAMO without a temporal module, with an LSTM and with TimesNet, 3 seeds.

Run: python -m vamo_jax.main --config ablation_temporal (results and readings: REPRODUCTION.md).
"""

import dataclasses

from configs import sim


def get_config():
    base = sim.get_config()
    return dataclasses.replace(base, name="ablation_temporal", experiment="ablation_temporal")
