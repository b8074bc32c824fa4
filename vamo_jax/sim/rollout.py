"""`simulate_day`: one day as a `lax.scan` over ticks, with some advertisers under an external policy.

Contract of the external policy (pure, called inside the scan):

    policy_fn(obs: Observation, policy_state, key) -> (actions (N,), policy_state)

`obs` holds every advertiser's (N, 16) state, the tick, the remaining budgets, the raw
requirement vectors (N, 6) and the market history window (H, 3); the policy returns a
multiplier for every advertiser, and only those where `controlled_mask` is True are used; the
others follow their heuristic `competitors` parameters. The logs are written by the same
function with `policy_fn=heuristic_policy` and every advertiser controlled.

Determinism: everything random derives from `key`. Impressions, exposures and conversions use
keys that do not depend on the actions, so two policies evaluated with the same key face the same
traffic (common random numbers); the heuristic competitors draw their noise from the key
`policy_fn` gets, so replaying a logged day (`Dataset.eval_inputs`) with the logged behaviour
parameters reproduces it exactly whichever advertisers are controlled. `simulate_day` is pure and vmaps over keys, days and worlds;
`params` and `policy_fn` are static under `jax.jit`.
"""

from __future__ import annotations

from typing import Any, Callable

import chex
import jax
import jax.numpy as jnp

from vamo_jax.sim import env as env_lib
from vamo_jax.sim import policies as policies_lib
from vamo_jax.sim.market import World
from vamo_jax.sim.params import EnvParams

PolicyFn = Callable[[env_lib.Observation, Any, chex.PRNGKey], tuple[chex.Array, Any]]


@chex.dataclass(frozen=True)
class DayTotals:
    """Per-advertiser totals of a day, all (N,) or (N, 3): cost, value (realised, per channel
    GMV / Dir-GMV / CartCnt), value_continuous (expected), conversions, wins, budget, campaign."""

    cost: chex.Array
    value: chex.Array
    value_continuous: chex.Array
    conversions: chex.Array
    wins: chex.Array
    budget: chex.Array
    campaign: chex.Array


@chex.dataclass(frozen=True)
class DayTrajectory:
    """Per-tick record of a day (T ticks, N advertisers).

    Attributes:
      states: (T, N, 16) observed state before acting.
      actions: (T, N) the multipliers played (after sanitising).
      rewards: (T, N, 3) realised value of each channel.
      rewards_continuous: (T, N, 3) expected value of each channel on exposed wins.
      cost: (T, N) spend.
      remaining: (T, N) budget left before the tick.
      market: (T, 3) the market features of each tick (volume, mean value, clearing price).
    """

    states: chex.Array
    actions: chex.Array
    rewards: chex.Array
    rewards_continuous: chex.Array
    cost: chex.Array
    remaining: chex.Array
    market: chex.Array


def simulate_day(
    key: chex.PRNGKey,
    params: EnvParams,
    world: World,
    day: chex.Array,
    policy_fn: PolicyFn,
    policy_state: Any,
    controlled_mask: chex.Array,
    history: chex.Array | None = None,
    competitors: policies_lib.HeuristicParams | None = None,
) -> tuple[DayTotals, DayTrajectory, Any]:
    """Simulates day `day`; returns (totals, trajectory, final policy_state).

    Args:
      key: the day's key (reset, competitors' noise, every tick).
      params: static market description.
      world: advertisers and day regimes (`make_world`).
      day: () int index into `world.regime`.
      policy_fn, policy_state: the external policy and its state (see the module docstring).
      controlled_mask: (N,) bool, advertisers acting through `policy_fn`.
      history: (H, 3) market window before the day (e.g. `Dataset.history_before(day)`);
        zeros if None.
      competitors: heuristic parameters of the other advertisers; if None they are drawn from
        `key` with `sample_heuristic_params` defaults.
    """
    k_reset, k_comp, k_ticks = jax.random.split(key, 3)
    chex.assert_shape(controlled_mask, (params.num_advertisers,))
    obs, state = env_lib.reset(k_reset, params, world, day, history)
    if competitors is None:
        competitors = policies_lib.sample_heuristic_params(k_comp, params, world, day)
    comp_state = policies_lib.init_heuristic(competitors)

    def tick(carry, k):
        obs, state, pstate, cstate = carry
        k_pol, k_env = jax.random.split(k)
        a_ext, pstate = policy_fn(obs, pstate, k_pol)
        # Same key: a day replayed with its logged heuristics is the logged day whatever the mask.
        a_heu, cstate = policies_lib.heuristic_policy(obs, cstate, k_pol)
        a = env_lib.sanitize_actions(jnp.where(controlled_mask, a_ext, a_heu), params)
        next_obs, next_state, reward, _, info = env_lib.step(k_env, state, a, params, world)
        rec = DayTrajectory(states=obs.state, actions=a, rewards=reward,
                            rewards_continuous=info.reward_continuous, cost=info.cost,
                            remaining=obs.remaining_budget, market=info.market)
        return (next_obs, next_state, pstate, cstate), (rec, info.conversions, info.wins)

    keys = jax.random.split(k_ticks, params.ticks_per_day)
    (_, _, policy_state, _), (traj, conv, wins) = jax.lax.scan(
        tick, (obs, state, policy_state, comp_state), keys)
    totals = DayTotals(
        cost=traj.cost.sum(0), value=traj.rewards.sum(0), value_continuous=traj.rewards_continuous.sum(0),
        conversions=conv.sum(0), wins=wins.sum(0), budget=world.budget, campaign=world.campaign,
    )
    return totals, traj, policy_state
