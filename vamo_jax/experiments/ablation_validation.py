"""Fig. 3: VAMO against "w/o held-out validation" (alignment with the mean training gradient)."""

from __future__ import annotations

from vamo_jax.experiments.sweep import Variant, run_sweep


def variants(config) -> list[Variant]:
    return [
        Variant("VAMO", ("train.methods=vamo",)),
        Variant("w/o held-out validation", ("train.methods=vamo_train",)),
        Variant("equal", ("train.methods=equal",)),
    ]


def run(config, workdir, resume: bool = False) -> dict:
    return run_sweep(config, workdir, variants(config), resume=resume,
                     title="Ablation on the validation signal (Fig. 3)")
