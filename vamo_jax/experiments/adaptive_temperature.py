"""Open question: a λ that moves during training, against fixed λ.

Raw alignments m ∝ ‖g‖² shrink as training converges, so at a fixed λ the weights drift to
uniform (the main job's VAMO ends near equal weighting). Two remedies, both on the raw
alignment and the fast path (`mtl.temperature`):
  * a schedule: λ decays geometrically from 1 to 0.01 over training;
  * an entropy target: λ is re-solved at every refresh so that H(w) = ρ log K (ρ = 0.5, 0.8),
    which makes λ independent of the gradients' scale.
against the paper's fixed λ = 1, a sharp fixed λ = 0.1, and equal weighting (λ = ∞).
"""

from __future__ import annotations

from vamo_jax.experiments.sweep import Variant, run_sweep


def variants(config) -> list[Variant]:
    vamo = "train.methods=vamo"
    return [
        Variant("fixed λ=1 (paper)", (vamo, "train.temperature=1.0")),
        Variant("fixed λ=0.1", (vamo, "train.temperature=0.1")),
        Variant("λ 1→0.01 (exp. decay)", (vamo, "train.temperature=1.0", "train.temperature_end=0.01")),
        Variant("entropy 0.8 log K", (vamo, "train.target_entropy=0.8")),
        Variant("entropy 0.5 log K", (vamo, "train.target_entropy=0.5")),
        Variant("equal (λ=∞)", ("train.methods=equal",)),
    ]


def run(config, workdir, resume: bool = False) -> dict:
    return run_sweep(config, workdir, variants(config), resume=resume,
                     title="Adaptive temperature: schedule and entropy target against fixed λ")
