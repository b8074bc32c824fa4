"""Table 3: VAMO with no temporal module, an LSTM, or TimesNet (the paper's design).

Δm% of every arm is against STL with the base config's model (TimesNet), as in the paper.
"""

from __future__ import annotations

from vamo_jax.experiments.sweep import Variant, run_sweep


def variants(config) -> list[Variant]:
    return [
        Variant("w/o temporal module", ("train.methods=vamo", "model.temporal=none")),
        Variant("with LSTM", ("train.methods=vamo", "model.temporal=lstm")),
        Variant("with TimesNet", ("train.methods=vamo", "model.temporal=timesnet")),
    ]


def run(config, workdir, resume: bool = False) -> dict:
    return run_sweep(config, workdir, variants(config), resume=resume,
                     title="Ablation on temporal modelling (Table 3)")
