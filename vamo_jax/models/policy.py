"""The multi-task generative bidding policy (paper §3.2, Fig. 2): temporal module, shared causal
Transformer, FiLM, task-specific generators."""

from __future__ import annotations

from typing import NamedTuple, Optional

import chex
import flax.linen as nn
import jax.numpy as jnp

from vamo_jax.data.spec import TrajectoryBatch, history_windows
from vamo_jax.models.config import ModelConfig
from vamo_jax.models.heads import TaskHeads
from vamo_jax.models.lstm import HistoryLSTM
from vamo_jax.models.timesnet import TimesNet, receptive_field
from vamo_jax.models.transformer import CausalTransformer

TOKENS_PER_TICK = 3  # (return-to-go & requirement, state, action), Decision Transformer order


class PolicyOutput(NamedTuple):
    """Predictions at every tick of the window.

    Attributes:
      action: (B, C) predicted a_t (in next-state mode, the inverse dynamics of (s_t, ŝ_{t+1})).
      next_state: (B, C, S) predicted ŝ_{t+1} in next-state mode, else None.
      inverse_action: (B, C) inverse dynamics of the logged (s_t, s_{t+1}) in next-state mode
        (its training target is a_t), else None.
    """

    action: chex.Array
    next_state: Optional[chex.Array] = None
    inverse_action: Optional[chex.Array] = None


class Policy(nn.Module):
    """h_t = f_θs(s̃_{≤t}, …) with s̃_t = s_t + z_t (eq. 10), then generator k: f_θk(h_t, y).

    Tokens of tick t are (return-to-go with the requirement y, state s̃_t, action a_t), each
    plus an embedding of the tick's timestep. Predictions at t are read from the state token of
    t, which sees the requirement, the returns-to-go, states and market history up to t and the
    actions before t, never a_t or anything later.

    Attributes:
      config: the model's `ModelConfig`.
    """

    config: ModelConfig

    @nn.compact
    def __call__(self, batch: TrajectoryBatch) -> PolicyOutput:
        cfg = self.config
        _check_batch(cfg, batch)
        b, c = batch.actions.shape
        e = cfg.embed_dim
        requirement = batch.requirement.astype(jnp.float32)
        y = jnp.broadcast_to(requirement[:, None, :], (b, c, cfg.requirement_dim))

        time = nn.Embed(cfg.max_timestep, e, name="timestep_embedding")(
            jnp.clip(batch.timesteps, 0, cfg.max_timestep - 1)
        )
        return_token = nn.Dense(e, name="return_embedding")(
            jnp.concatenate([batch.returns_to_go[..., None], y], axis=-1)
        )
        state_token = nn.Dense(e, name="state_embedding")(batch.states)
        if cfg.temporal == "timesnet":
            state_token += TimesNet(cfg.periods, cfg.timesnet_width, e, cfg.kernel_sizes,
                                    cfg.history_len, name="temporal")(batch.market, batch.market_index)
        elif cfg.temporal == "lstm":
            windows = history_windows(batch.market, batch.market_index, cfg.history_len)
            state_token += HistoryLSTM(cfg.timesnet_width, e, name="temporal")(windows)
        action_token = nn.Dense(e, name="action_embedding")(batch.actions[..., None])

        tokens = jnp.stack([return_token, state_token, action_token], axis=2) + time[:, :, None]
        tokens = nn.LayerNorm(name="embed_norm")(tokens.reshape(b, TOKENS_PER_TICK * c, e))
        valid = jnp.repeat(batch.mask, TOKENS_PER_TICK, axis=1)
        hidden = CausalTransformer(cfg.depth, cfg.num_heads, cfg.film, name="backbone")(
            tokens, valid, requirement)
        hidden = hidden.reshape(b, c, TOKENS_PER_TICK, e)[:, :, 1]  # state tokens: h_t
        chex.assert_shape(hidden, (b, c, e))

        per_task = cfg.heads == "per_task"
        generator_in = jnp.concatenate([hidden, y], axis=-1)
        if cfg.mode == "action":
            action = TaskHeads(cfg.num_tasks, 1, cfg.head_hidden, per_task, name="generator")(
                generator_in, batch.task)[..., 0]
            return PolicyOutput(action=action)

        next_state = TaskHeads(cfg.num_tasks, cfg.state_dim, cfg.head_hidden, per_task,
                               name="generator")(generator_in, batch.task)
        inverse_dynamics = TaskHeads(cfg.num_tasks, 1, cfg.head_hidden, per_task,
                                     name="inverse_dynamics")
        action = inverse_dynamics(
            jnp.concatenate([batch.states, next_state], axis=-1), batch.task)[..., 0]
        inverse_action = inverse_dynamics(
            jnp.concatenate([batch.states, batch.next_states], axis=-1), batch.task)[..., 0]
        chex.assert_shape(next_state, (b, c, cfg.state_dim))
        return PolicyOutput(action=action, next_state=next_state, inverse_action=inverse_action)


def make_policy(config: ModelConfig) -> Policy:
    """The policy of `config`: `init(key, batch)` and `apply(params, batch) -> PolicyOutput`."""
    return Policy(config)


def market_reach(config: ModelConfig) -> int:
    """The market ticks, ending at the newest one before tick t, that the policy's z_t reads:
    a `market` series this long before each tick gives the same z_t as the whole series."""
    if config.temporal == "timesnet":
        return receptive_field(config.history_len, config.periods, config.kernel_sizes)
    return config.history_len if config.temporal == "lstm" else 1


def _check_batch(cfg: ModelConfig, batch: TrajectoryBatch) -> None:
    """Trace-time check of the batch's static shapes against the config."""
    b, c, s = batch.states.shape
    if batch.market.ndim != 3 or batch.market.shape[-1] != cfg.history_features:
        raise ValueError(
            f"TrajectoryBatch.market has shape {tuple(batch.market.shape)}, expected "
            f"(P, L, {cfg.history_features}) (ModelConfig.history_features)."
        )
    expected = {
        "states": ((b, c, cfg.state_dim), "state_dim"),
        "actions": ((b, c), None),
        "returns_to_go": ((b, c), None),
        "requirement": ((b, cfg.requirement_dim), "requirement_dim"),
        "timesteps": ((b, c), None),
        "mask": ((b, c), None),
        "task": ((b,), None),
        "market_index": ((b, c), None),
        "next_states": ((b, c, cfg.state_dim), "state_dim"),
    }
    for name, (shape, field) in expected.items():
        got = tuple(getattr(batch, name).shape)
        if got != shape:
            against = f" (ModelConfig.{field})" if field else ""
            raise ValueError(
                f"TrajectoryBatch.{name} has shape {got}, expected {shape}{against}."
            )
    if c > cfg.context_len:
        raise ValueError(
            f"TrajectoryBatch has {c} ticks per window, more than "
            f"ModelConfig.context_len={cfg.context_len}."
        )
