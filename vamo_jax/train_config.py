"""The training section of a config: which methods, how many seeds and steps, the optimiser."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Training hyperparameters shared by every method of a run.

    Attributes:
      methods: methods to train, in order (names of `vamo_jax.methods`, checked by `Config`).
      num_seeds: seeds trained at once with `vmap` (the paper reports 3).
      seed: base seed; seed s trains from fold_in(PRNGKey(seed), s).
      steps: optimisation steps per method.
      batch_size: training (and validation, Alg. 1 line 5) batch size.
      learning_rate, weight_decay, grad_clip: AdamW with global-norm clipping.
      lr_schedule: "constant", or "cosine" (the learning rate decays to 0 over `steps`).
      ema_decay: None, or the decay of an exponential moving average of the parameters
        (Polyak averaging); evaluation and validation losses then read the averaged parameters.
      temperature, update_every, normalize: VAMO's λ, refresh period and alignment normalisation.
      temperature_end: None (fixed λ), or λ decays geometrically from `temperature` to this
        over `steps` (`mtl.temperature.exponential_schedule`).
      target_entropy: None, or λ matched at each refresh so the weights' entropy is this
        fraction of log K (`VamoHyperparams.target_entropy`; `temperature` is then unused).
      epoch_length: steps per "epoch" for methods defined on epochs (DWA's loss ratios).
      log_every: steps per jitted chunk; validation losses are logged at chunk ends.
      checkpoint_every: steps between orbax checkpoints (a multiple of log_every).
      progress: show a progress bar.
      devices: None (every visible device, `jax.devices()` across all processes), or the first
        n: the seeds are sharded over them (`vamo_jax.distributed`).
    """

    methods: tuple[str, ...] = ("stl", "equal", "vamo")
    num_seeds: int = 3
    seed: int = 0
    steps: int = 1000
    batch_size: int = 64
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    grad_clip: float = 1.0
    lr_schedule: str = "constant"
    ema_decay: float | None = None
    temperature: float = 1.0
    update_every: int = 5
    normalize: str | None = None
    temperature_end: float | None = None
    target_entropy: float | None = None
    epoch_length: int = 50
    log_every: int = 50
    checkpoint_every: int = 250
    progress: bool = True
    devices: int | None = None

    def __post_init__(self):
        def need(cond, field, msg):
            if not cond:
                raise ValueError(f"train.{field}: {msg}")

        need(len(self.methods) > 0, "methods", "name at least one method (e.g. stl,equal,vamo).")
        need(len(set(self.methods)) == len(self.methods), "methods", f"duplicates in {self.methods}.")
        for name in ("num_seeds", "steps", "batch_size", "log_every", "checkpoint_every", "update_every", "epoch_length"):
            need(getattr(self, name) >= 1, name, f"must be ≥ 1, got {getattr(self, name)}.")
        need(self.steps % self.log_every == 0, "steps", f"must be a multiple of log_every={self.log_every}.")
        need(
            self.checkpoint_every % self.log_every == 0,
            "checkpoint_every",
            f"must be a multiple of log_every={self.log_every}.",
        )
        need(self.devices is None or self.devices >= 1, "devices",
             f"none (every visible device) or a device count ≥ 1, got {self.devices}.")
        need(self.learning_rate > 0, "learning_rate", "must be > 0.")
        need(self.lr_schedule in ("constant", "cosine"), "lr_schedule", "one of constant, cosine.")
        need(self.ema_decay is None or 0 < self.ema_decay < 1, "ema_decay", "None, or a decay in (0, 1) (e.g. 0.99).")
        need(self.temperature > 0, "temperature", "λ must be > 0 (use a small value for greedy).")
        need(self.normalize in (None, "val_norm", "cosine"), "normalize", "one of none, val_norm, cosine.")
        need(self.temperature_end is None or self.temperature_end > 0, "temperature_end", "λ must be > 0.")
        need(self.target_entropy is None or 0 < self.target_entropy < 1, "target_entropy",
             "a fraction of log K in (0, 1).")
