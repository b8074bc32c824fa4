"""Table 3: VAMO without a temporal module, with an LSTM, with TimesNet, 3 seeds.

Run: python -m vamo_jax.main --config ablation_temporal (results and readings: REPRODUCTION.md).
"""

import dataclasses

from configs import sim
from vamo_jax.config import SweepConfig, Variant


def get_config():
    return dataclasses.replace(sim.get_config(), name="ablation_temporal", sweep=SweepConfig(
        variants=(
            Variant("w/o temporal module", ("train.methods=vamo", "model.temporal=none")),
            Variant("with LSTM", ("train.methods=vamo", "model.temporal=lstm")),
            Variant("with TimesNet", ("train.methods=vamo", "model.temporal=timesnet")),
        ),
        title="Ablation on temporal modelling (Table 3)"))
