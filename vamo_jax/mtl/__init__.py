"""Model-agnostic multi-task optimisation: per-task losses, alignments and weighting transforms."""

from vamo_jax.mtl import weighting
from vamo_jax.mtl.alignment import (
    linearized_task_losses,
    per_task_grads,
    task_alignment,
    weighted_task_grad,
)
from vamo_jax.mtl.losses import check_task_ids, task_losses
from vamo_jax.mtl.vamo import (
    VamoHyperparams,
    VamoState,
    combine,
    task_weights,
    vamo_gradient,
    vamo_transform,
)

__all__ = [
    "VamoHyperparams",
    "VamoState",
    "check_task_ids",
    "combine",
    "linearized_task_losses",
    "per_task_grads",
    "task_alignment",
    "task_losses",
    "task_weights",
    "vamo_gradient",
    "vamo_transform",
    "weighted_task_grad",
    "weighting",
]
