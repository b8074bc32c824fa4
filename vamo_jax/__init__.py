"""vamo_jax: multi-task generative auto-bidding with Validation-Aligned Multi-task Optimization."""

from vamo_jax.mtl import (
    CrossTaskState,
    GradientMethod,
    VamoHyperparams,
    VamoState,
    cross_task_gradient,
    gradient_method,
    init_cross_task_state,
    init_vamo_state,
    per_task_grads,
    task_alignment,
    task_losses,
    task_weights,
    vamo_fast_path,
    vamo_gradient,
    vamo_transform,
)

__version__ = "0.1.0"

__all__ = [
    "CrossTaskState",
    "GradientMethod",
    "VamoHyperparams",
    "VamoState",
    "cross_task_gradient",
    "gradient_method",
    "init_cross_task_state",
    "init_vamo_state",
    "per_task_grads",
    "task_alignment",
    "task_losses",
    "task_weights",
    "vamo_fast_path",
    "vamo_gradient",
    "vamo_transform",
]
