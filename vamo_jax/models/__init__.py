"""The multi-task generative bidding policy (paper §3.2): TimesNet, Transformer, FiLM, task heads.

`ModelConfig` is imported eagerly; the Flax modules load on first use, so that reading a config
(`vamo_jax.config`) loads no model.
"""

import importlib

from vamo_jax.models.config import MODES, TASK_HEADS, TEMPORAL_MODULES, ModelConfig

_LAZY = {
    "per_example_loss": "losses", "predict_action": "losses",
    "Policy": "policy", "PolicyOutput": "policy", "make_policy": "policy",
    "dominant_periods": "spectrum", "period_weights": "spectrum",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f"vamo_jax.models.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'vamo_jax.models' has no attribute {name!r}")


__all__ = ["MODES", "TASK_HEADS", "TEMPORAL_MODULES", "ModelConfig", *_LAZY]
