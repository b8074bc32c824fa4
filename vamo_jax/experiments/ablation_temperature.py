"""Fig. 4: VAMO's temperature λ, for the paper's raw alignment and for the cosine alignment.

λ = ∞ is equal weighting exactly (softmax(m / ∞) is uniform), so it is trained once, as
`equal`, and serves both alignments. Raw alignment m_k = ⟨g_val, g_k⟩ scales with ‖g‖², so a
given λ means less as training shrinks the gradients; the cosine form makes λ scale-free.
"""

from __future__ import annotations

from vamo_jax.experiments.sweep import Variant, run_sweep

TEMPERATURES = (0.01, 0.1, 0.5, 1.0, 10.0)
QUICK_TEMPERATURES = (0.1, 1.0, 10.0)  # the reduced run, configs/ablation_temperature_quick.py
ALIGNMENTS = {"raw": "none", "cosine": "cosine"}


def variants(config) -> list[Variant]:
    temperatures = QUICK_TEMPERATURES if config.name.endswith("_quick") else TEMPERATURES
    arms = [
        Variant(f"λ={lam:g} {name}", ("train.methods=vamo", f"train.temperature={lam!r}", f"train.normalize={norm}"))
        for name, norm in ALIGNMENTS.items()
        for lam in temperatures
    ]
    return arms + [Variant("λ=∞ (equal)", ("train.methods=equal",))]


def run(config, workdir, resume: bool = False) -> dict:
    return run_sweep(config, workdir, variants(config), resume=resume, title="Ablation on λ (Fig. 4)")
