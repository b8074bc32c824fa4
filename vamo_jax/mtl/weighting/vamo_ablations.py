"""The paper's two VAMO ablations (§4.3) under their own names."""

from __future__ import annotations

import jax.numpy as jnp
import optax

from vamo_jax.mtl.vamo import vamo_transform

# λ → 0: `task_weights` maps ties at the max to shared mass and every other task to 0 for any
# λ this small (finite in float32), i.e. the hard-max weights of Corollary 1.
GREEDY_TEMPERATURE = float(jnp.finfo(jnp.float32).tiny)


def vamo_train(
    num_tasks: int, temperature: float = 1.0, update_every: int = 5, normalize: str | None = None
) -> optax.GradientTransformationExtraArgs:
    """VAMO "w/o held-out validation": alignment with the mean training gradient (1/K) Σ_k g_k.

    `vamo_transform(num_tasks, temperature, update_every, alignment="train", normalize)`; needs
    no `val_grad=`. Weights on the simplex: identical gradients g give g (scale convention).
    """
    return vamo_transform(num_tasks, temperature, update_every, alignment="train", normalize=normalize)


def greedy(
    num_tasks: int, update_every: int = 5, alignment: str = "validation", normalize: str | None = None
) -> optax.GradientTransformationExtraArgs:
    """VAMO with λ → 0: all weight on the task(s) of largest alignment (ties share it equally).

    `vamo_transform` with temperature = float32 tiny. Identical gradients tie, so the output is g
    (scale convention). Needs `val_grad=` unless alignment="train".
    """
    return vamo_transform(num_tasks, GREEDY_TEMPERATURE, update_every, alignment=alignment, normalize=normalize)
