"""Model-agnostic multi-task optimisation: per-task losses, alignments and weighting transforms."""

from vamo_jax.mtl import weighting
from vamo_jax.mtl.alignment import (
    linearized_task_losses,
    per_task_grads,
    task_alignment,
    weighted_task_grad,
)
from vamo_jax.mtl.cross_task import CrossTaskState, cross_task_gradient, init_cross_task_state
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
    "CrossTaskState",
    "VamoHyperparams",
    "VamoState",
    "check_task_ids",
    "combine",
    "cross_task_gradient",
    "init_cross_task_state",
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
