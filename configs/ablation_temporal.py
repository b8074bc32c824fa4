"""Table 3: VAMO without a temporal module, with an LSTM, with TimesNet, 3 seeds.

Run: python -m vamo_jax.main --config ablation_temporal (results and readings: REPRODUCTION.md).
"""

from configs import sim
from vamo_jax.config import Variant


def get_config():
    return sim.with_arms(
        "ablation_temporal", "Ablation on temporal modelling (Table 3)",
        Variant("w/o temporal module", ("train.methods=vamo", "model.temporal=none")),
        Variant("with LSTM", ("train.methods=vamo", "model.temporal=lstm")),
        Variant("with TimesNet", ("train.methods=vamo", "model.temporal=timesnet")),
    )
