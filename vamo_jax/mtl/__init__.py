"""Model-agnostic multi-task optimisation: per-task losses, alignments and weighting transforms.

The one entry point for a training step is `gradient_method(name, num_tasks, **options)`: task
losses -> one combined gradient on the cheapest exact path of the method (`gradient.py`).
"""

from vamo_jax.mtl import weighting
from vamo_jax.mtl.alignment import (
    linearized_task_losses,
    per_task_grads,
    task_alignment,
    weighted_task_grad,
)
from vamo_jax.mtl.gradient import GradientMethod, gradient_method, vamo_fast_path
from vamo_jax.mtl.cross_task import CrossTaskState, cross_task_gradient, init_cross_task_state
from vamo_jax.mtl.losses import check_task_ids, task_losses
from vamo_jax.mtl.vamo import (
    VamoHyperparams,
    VamoState,
    combine,
    init_state as init_vamo_state,
    task_weights,
    vamo_gradient,
    vamo_transform,
)

__all__ = [
    "CrossTaskState",
    "GradientMethod",
    "VamoHyperparams",
    "VamoState",
    "check_task_ids",
    "combine",
    "cross_task_gradient",
    "gradient_method",
    "init_cross_task_state",
    "init_vamo_state",
    "linearized_task_losses",
    "per_task_grads",
    "task_alignment",
    "task_losses",
    "task_weights",
    "vamo_fast_path",
    "vamo_gradient",
    "vamo_transform",
    "weighted_task_grad",
    "weighting",
]
