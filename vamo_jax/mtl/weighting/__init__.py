"""The multi-task weighting zoo: every method an Optax transform over stacked per-task gradients.

    tx = optax.chain(weighting.get("cagrad", num_tasks=3, c=0.4), optax.adamw(1e-3))
    updates, state = tx.update(per_task_grads, state, params, task_losses=losses, val_grad=g_val)

Every transform takes `updates` with a leading task axis K on every leaf and returns one
gradient like params; extra args it does not need are ignored, so one training step serves all
methods (`task_losses=` (K,) for dwa, famo, uw, gradnorm; `val_grad=` for vamo, greedy). Scale
convention: when every task gradient equals g, every method returns g. Each state has
`weights` (K,), the weights of its last combination, for logging.
"""

from __future__ import annotations

import inspect
from typing import Callable

import optax

from vamo_jax.mtl.vamo import vamo_transform
from vamo_jax.mtl.weighting._common import WeightsState, gram
from vamo_jax.mtl.weighting.aligned_mtl import aligned_mtl
from vamo_jax.mtl.weighting.cagrad import cagrad
from vamo_jax.mtl.weighting.dwa import DWAState, dwa
from vamo_jax.mtl.weighting.equal import equal
from vamo_jax.mtl.weighting.fairgrad import fairgrad
from vamo_jax.mtl.weighting.famo import FAMOState, famo
from vamo_jax.mtl.weighting.gradnorm import GradNormState, gradnorm
from vamo_jax.mtl.weighting.imtl_g import imtl_g
from vamo_jax.mtl.weighting.mgda import mgda
from vamo_jax.mtl.weighting.nashmtl import nashmtl
from vamo_jax.mtl.weighting.pcgrad import PCGradState, pcgrad
from vamo_jax.mtl.weighting.rlw import RLWState, rlw
from vamo_jax.mtl.weighting.uw import UWState, uw
from vamo_jax.mtl.weighting.vamo_ablations import greedy, vamo_train

_REGISTRY: dict[str, Callable[..., optax.GradientTransformationExtraArgs]] = {
    "equal": equal,
    "dwa": dwa,
    "famo": famo,
    "pcgrad": pcgrad,
    "fairgrad": fairgrad,
    "mgda": mgda,
    "cagrad": cagrad,
    "nashmtl": nashmtl,
    "uw": uw,
    "rlw": rlw,
    "imtl_g": imtl_g,
    "aligned_mtl": aligned_mtl,
    "gradnorm": gradnorm,
    "vamo": vamo_transform,
    "vamo_train": vamo_train,
    "greedy": greedy,
}

def available() -> tuple[str, ...]:
    """The method names `get` accepts."""
    return tuple(_REGISTRY)


def options(name: str) -> dict[str, object]:
    """The options of method `name` with their defaults (every option has one)."""
    factory = _lookup(name)
    params = list(inspect.signature(factory).parameters.values())[1:]
    return {p.name: p.default for p in params}


def get(name: str, num_tasks: int, **options_) -> optax.GradientTransformationExtraArgs:
    """The transform of method `name` for K = `num_tasks` tasks, built with `options_`.

    Raises:
      ValueError: unknown name, unknown option, or an option out of its range.
    """
    valid = options(name)
    unknown = sorted(set(options_) - set(valid))
    if unknown:
        raise ValueError(
            f"unknown option(s) {unknown} for method {name!r}; valid options: {sorted(valid) or 'none'}."
        )
    return _REGISTRY[name](num_tasks, **options_)


def _lookup(name: str):
    if name not in _REGISTRY:
        raise ValueError(f"unknown weighting method {name!r}; available: {', '.join(available())}.")
    return _REGISTRY[name]


__all__ = [
    "DWAState",
    "FAMOState",
    "GradNormState",
    "PCGradState",
    "RLWState",
    "UWState",
    "WeightsState",
    "aligned_mtl",
    "available",
    "cagrad",
    "dwa",
    "equal",
    "fairgrad",
    "famo",
    "get",
    "gradnorm",
    "gram",
    "greedy",
    "imtl_g",
    "mgda",
    "nashmtl",
    "options",
    "pcgrad",
    "rlw",
    "uw",
    "vamo_train",
    "vamo_transform",
]
