"""Action head (Decision Transformer / GAS) against a next-state generator with inverse dynamics
(AIGB), both trained with VAMO; Δm% against STL with the base config's head."""

from __future__ import annotations

from vamo_jax.experiments.sweep import Variant, run_sweep


def variants(config) -> list[Variant]:
    return [
        Variant("action head", ("train.methods=vamo", "model.mode=action")),
        Variant("next-state + inverse dynamics", ("train.methods=vamo", "model.mode=next_state")),
    ]


def run(config, workdir, resume: bool = False) -> dict:
    return run_sweep(config, workdir, variants(config), resume=resume, title="Ablation on the generator head")
