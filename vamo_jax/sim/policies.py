"""Heuristic bidding policies: the competitors, and (with randomised parameters) the behaviour
policies that write the offline logs.

Every policy follows the contract of `vamo_jax.sim.rollout.simulate_day`:
`policy_fn(obs, policy_state, key) -> (actions (N,), policy_state)`.

Kinds (per advertiser, `BEHAVIOUR_KINDS`), a = bid multiplier:
  pid           a = α · exp(−k·(4 e + 0.5 ∫e)),  e = spend_pace (spent share − elapsed share):
                paces toward an even spend over the day.
  fixed_alpha   a = α.
  value_greedy  a = α · (current_value / hist_value)^γ: bids up on ticks richer than usual.
  auto_bidder   a = min(a_pid · comp, e^ι / R): the pid pacer capped by a constraint controller.
                R is the target ROI the bidder aims at (its own constraint as an ROI, times its
                aim margin), and ι integrates the log gap between its running ROI and R:
                    ROI_t = (V_t × unit + R·c₀) / (C_t + c₀),
                V_t, C_t: the own-channel value won and the spend, each a sum over past ticks
                decayed by ρ = `ROI_MEMORY` per tick (the ROI of about the last 10 ticks),
                    ι ← clip(ι + k_c · log(ROI_t / R), −ι_max, ι_max).
                At ι = 0 the bid is at most value / R, so under GSP (price ≤ bid) the expected
                ROI is at least R; ι > 0 spends the slack when the running ROI exceeds R. The
                value won is the bidder's own prediction of its wins (`last_expected_reward`),
                as production auto-bidders estimate ROI from predicted conversions: on realised
                ones, a few ticks without a conversion would read as ROI 0 and stop its bids.
Then a ← a · comp · exp(σ ε) for the first three (the auto-bidder's comp is on its pacer only):
`comp` is the day's competition factor and σ the exploration noise.

Which kinds write the logs is `BehaviourSpread.kind`: "heuristic" (the first three, in
`EnvParams.competitor_mix`: none looks at its constraint) or "auto_bidder" (auto-bidders, but a
declared share of naive bidders that keep a heuristic kind).
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp

from vamo_jax.sim import env as env_lib
from vamo_jax.sim.market import World
from vamo_jax.sim.params import COST_PER_RESULT, POLICY_KINDS, BehaviourSpread, EnvParams

BEHAVIOUR_KINDS: tuple[str, ...] = POLICY_KINDS + ("auto_bidder",)
"""Every kind a logged or competing bidder can be: the constraint-blind heuristics, then the
constraint-aware auto-bidder."""
AUTO_BIDDER: int = BEHAVIOUR_KINDS.index("auto_bidder")

ROI_MEMORY: float = 0.9
"""Per-tick decay ρ of the auto-bidder's running value and cost: its ROI is that of about the last
1/(1 − ρ) = 10 ticks (2.5 hours), so a bid change shows in it within a few ticks. On the day's
cumulative ROI (ρ = 1) the controller winds up: the average ROI stays above target while the
marginal spend runs below it, and it ends the day about 10% under its aim (measured on the
hand-built market of tests/sim/test_policies.py)."""

_PACE = env_lib.STATE_FEATURES.index("spend_pace")
_HIST_VALUE = env_lib.STATE_FEATURES.index("hist_value")
_CUR_VALUE = env_lib.STATE_FEATURES.index("current_value")


@chex.dataclass(frozen=True)
class HeuristicParams:
    """Per-advertiser parameters, all (N,): kind (int32 index of BEHAVIOUR_KINDS), alpha, gain
    (PID gain k), gamma (greed exponent γ), noise (exploration log-sd σ), competition (the
    day's factor on the multiplier); for the auto-bidder: aim_roi (R, the ROI it aims at),
    unit (bid-currency worth of one unit of its own channel), constraint_gain (k_c),
    prior_spend (c₀ in currency) and integral_limit (ι_max)."""

    kind: chex.Array
    alpha: chex.Array
    gain: chex.Array
    gamma: chex.Array
    noise: chex.Array
    competition: chex.Array
    aim_roi: chex.Array
    unit: chex.Array
    constraint_gain: chex.Array
    prior_spend: chex.Array
    integral_limit: chex.Array


@chex.dataclass(frozen=True)
class HeuristicState:
    """params: HeuristicParams; integral: (N,) the PID integral of the pace error; and the
    auto-bidder's, all (N,): value (V_t, raw units) and cost (C_t) decayed by `ROI_MEMORY`,
    spent (the day's spend so far) and roi_integral (ι)."""

    params: HeuristicParams
    integral: chex.Array
    value: chex.Array
    cost: chex.Array
    spent: chex.Array
    roi_integral: chex.Array


def target_roi(params: EnvParams, world: World) -> chex.Array:
    """(N,) each advertiser's constraint as a target ROI (`vamo_jax.score`): R itself for GMV and
    Dir-GMV, unit_value / C for a cost per result C."""
    unit = jnp.asarray(params.unit_value, jnp.float32)[world.campaign]
    return jnp.where(jnp.asarray(COST_PER_RESULT)[world.campaign], unit / world.constraint, world.constraint)


def sample_heuristic_params(
    key: chex.PRNGKey,
    params: EnvParams,
    world: World,
    day: chex.Array,
    alpha_spread: float = 0.25,
    noise: float = 0.05,
    spread: BehaviourSpread = BehaviourSpread(),
) -> HeuristicParams:
    """Draws heuristic parameters for every advertiser on `day`.

    The kinds follow `params.competitor_mix` in a random order; α = exp(N(0, alpha_spread²)) so
    `alpha_spread` is the quality spread (0: every advertiser bids its value estimate). With
    `spread.kind == "auto_bidder"` all but `spread.naive_share` of the advertisers (a random
    subset, drawn from a key folded out of `key`, so the other draws are those of "heuristic")
    become auto-bidders with the declared spread of gains and aims.
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
    aim = target_roi(params, world)
    k_c = jnp.zeros((n,))
    if spread.kind == "auto_bidder":
        k_kind, k_gain, k_aim = jax.random.split(jax.random.fold_in(key, 1), 3)
        naive = jax.random.permutation(k_kind, jnp.arange(n)) < round(spread.naive_share * n)
        kinds = jnp.where(naive, kinds, AUTO_BIDDER)
        k_c = jax.random.uniform(k_gain, (n,), minval=spread.constraint_gain[0], maxval=spread.constraint_gain[1])
        aim = aim * jnp.exp(spread.aim_margin + spread.aim_sd * jax.random.normal(k_aim, (n,)))
    return HeuristicParams(
        kind=kinds, alpha=alpha, gain=gain, gamma=gamma, noise=sigma, competition=comp,
        aim_roi=aim.astype(jnp.float32), unit=jnp.asarray(params.unit_value, jnp.float32)[world.campaign],
        constraint_gain=k_c.astype(jnp.float32), prior_spend=(spread.prior_spend * world.budget).astype(jnp.float32),
        integral_limit=jnp.full((n,), spread.integral_limit, jnp.float32),
    )


def init_heuristic(hp: HeuristicParams) -> HeuristicState:
    zeros = jnp.zeros_like(hp.alpha)
    return HeuristicState(params=hp, integral=zeros, value=zeros, cost=zeros, spent=zeros, roi_integral=zeros)


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
    naive = jnp.select([hp.kind == 0, hp.kind == 1], [pid, hp.alpha], greedy)

    spent = obs.requirement[:, env_lib.REQUIREMENT_BUDGET] - obs.remaining_budget
    won = jnp.take_along_axis(obs.last_expected_reward, obs.campaign[:, None], axis=1)[:, 0]
    value = ROI_MEMORY * state.value + won
    cost = ROI_MEMORY * state.cost + (spent - state.spent)
    roi = (value * hp.unit + hp.aim_roi * hp.prior_spend) / (cost + hp.prior_spend)
    roi_integral = jnp.clip(state.roi_integral + hp.constraint_gain * jnp.log(roi / hp.aim_roi),
                            -hp.integral_limit, hp.integral_limit)
    auto = jnp.minimum(pid * hp.competition, jnp.exp(roi_integral) / hp.aim_roi)

    a = jnp.where(hp.kind == AUTO_BIDDER, auto, naive * hp.competition)
    a = a * jnp.exp(hp.noise * jax.random.normal(key, a.shape))
    return a, state.replace(integral=integral, value=value, cost=cost, spent=spent, roi_integral=roi_integral)
