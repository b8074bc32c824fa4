"""FiLM conditioning on the requirement y (the summary's ablation), trained with VAMO."""

from __future__ import annotations

from vamo_jax.experiments.sweep import Variant, run_sweep


def variants(config) -> list[Variant]:
    return [
        Variant("FiLM on", ("train.methods=vamo", "model.film=true")),
        Variant("FiLM off", ("train.methods=vamo", "model.film=false")),
    ]


def run(config, workdir, resume: bool = False) -> dict:
    return run_sweep(config, workdir, variants(config), resume=resume, title="Ablation on FiLM conditioning")
