"""The array contract between the logs (`vamo_jax.data`), the model (`vamo_jax.models`) and training.

Every producer of training data emits a `TrajectoryBatch`; every model consumes one. Shapes:

    B  batch size                 C  context length (ticks per training window)
    S  state features (16)        H  market-history window (ticks before each tick)
    F  market-history features    V  value channels (3: GMV, Dir-GMV, CartCnt)
    R  requirement features       T  ticks per day (96)

Tasks are identified by integer ids `0..K-1`; for the paper's bidding tasks (K = 3), id `k` is
`CAMPAIGN_NAMES[k]` and its value channel is channel `k`, so one won impression has a value under
every task. With K > 3 per-category tasks, `vamo_jax.data.tasks` maps each id to its channel.
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp

CAMPAIGN_NAMES: tuple[str, ...] = ("gmv", "dir_gmv", "cart")
"""Campaign types of the paper (§4.1): store conversion, direct conversion, add-to-cart."""

NUM_VALUE_CHANNELS: int = len(CAMPAIGN_NAMES)
STATE_DIM: int = 16
"""AuctionNet's 16 state features (time left, budget left, historical and recent means, …)."""
HISTORY_FEATURES: int = 3
"""Per-tick market series read by the temporal module: volume, mean value, clearing price."""
REQUIREMENT_DIM: int = 3 + NUM_VALUE_CHANNELS
"""y(τ) = [target return, budget, constraint, one-hot task type]; entries irrelevant to a task are 0."""
TICKS_PER_DAY: int = 96


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
      history: (B, C, H, F) float32, the H market ticks before each tick (reaching into
        previous days), oldest first.
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
    history: chex.Array
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
    h, f = batch.history.shape[2:]
    v = batch.rewards.shape[-1]
    expected = {
        "actions": (b, c),
        "rewards": (b, c, v),
        "returns_to_go": (b, c),
        "requirement": (b, batch.requirement.shape[-1]),
        "timesteps": (b, c),
        "mask": (b, c),
        "task": (b,),
        "history": (b, c, h, f),
        "next_states": (b, c, s),
    }
    for name, shape in expected.items():
        got = getattr(batch, name).shape
        if tuple(got) != shape:
            raise ValueError(
                f"TrajectoryBatch.{name} has shape {tuple(got)}, expected {shape} "
                f"(from states {(b, c, s)} and history {batch.history.shape})."
            )


def synthetic_batch(
    key: chex.PRNGKey,
    batch_size: int,
    context: int,
    history: int,
    num_tasks: int = NUM_VALUE_CHANNELS,
    state_dim: int = STATE_DIM,
) -> TrajectoryBatch:
    """A random but well-formed batch for tests of models and losses (not a data set)."""
    ks = jax.random.split(key, 8)
    b, c = batch_size, context
    t0 = jax.random.randint(ks[0], (b, 1), 0, TICKS_PER_DAY - c + 1)
    return TrajectoryBatch(
        states=jax.random.normal(ks[1], (b, c, state_dim)),
        actions=jax.random.uniform(ks[2], (b, c), minval=0.5, maxval=1.5),
        rewards=jax.random.uniform(ks[3], (b, c, NUM_VALUE_CHANNELS)),
        returns_to_go=jax.random.uniform(ks[4], (b, c)),
        requirement=jax.random.uniform(ks[5], (b, REQUIREMENT_DIM)),
        timesteps=(t0 + jnp.arange(c)[None, :]).astype(jnp.int32),
        mask=jnp.ones((b, c), jnp.float32),
        task=(jnp.arange(b) % num_tasks).astype(jnp.int32),
        history=jax.random.normal(ks[6], (b, c, history, HISTORY_FEATURES)),
        next_states=jax.random.normal(ks[7], (b, c, state_dim)),
    )
