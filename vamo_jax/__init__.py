"""vamo_jax: multi-task generative auto-bidding with Validation-Aligned Multi-task Optimization."""

from vamo_jax.mtl import (
    VamoHyperparams,
    VamoState,
    per_task_grads,
    task_alignment,
    task_losses,
    task_weights,
    vamo_gradient,
    vamo_transform,
)

__version__ = "0.1.0"

__all__ = [
    "VamoHyperparams",
    "VamoState",
    "per_task_grads",
    "task_alignment",
    "task_losses",
    "task_weights",
    "vamo_gradient",
    "vamo_transform",
]
