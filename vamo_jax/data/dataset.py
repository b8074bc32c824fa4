"""The offline data set: full-day trajectories split by day, and their normalisation statistics.

Shapes: M trajectories, T ticks, S = 16 state features, V = 3 channels, E episodes (independent
markets), D = num_days + 1 days (index = day number; day 0 is the burn-in), F = 3 market features.
"""

from __future__ import annotations

import dataclasses

import chex
import jax.numpy as jnp
import numpy as np

from vamo_jax.data.config import DataConfig
from vamo_jax.sim.env import requirement
from vamo_jax.sim.market import World
from vamo_jax.sim.policies import HeuristicParams


@chex.dataclass(frozen=True)
class Split:
    """One split's trajectories (sorted by learning task, day, episode, advertiser) — a pytree.

    Attributes:
      states, next_states: (M, T, S) raw state features (`vamo_jax.sim.STATE_FEATURES`);
        next_states is zero at the last tick.
      actions: (M, T) logged bid multipliers a_t.
      rewards, rewards_continuous: (M, T, V) realised and expected value of every channel, raw
        units (currency for GMV / Dir-GMV, carts for CartCnt).
      returns_to_go: (M, T) Σ_{t' ≥ t} reward[t', campaign] × unit_value[campaign] / budget: the
        future return under the trajectory's own campaign type per unit of budget.
      cost, remaining: (M, T) spend and budget left before the tick.
      budget, constraint: (M,) the advertiser's budget and constraint (target ROI, or target
        cost per cart; after relabeling for another campaign type, the realised one, and 0 where
        that is undefined: see `vamo_jax.data.relabel`).
      campaign, day, episode, advertiser, category: (M,) int32; `campaign` is the advertiser's
        campaign type (its value channel, index into `spec.CAMPAIGN_NAMES`).
      task: (M,) int32 id in [0, K) of the learning task: the campaign type itself with
        the paper's three tasks, a per-category sub-task of it with K > 3 (`vamo_jax.data.tasks`).
      market: (E, D, T, F) the market series, indexed [episode, day, tick].
    """

    states: chex.Array
    next_states: chex.Array
    actions: chex.Array
    rewards: chex.Array
    rewards_continuous: chex.Array
    returns_to_go: chex.Array
    cost: chex.Array
    remaining: chex.Array
    budget: chex.Array
    constraint: chex.Array
    campaign: chex.Array
    task: chex.Array
    day: chex.Array
    episode: chex.Array
    advertiser: chex.Array
    category: chex.Array
    market: chex.Array

    @property
    def size(self) -> int:
        return int(self.task.shape[0])


SPLIT_FIELDS = tuple(f.name for f in dataclasses.fields(Split))


@chex.dataclass(frozen=True)
class NormStats:
    """Normalisation computed on the training split only.

    Attributes:
      state_mean, state_std: (S,) per-feature mean and std (std floored at 1e-6).
      return_scale: () mean initial return-to-go of the training trajectories; returns and
        per-tick rewards are divided by it.
      budget_scale: () mean training budget; the requirement's budget is divided by it.
    """

    state_mean: chex.Array
    state_std: chex.Array
    return_scale: chex.Array
    budget_scale: chex.Array


def compute_norm_stats(train: Split) -> NormStats:
    s = np.asarray(train.states).reshape(-1, train.states.shape[-1])
    return NormStats(
        state_mean=s.mean(0).astype(np.float32),
        state_std=np.maximum(s.std(0), 1e-6).astype(np.float32),
        return_scale=np.float32(max(float(np.mean(np.asarray(train.returns_to_go)[:, 0])), 1e-6)),
        budget_scale=np.float32(float(np.mean(np.asarray(train.budget)))),
    )


def normalise_states(states: chex.Array, stats: NormStats) -> chex.Array:
    return (states - stats.state_mean) / stats.state_std


def normalise_requirement(raw: chex.Array, stats: NormStats) -> chex.Array:
    """(…, 6) raw y = [target return (per budget), budget, constraint, one-hot] → model units."""
    scale = jnp.concatenate([jnp.stack([stats.return_scale, stats.budget_scale]), jnp.ones(4)])
    return raw / scale


def trajectory_requirement(split: Split) -> chex.Array:
    """(M, 6) y(τ) of each trajectory (`sim.requirement`), its target the realised return per budget."""
    return requirement(jnp.asarray(split.returns_to_go)[:, 0], split.budget, split.constraint, split.campaign)


@dataclasses.dataclass(frozen=True)
class Dataset:
    """The logs: three splits, the market series and what evaluation needs to replay a day.

    Attributes:
      config: the `DataConfig` it was made from.
      train, val, test: `Split`s (days `config.train_days`, `val_day`, `test_day`).
      stats: `NormStats` from the training split.
      market: (E, D, T, F) market series, indexed [episode, day, tick] (day 0 = burn-in).
      world: the simulated advertisers and day regimes (None for imported logs).
      sim_keys: (E, D, 2) uint32 key data of the key each day was simulated with (None for
        imported logs); `jax.random.wrap_key_data` turns a row back into the key.
      behaviour: `HeuristicParams` with leaves (E, D, N): the logged policies (None if imported).
    """

    config: DataConfig
    train: Split
    val: Split
    test: Split
    stats: NormStats
    market: np.ndarray
    world: World | None = None
    sim_keys: np.ndarray | None = None
    behaviour: HeuristicParams | None = None

    def split(self, name: str) -> Split:
        return {"train": self.train, "val": self.val, "test": self.test}[name]

    def history_before(self, day: int, episode: int = 0) -> np.ndarray:
        """(H, F) the market window just before `day` starts (the last H ticks of day − 1)."""
        if not 1 <= day < self.market.shape[1]:
            raise ValueError(f"history_before: day={day} must be in 1..{self.market.shape[1] - 1}.")
        return self.market[episode, day - 1, -self.config.env.history_len:]

    def eval_inputs(self, day: int, episode: int = 0) -> dict:
        """Keyword arguments of `vamo_jax.sim.simulate_day` that replay the logged `day`: same
        key (same traffic), same history window and the logged heuristic competitors."""
        import jax

        if self.world is None:
            raise ValueError("eval_inputs needs simulated logs (this Dataset was imported).")
        return dict(
            key=jax.random.wrap_key_data(jnp.asarray(self.sim_keys[episode, day])),
            params=self.config.env, world=jax.tree.map(jnp.asarray, self.world), day=day,
            history=jnp.asarray(self.history_before(day, episode)),
            competitors=jax.tree.map(lambda x: jnp.asarray(x[episode, day]), self.behaviour),
        )
