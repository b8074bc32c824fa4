"""The training methods: one registry entry per method, naming how the trainer computes its step.

A method's `kind` picks the trainer's step (`vamo_jax.train.make_step`):

  single_task    one model per task, each trained on its own task's data only (STL)
  loss_weighted  weights from the task losses and the method's own state, never the gradients:
                 one forward pass, the weights (the transform applied to the identity: task k's
                 "gradient" e_k combines to w), one backward pass of Σ_k w_k L_k
  aligned        VAMO's exact fast path (`mtl.vamo_gradient`): alignments by one forward-mode
                 product, the combination by its transpose; no per-task gradients
  explicit       K per-task gradients (`mtl.per_task_grads`) and the method's transform
  cross_task     every source task's batch relabeled for every target task, a K × K loss matrix,
                 per-target weights over sources by VAO's O(K) path (`mtl.cross_task_gradient`);
                 uniform weights are naive data sharing

Adding a method is one entry here: its kind and how it is built from the `TrainConfig`.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import TYPE_CHECKING, Callable

import optax

from vamo_jax.mtl import VamoHyperparams
from vamo_jax.mtl import weighting as zoo
from vamo_jax.mtl.weighting.vamo_ablations import GREEDY_TEMPERATURE

if TYPE_CHECKING:
    from vamo_jax.train_config import TrainConfig


class Kind(enum.Enum):
    SINGLE_TASK = "single_task"
    LOSS_WEIGHTED = "loss_weighted"
    ALIGNED = "aligned"
    EXPLICIT = "explicit"
    CROSS_TASK = "cross_task"


@dataclasses.dataclass(frozen=True)
class Method:
    """One training method.

    Attributes:
      name: the name in `train.methods`.
      kind: how its step is computed (module docstring).
      weighting: for loss_weighted and explicit methods, the `mtl.weighting` name of its transform.
      options: TrainConfig -> the transform's options (e.g. DWA's epoch length).
      alignment: for aligned and cross-task methods, the target: "validation" or "train" (w/o
        held-out validation).
      greedy: for aligned methods, λ → 0 (`GREEDY_TEMPERATURE`) instead of `train.temperature`.
      uniform: for cross-task methods, keep the uniform weights (never refresh): data sharing.
    """

    name: str
    kind: Kind
    weighting: str | None = None
    options: Callable[["TrainConfig"], dict] = lambda config: {}
    alignment: str = "validation"
    greedy: bool = False
    uniform: bool = False

    def transform(self, num_tasks: int, config: "TrainConfig") -> optax.GradientTransformationExtraArgs:
        """The weighting transform of a loss_weighted or explicit method over K stacked gradients."""
        if self.weighting is None:
            raise ValueError(f"method {self.name!r} ({self.kind.value}) has no weighting transform.")
        return zoo.get(self.weighting, num_tasks, **self.options(config))

    def hyperparams(self, num_tasks: int, config: "TrainConfig") -> VamoHyperparams:
        """VAMO's (or VAO's) hyperparameters of an aligned or cross-task method, from the config."""
        if self.kind not in (Kind.ALIGNED, Kind.CROSS_TASK):
            raise ValueError(f"method {self.name!r} ({self.kind.value}) is not an aligned or cross-task method.")
        temperature = GREEDY_TEMPERATURE if self.greedy else config.temperature
        if config.temperature_end is not None:
            from vamo_jax.mtl.temperature import exponential_schedule

            temperature = exponential_schedule(temperature, config.temperature_end, config.steps)
        return VamoHyperparams(num_tasks, temperature=temperature, target_entropy=config.target_entropy,
                               update_every=config.update_every, alignment=self.alignment,
                               normalize=config.normalize)


def _zoo(name: str, kind: Kind, **fields) -> Method:
    return Method(name, kind, weighting=name, **fields)


_REGISTRY: dict[str, Method] = {
    m.name: m
    for m in (
        Method("stl", Kind.SINGLE_TASK),
        _zoo("equal", Kind.LOSS_WEIGHTED),
        _zoo("dwa", Kind.LOSS_WEIGHTED, options=lambda config: {"epoch_length": config.epoch_length}),
        _zoo("famo", Kind.LOSS_WEIGHTED),
        _zoo("uw", Kind.LOSS_WEIGHTED),
        _zoo("rlw", Kind.LOSS_WEIGHTED),
        Method("vamo", Kind.ALIGNED),
        Method("vamo_train", Kind.ALIGNED, alignment="train"),
        Method("greedy", Kind.ALIGNED, greedy=True),
        *(_zoo(name, Kind.EXPLICIT)
          for name in ("pcgrad", "fairgrad", "mgda", "cagrad", "nashmtl", "imtl_g", "aligned_mtl", "gradnorm")),
        Method("vao", Kind.CROSS_TASK),
        Method("vao_train", Kind.CROSS_TASK, alignment="train"),
        Method("share", Kind.CROSS_TASK, uniform=True),
    )
}


def names() -> tuple[str, ...]:
    """Every method name, in registry order."""
    return tuple(_REGISTRY)


def get(name: str) -> Method:
    """The registry entry of `name`; raises naming `train.methods` and the valid names."""
    if name not in _REGISTRY:
        raise ValueError(f"train.methods: unknown method {name!r}; valid: {', '.join(names())}.")
    return _REGISTRY[name]
