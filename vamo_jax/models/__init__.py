"""The multi-task generative bidding policy (paper §3.2): TimesNet, Transformer, FiLM, task heads."""

from vamo_jax.models.config import MODES, TASK_HEADS, TEMPORAL_MODULES, ModelConfig
from vamo_jax.models.losses import per_example_loss, predict_action
from vamo_jax.models.policy import Policy, PolicyOutput, make_policy
from vamo_jax.models.spectrum import dominant_periods, period_weights

__all__ = [
    "MODES",
    "TASK_HEADS",
    "TEMPORAL_MODULES",
    "ModelConfig",
    "Policy",
    "PolicyOutput",
    "dominant_periods",
    "make_policy",
    "per_example_loss",
    "period_weights",
    "predict_action",
]
