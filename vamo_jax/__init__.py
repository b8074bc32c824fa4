"""vamo_jax: multi-task generative auto-bidding with Validation-Aligned Multi-task Optimization."""

from vamo_jax.mtl import (
    CrossTaskState,
    VamoHyperparams,
    VamoState,
    cross_task_gradient,
    init_cross_task_state,
    per_task_grads,
    task_alignment,
    task_losses,
    task_weights,
    vamo_gradient,
    vamo_transform,
)

__version__ = "0.1.0"

__all__ = [
    "CrossTaskState",
    "VamoHyperparams",
    "VamoState",
    "cross_task_gradient",
    "init_cross_task_state",
    "per_task_grads",
    "task_alignment",
    "task_losses",
    "task_weights",
    "vamo_gradient",
    "vamo_transform",
]
