"""The array contract between the logs (`vamo_jax.data`), the model (`vamo_jax.models`) and training.

Every producer of training data emits a `TrajectoryBatch`; every model consumes one. Shapes:

    B  batch size                 C  context length (ticks per training window)
    S  state features (16)        H  market-history window (ticks before each tick)
    F  market-history features    V  value channels (3: GMV, Dir-GMV, CartCnt)
    R  requirement features       T  ticks per day (96)
    P  market series in a batch   L  ticks per market series

The market history is not copied per tick: a batch carries a table of market series (e.g. each
episode's days end to end) and, per tick, the index of the newest market tick before it, so a
temporal module can compute every market tick's features once and gather them.

Tasks are identified by integer ids `0..K-1`; for the paper's bidding tasks (K = 3), id `k` is
`CAMPAIGN_NAMES[k]` and its value channel is channel `k`, so one won impression has a value under
every task. With K > 3 per-category tasks, `vamo_jax.data.tasks` maps each id to its channel.
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp

# The layout is the simulator's; data re-exports it for the model and the logs.
from vamo_jax.sim.env import (  # noqa: F401
    CAMPAIGN_NAMES,
    HISTORY_FEATURES,
    NUM_VALUE_CHANNELS,
    REQUIREMENT_DIM,
    STATE_DIM,
)
from vamo_jax.sim.params import COST_PER_RESULT, TICKS_PER_DAY  # noqa: F401


@chex.dataclass(frozen=True)
class TrajectoryBatch:
    """A batch of trajectory windows, the input of every model and loss.

    Attributes:
      states: (B, C, S) float32, normalised state features s_t.
      actions: (B, C) float32, the logged action a_t (bid = a_t × value estimate).
      rewards: (B, C, V) float32, the tick's reward under every value channel.
      returns_to_go: (B, C) float32, scaled future return under the trajectory's own task.
      requirement: (B, R) float32, the requirement vector y(τ) of the trajectory.
      timesteps: (B, C) int32, tick index in [0, T).
      mask: (B, C) float32, 1 on real ticks, 0 on padding.
      task: (B,) int32, learning task id in [0, K).
      market: (P, L, F) float32, market series, each oldest first (an episode's days end to
        end, reaching into the days before the trajectories' own).
      market_index: (B, C) int32, flat index into the P · L ticks of `market` of the newest
        market tick before tick t; the ticks before it in its series are tick t's history
        (`history_windows`).
      next_states: (B, C, S) float32, s_{t+1} (zeros at the last tick), for the next-state mode.
    """

    states: chex.Array
    actions: chex.Array
    rewards: chex.Array
    returns_to_go: chex.Array
    requirement: chex.Array
    timesteps: chex.Array
    mask: chex.Array
    task: chex.Array
    market: chex.Array
    market_index: chex.Array
    next_states: chex.Array

    @property
    def batch_size(self) -> int:
        return self.states.shape[0]

    @property
    def context(self) -> int:
        return self.states.shape[1]


def assert_batch(batch: TrajectoryBatch) -> None:
    """Checks the shapes of `batch` against each other; raises with the offending field named."""
    b, c, s = batch.states.shape
    v = batch.rewards.shape[-1]
    if batch.market.ndim != 3:
        raise ValueError(f"TrajectoryBatch.market has shape {tuple(batch.market.shape)}, expected (P, L, F).")
    expected = {
        "actions": (b, c),
        "rewards": (b, c, v),
        "returns_to_go": (b, c),
        "requirement": (b, batch.requirement.shape[-1]),
        "timesteps": (b, c),
        "mask": (b, c),
        "task": (b,),
        "market_index": (b, c),
        "next_states": (b, c, s),
    }
    for name, shape in expected.items():
        got = getattr(batch, name).shape
        if tuple(got) != shape:
            raise ValueError(
                f"TrajectoryBatch.{name} has shape {tuple(got)}, expected {shape} "
                f"(from states {(b, c, s)})."
            )


def history_windows(market: chex.Array, market_index: chex.Array, length: int) -> chex.Array:
    """The `length` market ticks up to each index, oldest first, zeros before a series' start.

    Args:
      market: (P, L, F) market series.
      market_index: (B, C) flat indices into the P · L ticks.
      length: H.

    Returns:
      (B, C, H, F): entry [b, c, -1] is the tick at `market_index[b, c]`.
    """
    p, series_len, f = market.shape
    offsets = jnp.arange(length) - (length - 1)
    position = (market_index % series_len)[..., None] + offsets  # within the series
    ticks = market.reshape(p * series_len, f)[jnp.maximum(market_index[..., None] + offsets, 0)]
    return ticks * (position >= 0)[..., None]


def synthetic_batch(
    key: chex.PRNGKey,
    batch_size: int,
    context: int,
    num_tasks: int = NUM_VALUE_CHANNELS,
    state_dim: int = STATE_DIM,
    market_shape: tuple[int, int] | None = None,
) -> TrajectoryBatch:
    """A random but well-formed batch for tests of models and losses (not a data set).

    `market_shape` (P, L) is the market table (L ≥ 2T); row b's ticks lie in series b mod P, in
    a day after its first. Default (B, 2T): every row its own series, its ticks on the second day.
    """
    ks = jax.random.split(key, 9)
    b, c = batch_size, context
    p, series_len = (b, 2 * TICKS_PER_DAY) if market_shape is None else market_shape
    t0 = jax.random.randint(ks[0], (b, 1), 0, TICKS_PER_DAY - c + 1)
    day = jax.random.randint(ks[8], (b, 1), 1, series_len // TICKS_PER_DAY)
    timesteps = t0 + jnp.arange(c)[None, :]
    series = (jnp.arange(b) % p)[:, None]
    return TrajectoryBatch(
        states=jax.random.normal(ks[1], (b, c, state_dim)),
        actions=jax.random.uniform(ks[2], (b, c), minval=0.5, maxval=1.5),
        rewards=jax.random.uniform(ks[3], (b, c, NUM_VALUE_CHANNELS)),
        returns_to_go=jax.random.uniform(ks[4], (b, c)),
        requirement=jax.random.uniform(ks[5], (b, REQUIREMENT_DIM)),
        timesteps=timesteps.astype(jnp.int32),
        mask=jnp.ones((b, c), jnp.float32),
        task=(jnp.arange(b) % num_tasks).astype(jnp.int32),
        market=jax.random.normal(ks[6], (p, series_len, HISTORY_FEATURES)),
        market_index=(series * series_len + day * TICKS_PER_DAY + timesteps - 1).astype(jnp.int32),
        next_states=jax.random.normal(ks[7], (b, c, state_dim)),
    )
