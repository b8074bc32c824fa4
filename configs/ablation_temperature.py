"""Fig. 4: VAMO's λ in {0.01, 0.1, 0.5, 1, 10, ∞} for raw and cosine alignment, 3 seeds.

λ = ∞ is equal weighting exactly (softmax(m / ∞) is uniform), so it is trained once, as
`equal`, and serves both alignments. Raw alignment m_k = ⟨g_val, g_k⟩ scales with ‖g‖², so a
given λ means less as training shrinks the gradients; the cosine form makes λ scale-free.
Run: python -m vamo_jax.main --config ablation_temperature (results and readings: REPRODUCTION.md).
"""

from configs import sim
from vamo_jax.config import Variant

TEMPERATURES = (0.01, 0.1, 0.5, 1.0, 10.0)
ALIGNMENTS = {"raw": "none", "cosine": "cosine"}


def temperature_arms(temperatures) -> tuple[Variant, ...]:
    arms = tuple(
        Variant(f"λ={lam:g} {name}", ("train.methods=vamo", f"train.temperature={lam!r}", f"train.normalize={norm}"))
        for name, norm in ALIGNMENTS.items()
        for lam in temperatures
    )
    return arms + (Variant("λ=∞ (equal)", ("train.methods=equal",)),)


def get_config():
    return sim.with_arms("ablation_temperature", "Ablation on λ (Fig. 4)", *temperature_arms(TEMPERATURES))
