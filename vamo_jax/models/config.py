"""`ModelConfig`: every static choice of the multi-task generative bidding policy (paper §3.2)."""

from __future__ import annotations

import dataclasses

from vamo_jax.data import spec

TEMPORAL_MODULES = ("timesnet", "lstm", "none")
TASK_HEADS = ("shared", "per_task")
MODES = ("action", "next_state")


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """The policy's shapes and ablation switches, validated on construction.

    Attributes:
      num_tasks: K, number of task-specific generators.
      state_dim: S, state features.
      requirement_dim: R, features of the requirement vector y(τ).
      history_len: H, the market window of the temporal module: TimesNet's period weights,
        standardisation and pooling read the H ticks up to each tick's newest, the LSTM reads
        them all (`market_reach` gives the whole reach).
      history_features: F, market series per tick.
      embed_dim: width E of the tokens and of the Transformer.
      depth: number of Transformer blocks.
      num_heads: attention heads (must divide `embed_dim`).
      context_len: largest window C of ticks (3 tokens each) the model accepts.
      max_timestep: timesteps are in [0, max_timestep) (the tick of the day).
      temporal: "timesnet" (eq. 12–13), "lstm" (a recurrent baseline) or "none" (z_t = 0).
      periods: TimesNet's candidate periods Q, static (see `dominant_periods`); each q reads
        the amplitude at frequency H // q, so the frequencies must be distinct, and is at least
        max(kernel_sizes) // 2 (a kernel wider than the grid's rows would read later ticks).
      timesnet_width: channels of TimesNet's 2-D period × phase tensor (also the LSTM width).
      kernel_sizes: odd kernel sizes of the Inception block's parallel 2-D convolutions
        (TimesNet uses up to 11; the cost grows with the largest size squared).
      film: modulate the hidden features by FiLM(y) after every Transformer block.
      heads: "per_task" (one generator per task, selected by the task id) or "shared".
      mode: "action" (Decision Transformer / GAS: predict a_t) or "next_state" (AIGB: predict
        s_{t+1}, then a_t by an inverse-dynamics head).
      head_hidden: hidden width of the task heads' MLPs.
    """

    num_tasks: int = spec.NUM_VALUE_CHANNELS
    state_dim: int = spec.STATE_DIM
    requirement_dim: int = spec.REQUIREMENT_DIM
    history_len: int = 2 * spec.TICKS_PER_DAY
    history_features: int = spec.HISTORY_FEATURES
    embed_dim: int = 32
    depth: int = 2
    num_heads: int = 2
    context_len: int = 20
    max_timestep: int = spec.TICKS_PER_DAY
    temporal: str = "timesnet"
    periods: tuple[int, ...] = (96, 48, 24)
    timesnet_width: int = 8
    kernel_sizes: tuple[int, ...] = (1, 3)
    film: bool = True
    heads: str = "per_task"
    mode: str = "action"
    head_hidden: int = 32

    def __post_init__(self):
        # Configs written as lists (e.g. from a CLI override) become the hashable tuples jit needs.
        for name in ("periods", "kernel_sizes"):
            value = getattr(self, name)
            if isinstance(value, list):
                object.__setattr__(self, name, tuple(value))
        for name in ("num_tasks", "state_dim", "requirement_dim", "history_len",
                     "history_features", "embed_dim", "depth", "num_heads", "context_len",
                     "max_timestep", "timesnet_width", "head_hidden"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"ModelConfig.{name} must be a positive int, got {value!r}.")
        _check_choice("temporal", self.temporal, TEMPORAL_MODULES)
        _check_choice("heads", self.heads, TASK_HEADS)
        _check_choice("mode", self.mode, MODES)
        if not isinstance(self.film, bool):
            raise ValueError(f"ModelConfig.film must be True or False, got {self.film!r}.")
        if self.embed_dim % self.num_heads:
            raise ValueError(
                f"ModelConfig.num_heads={self.num_heads} must divide "
                f"ModelConfig.embed_dim={self.embed_dim}."
            )
        if (not isinstance(self.kernel_sizes, tuple) or not self.kernel_sizes
                or any(not isinstance(k, int) or k < 1 or k % 2 == 0 for k in self.kernel_sizes)):
            raise ValueError(
                f"ModelConfig.kernel_sizes must be a non-empty tuple of odd positive ints, "
                f"got {self.kernel_sizes!r}."
            )
        self._check_periods()

    def _check_periods(self):
        h = self.history_len
        if (not isinstance(self.periods, tuple) or not self.periods
                or any(isinstance(q, bool) or not isinstance(q, int) for q in self.periods)):
            raise ValueError(
                f"ModelConfig.periods must be a non-empty tuple of ints, got {self.periods!r}."
            )
        bad = [q for q in self.periods if not 2 <= q <= h]
        if bad:
            raise ValueError(
                f"ModelConfig.periods {bad} outside [2, history_len={h}]: a period must fit "
                "in the history window and have a frequency H // q ≤ H // 2."
            )
        seen: dict[int, int] = {}
        for q in self.periods:
            f = h // q
            if f in seen:
                raise ValueError(
                    f"ModelConfig.periods {seen[f]} and {q} both read frequency {f} of a "
                    f"history_len={h} window; keep one of them."
                )
            seen[f] = q
        reach = max(self.kernel_sizes) // 2
        short = [q for q in self.periods if q < reach]
        if short:
            raise ValueError(
                f"ModelConfig.periods {short} shorter than max(kernel_sizes) // 2 = {reach}: "
                "the causal kernel would read later ticks; use longer periods or smaller kernels."
            )


def _check_choice(name: str, value, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"ModelConfig.{name} must be one of {choices}, got {value!r}.")
