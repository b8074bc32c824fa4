"""Theorem 1, empirically: the running mean of ‖g_val‖² falls to a floor that grows with λ.

Quadratic tasks (`vamo_jax.examples.theorem1`), VAMO refreshing every step, one jitted run
vmapped over temperatures. Prints each λ's floor (the final running mean) and writes
`theorem1_floor.png` (running mean against steps, log scale).

Run: python -m benchmarks.theorem1_floor [--steps 3000] [--out DIR]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from vamo_jax.examples.theorem1 import quadratic_problem, running_val_grad_sq

TEMPERATURES = (0.01, 0.1, 0.5, 1.0, 5.0, 1e6)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--out", type=Path, default=Path("."))
    args = parser.parse_args()
    centres, v = quadratic_problem()
    curves = np.asarray(jax.jit(running_val_grad_sq, static_argnums=3)(jnp.asarray(TEMPERATURES), centres, v, args.steps))
    equal_floor = float(np.sum((np.asarray(centres).mean(0) - np.asarray(v)) ** 2))
    print(f"{'λ':>8} {'floor (1/I)Σ‖g_val‖²':>22}   (λ→∞ closed form: {equal_floor:.4f})")
    for lam, curve in zip(TEMPERATURES, curves):
        print(f"{lam:>8g} {curve[-1]:>22.5f}")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    for lam, curve in zip(TEMPERATURES, curves):
        ax.plot(np.arange(1, args.steps + 1), curve, label=f"λ = {'∞' if lam >= 1e6 else lam}")
    ax.axhline(equal_floor, color="k", ls=":", lw=1, label="‖mean c − v‖² (λ→∞)")
    ax.set(xscale="log", yscale="log", xlabel="iteration I", ylabel="(1/I) Σ ‖g_val‖²", title="Theorem 1: floor grows with λ")
    ax.legend(fontsize=7)
    fig.tight_layout()
    path = args.out / "theorem1_floor.png"
    fig.savefig(path, dpi=100)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
