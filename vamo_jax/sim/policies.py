"""Heuristic bidding policies: the competitors, and (with randomised parameters) the behaviour
policies that write the offline logs.

Every policy follows the contract of `vamo_jax.sim.rollout.simulate_day`:
`policy_fn(obs, policy_state, key) -> (actions (N,), policy_state)`.

Kinds (per advertiser, `POLICY_KINDS`), a = bid multiplier:
  pid           a = α · exp(−k·(4 e + 0.5 ∫e)),  e = spend_pace (spent share − elapsed share):
                paces toward an even spend over the day.
  fixed_alpha   a = α.
  value_greedy  a = α · (current_value / hist_value)^γ: bids up on ticks richer than usual.
Then a ← a · comp · exp(σ ε): `comp` is the day's competition factor and σ the exploration noise.
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp

from vamo_jax.sim import env as env_lib
from vamo_jax.sim.market import World
from vamo_jax.sim.params import EnvParams

_PACE = env_lib.STATE_FEATURES.index("spend_pace")
_HIST_VALUE = env_lib.STATE_FEATURES.index("hist_value")
_CUR_VALUE = env_lib.STATE_FEATURES.index("current_value")


@chex.dataclass(frozen=True)
class HeuristicParams:
    """Per-advertiser parameters, all (N,): kind (int32 index of POLICY_KINDS), alpha, gain
    (PID gain k), gamma (greed exponent γ), noise (exploration log-sd σ), competition (the
    day's factor on the multiplier)."""

    kind: chex.Array
    alpha: chex.Array
    gain: chex.Array
    gamma: chex.Array
    noise: chex.Array
    competition: chex.Array


@chex.dataclass(frozen=True)
class HeuristicState:
    """params: HeuristicParams; integral: (N,) the PID integral of the pace error."""

    params: HeuristicParams
    integral: chex.Array


def sample_heuristic_params(
    key: chex.PRNGKey,
    params: EnvParams,
    world: World,
    day: chex.Array,
    alpha_spread: float = 0.25,
    noise: float = 0.05,
) -> HeuristicParams:
    """Draws heuristic parameters for every advertiser on `day`.

    The kinds follow `params.competitor_mix` in a random order; α = exp(N(0, alpha_spread²)) so
    `alpha_spread` is the quality spread (0: every advertiser bids its value estimate).
    """
    n = params.num_advertisers
    ks = jax.random.split(key, 5)
    counts = params.competitor_counts()
    kinds = jnp.concatenate([jnp.full((c,), i, jnp.int32) for i, c in enumerate(counts)])
    kinds = jax.random.permutation(ks[0], kinds)
    alpha = jnp.exp(alpha_spread * jax.random.normal(ks[1], (n,)))
    gain = jax.random.uniform(ks[2], (n,), minval=0.3, maxval=1.5)
    gamma = jax.random.uniform(ks[3], (n,), minval=0.5, maxval=2.0)
    sigma = noise * jax.random.uniform(ks[4], (n,), minval=0.5, maxval=1.5)
    comp = jnp.full((n,), jnp.exp(jnp.asarray(world.regime)[jnp.asarray(day, jnp.int32), 4]))
    return HeuristicParams(kind=kinds, alpha=alpha, gain=gain, gamma=gamma, noise=sigma, competition=comp)


def init_heuristic(hp: HeuristicParams) -> HeuristicState:
    return HeuristicState(params=hp, integral=jnp.zeros_like(hp.alpha))


def heuristic_policy(
    obs: env_lib.Observation, state: HeuristicState, key: chex.PRNGKey
) -> tuple[chex.Array, HeuristicState]:
    """The mixed heuristic policy; see the module docstring."""
    hp = state.params
    err = obs.state[:, _PACE]
    integral = state.integral + err
    pid = hp.alpha * jnp.exp(-hp.gain * (4.0 * err + 0.5 * integral))
    hist_v = obs.state[:, _HIST_VALUE]
    ratio = jnp.where(hist_v > 0, obs.state[:, _CUR_VALUE] / jnp.maximum(hist_v, 1e-6), 1.0)
    greedy = hp.alpha * jnp.clip(ratio, 0.2, 5.0) ** hp.gamma
    a = jnp.select([hp.kind == 0, hp.kind == 1], [pid, hp.alpha], greedy)
    a = a * hp.competition * jnp.exp(hp.noise * jax.random.normal(key, a.shape))
    return a, state.replace(integral=integral)
